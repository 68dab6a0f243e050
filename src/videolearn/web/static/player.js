// The video page: start at ?t=, follow the transcript, seek from lines and timeline marks,
// show the shot's thumbnail while the pointer moves over the timeline, and say so when
// this browser cannot play the file.
(function () {
  "use strict";
  const box = document.getElementById("player-box");
  const player = document.getElementById("player");
  if (!box || !player) return;
  const duration = parseFloat(box.dataset.duration) || 0;
  const start = parseFloat(box.dataset.start) || 0;
  const videoId = box.dataset.video;
  const lines = Array.from(document.querySelectorAll("#transcript .line"));

  function unplayable() {
    player.hidden = true;
    document.getElementById("unplayable").hidden = false;
  }
  if (box.dataset.type && player.canPlayType(box.dataset.type) === "") unplayable();
  player.addEventListener("error", unplayable);

  // A version made for browsers may still be in the making: ask until it is ready.
  function whenReady() {
    fetch(player.dataset.status).then(function (r) { return r.json(); }).then(function (s) {
      if (s.state === "ready") {
        const note = document.getElementById("preparing");
        if (note) note.hidden = true;
        player.src = player.dataset.src;
      } else if (s.state === "failed") {
        const shown = document.getElementById("unplayable");
        shown.textContent = "No version for browsers could be made: " + s.error;
        unplayable();
      } else {
        setTimeout(whenReady, 1000);
      }
    });
  }
  if (!player.getAttribute("src")) whenReady();

  function seek(seconds) {
    player.currentTime = seconds;
    player.focus();
  }
  player.addEventListener("loadedmetadata", function () {
    if (start > 0 && Math.abs(player.currentTime - start) > 0.05) player.currentTime = start;
  });

  document.querySelectorAll("[data-start]").forEach(function (el) {
    if (el.tagName !== "BUTTON") return;
    el.addEventListener("click", function () { seek(parseFloat(el.dataset.start)); });
  });

  let current = null;
  player.addEventListener("timeupdate", function () {
    const t = player.currentTime;
    let now = null;
    for (const line of lines) {
      if (parseFloat(line.dataset.start) <= t + 0.05 && t < parseFloat(line.dataset.end)) now = line;
    }
    if (now === current) return;
    if (current) current.classList.remove("now");
    if (now) {
      now.classList.add("now");
      now.setAttribute("aria-current", "true");
      now.scrollIntoView({ block: "nearest" });
    }
    if (current) current.removeAttribute("aria-current");
    current = now;
  });

  const timeline = document.getElementById("timeline");
  const preview = document.getElementById("preview");
  if (timeline && preview && duration > 0 && box.dataset.pictures === "1") {
    timeline.addEventListener("mousemove", function (event) {
      const rect = timeline.getBoundingClientRect();
      const share = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1);
      const at = (share * duration).toFixed(1);
      const src = "/api/v1/videos/" + videoId + "/thumbnail.jpg?t=" + at;
      if (preview.getAttribute("src") !== src) preview.setAttribute("src", src);
      preview.style.left = Math.min(share * rect.width, rect.width - 160) + "px";
      preview.hidden = false;
    });
    timeline.addEventListener("mouseleave", function () { preview.hidden = true; });
  }
  if (timeline && duration > 0) {
    timeline.addEventListener("click", function (event) {
      if (event.target !== timeline) return;
      const rect = timeline.getBoundingClientRect();
      seek(((event.clientX - rect.left) / rect.width) * duration);
    });
  }
})();
