// The video page: start at ?t=, follow the transcript, seek from lines and timeline marks,
// show the shot's thumbnail while the pointer moves over the timeline, play a version
// transcoded for this browser when it cannot decode the file, and say so when none plays.
(function () {
  "use strict";
  // Forgetting the video, once the dialog that says what goes is answered.
  const forget = document.getElementById("forget");
  const dialog = document.getElementById("forget-dialog");
  if (forget && dialog) {
    forget.addEventListener("click", function () { dialog.showModal(); });
    document.getElementById("forget-yes").addEventListener("click", function (event) {
      const videoId = event.target.dataset.video;
      fetch("/api/v1/videos/" + videoId, { method: "DELETE" }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (answer) {
        if (answer.ok) {
          // The name the page shows: its title (as set in place) or its file's name.
          const shown = document.getElementById("video-name").textContent.trim();
          window.location.assign("/?forgotten=" + encodeURIComponent(shown || answer.body.path.split("/").pop()));
          return;
        }
        const problem = document.getElementById("forget-problem");
        problem.textContent = "It was not forgotten: " + (answer.body.error || "the server said no") + ".";
        problem.hidden = false;
      }, function () {
        const problem = document.getElementById("forget-problem");
        problem.textContent = "The server could not be reached; nothing was forgotten.";
        problem.hidden = false;
      });
    });
  }

  // The title a person gives the video: saved through the API, shown at once.
  const rename = document.getElementById("rename");
  const titleForm = document.getElementById("title-form");
  if (rename && titleForm) {
    const input = document.getElementById("title-input");
    const titleProblem = document.getElementById("title-problem");
    function showForm(open) {
      titleForm.hidden = !open;
      rename.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) input.focus();
    }
    rename.addEventListener("click", function () { showForm(titleForm.hidden); });
    document.getElementById("title-cancel").addEventListener("click", function () { showForm(false); });
    titleForm.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch("/api/v1/videos/" + titleForm.dataset.video + "/title", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ title: input.value }),
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (answer) {
        if (!answer.ok) {
          titleProblem.textContent = "The title was not saved: " + (answer.body.error || "the server said no") + ".";
          titleProblem.hidden = false;
          return;
        }
        const named = answer.body.title;
        const shown = named || titleForm.dataset.file;
        document.getElementById("video-name").textContent = shown;
        document.getElementById("file-name").hidden = !named;
        document.title = shown + " - videolearn";
        input.value = named || "";
        rename.textContent = named ? "Change the title…" : "Give it a title…";
        titleProblem.hidden = true;
        showForm(false);
      }, function () {
        titleProblem.textContent = "The server could not be reached; the title was not saved.";
        titleProblem.hidden = false;
      });
    });
  }

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

  // Whether the person has asked to play: a version swapped in goes on playing.
  let wanted = false;
  player.addEventListener("play", function () { wanted = true; });

  // A version made for browsers may still be in the making: ask until it is ready.
  function whenReady(status, src, note) {
    fetch(status).then(function (r) { return r.json(); }).then(function (s) {
      if (s.state === "ready") {
        if (note) note.hidden = true;
        player.src = src;
        if (wanted) player.play().catch(function () {});  // it was playing when it failed
      } else if (s.state === "failed") {
        if (note) note.hidden = true;
        document.getElementById("unplayable-why").textContent =
          "No version for browsers could be made: " + s.error + ".";
        unplayable();
      } else {
        setTimeout(function () { whenReady(status, src, note); }, 1000);
      }
    });
  }

  // This browser could not decode the file as it is (or as remuxed): once, ask for a
  // version transcoded to H.264 and AAC, which every browser plays.
  let transcoding = false;
  function transcoded() {
    if (transcoding) { unplayable(); return; }
    transcoding = true;
    document.getElementById("transcoding").hidden = false;
    const madeNote = document.getElementById("made-for-browsers");
    if (madeNote) madeNote.hidden = true;
    player.removeAttribute("src");
    const src = player.dataset.src.replace("/playable#", "/playable?transcode=true#");
    whenReady(player.dataset.status + "?transcode=true", src, document.getElementById("transcoding-wait"));
  }
  if (box.dataset.type && player.canPlayType(box.dataset.type) === "") transcoded();
  player.addEventListener("error", function () { if (player.getAttribute("src")) transcoded(); });
  if (!player.getAttribute("src") && !transcoding) {
    whenReady(player.dataset.status, player.dataset.src, document.getElementById("preparing"));
  }

  function seek(seconds) {
    player.currentTime = seconds;
    player.focus();
  }

  // The address of the moment the player is at: kept in the address bar as playback
  // pauses or seeks, and copied by the button.
  function momentUrl() {
    const url = new URL(window.location.href);
    url.searchParams.set("t", player.currentTime.toFixed(1));
    url.hash = "";
    return url.toString();
  }
  function keepPlace() { history.replaceState(null, "", momentUrl()); }
  player.addEventListener("pause", keepPlace);
  player.addEventListener("seeked", keepPlace);
  const copyButton = document.getElementById("copy-link");
  if (copyButton) {
    copyButton.addEventListener("click", function () {
      const link = momentUrl();
      const shown = document.getElementById("moment-link");
      function showIt() {  // no clipboard here (a page over plain HTTP beyond loopback)
        shown.value = link;
        shown.hidden = false;
        shown.select();
      }
      if (navigator.clipboard) {
        navigator.clipboard.writeText(link).then(function () {
          copyButton.textContent = "Link copied";
          setTimeout(function () { copyButton.textContent = "Copy a link to this moment"; }, 2000);
        }, showIt);
      } else {
        showIt();
      }
    });
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
