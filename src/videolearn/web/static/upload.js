// The upload page: send files one after the other (with upload progress; chosen, or
// dropped on the page), or name a folder to index, then follow each index job through
// server-sent events until it is done.
(function () {
  "use strict";
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("file");
  const stage = document.getElementById("stage");
  const bar = document.getElementById("bar");
  const results = document.getElementById("results");
  const folderForm = document.getElementById("index-folder");
  const buttons = Array.from(document.querySelectorAll("#upload button, #index-folder button"));

  function say(text) { stage.textContent = text; }
  function busy(yes) { buttons.forEach(function (b) { b.disabled = yes; }); }

  // Each job's results, shown together, in the order the jobs ran.
  const shown = new Map();
  function showResults(job) {
    shown.set(job.id, job.results);
    results.replaceChildren();
    for (const found of shown.values()) {
      for (const r of found) {
        const li = document.createElement("li");
        const name = r.path.split("/").pop();
        if (r.status === "failed") {
          li.textContent = name + ": failed, " + r.reason;
          li.className = "problem";
        } else {
          const a = document.createElement("a");
          a.href = "/videos/" + r.video_id;
          a.textContent = name;
          li.append(a, " " + r.status);
        }
        results.append(li);
      }
    }
  }

  function follow(jobId, then) {
    const source = new EventSource("/api/v1/jobs/" + jobId + "/events");
    function update(event) {
      const job = JSON.parse(event.data);
      if (job.state === "queued") say("Waiting for the job before it…");
      else if (job.state === "running" && job.after_run) {
        const after = job.after_run;
        say(after.what[0].toUpperCase() + after.what.slice(1) + ": " + after.done.toLocaleString() + " of " + after.total.toLocaleString() + " videos");
        bar.value = after.total ? after.done / after.total : 0;
      } else if (job.state === "running") {
        const name = (job.current || "").split("/").pop();
        const files = job.files_total > 1 ? " (file " + Math.min(job.files_done + 1, job.files_total) + " of " + job.files_total + ")" : "";
        say("Indexing " + name + files + (job.duration_s ? ": " + Math.round(job.reached_s) + " of " + Math.round(job.duration_s) + " s" : "…"));
        bar.value = job.duration_s ? job.reached_s / job.duration_s : 0;
      }
      showResults(job);
      if (event.type === "done") {
        source.close();
        bar.value = 1;
        then(job.state === "failed" ? "The job failed: " + job.error : "");
      }
    }
    source.addEventListener("progress", update);
    source.addEventListener("done", update);
    source.onerror = function () { if (source.readyState === EventSource.CLOSED) return; };
  }

  function start() {
    document.getElementById("progress").hidden = false;
    busy(true);
  }
  function finish(problem) {
    say(problem || "Done.");
    busy(false);
  }

  // The files in turn: each uploaded, then indexed, before the next.
  function uploadAll(files) {
    const queue = Array.from(files);
    if (!queue.length) return;
    start();
    const count = queue.length;
    function next(problem) {
      if (problem || !queue.length) { finish(problem); return; }
      const file = queue.shift();
      const which = count > 1 ? " (" + (count - queue.length) + " of " + count + ")" : "";
      say("Uploading " + file.name + which + "…");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/uploads?name=" + encodeURIComponent(file.name));
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
      xhr.onload = function () {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: xhr.statusText }; }
        if (xhr.status !== 201) {
          next(file.name + " was refused: " + (body.error || xhr.status));
          return;
        }
        bar.value = 0;
        say("Uploaded " + file.name + "; indexing…");
        follow(body.job.id, next);
      };
      xhr.onerror = function () { next(file.name + " did not reach the server."); };
      xhr.send(file);
    }
    next("");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    results.replaceChildren();
    shown.clear();
    uploadAll(input.files);
  });

  // Files dropped anywhere on the page are uploaded as chosen ones are.
  document.addEventListener("dragover", function (event) {
    event.preventDefault();
    form.classList.add("dropping");
  });
  document.addEventListener("dragleave", function (event) {
    if (!event.relatedTarget) form.classList.remove("dropping");
  });
  document.addEventListener("drop", function (event) {
    event.preventDefault();
    form.classList.remove("dropping");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      results.replaceChildren();
      shown.clear();
      uploadAll(event.dataTransfer.files);
    }
  });

  if (folderForm) {
    folderForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const folder = document.getElementById("folder").value.trim();
      if (!folder) return;
      start();
      say("Starting to index " + folder + "…");
      fetch("/api/v1/jobs", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ paths: [folder] }),
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (answer) {
        if (!answer.ok) { finish("The folder was refused: " + (answer.body.error || "")); return; }
        follow(answer.body.id, finish);
      }, function () { finish("The request did not reach the server."); });
    });
  }
})();
