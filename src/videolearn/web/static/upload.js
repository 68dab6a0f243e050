// The upload page: send the file (with upload progress), then follow its index job
// through server-sent events until it is done.
(function () {
  "use strict";
  const form = document.getElementById("upload");
  if (!form) return;
  const stage = document.getElementById("stage");
  const bar = document.getElementById("bar");
  const results = document.getElementById("results");

  function say(text) { stage.textContent = text; }

  function showResults(job) {
    results.replaceChildren();
    for (const r of job.results) {
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

  function follow(jobId) {
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
        say("Indexing " + name + (job.duration_s ? " (" + Math.round(job.reached_s) + " of " + Math.round(job.duration_s) + " s)" : "…"));
        bar.value = job.duration_s ? job.reached_s / job.duration_s : 0;
      }
      showResults(job);
      if (event.type === "done") {
        source.close();
        bar.value = 1;
        say(job.state === "failed" ? "The job failed: " + job.error : "Done.");
        form.querySelector("button").disabled = false;
      }
    }
    source.addEventListener("progress", update);
    source.addEventListener("done", update);
    source.onerror = function () { if (source.readyState === EventSource.CLOSED) return; };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const file = document.getElementById("file").files[0];
    if (!file) return;
    document.getElementById("progress").hidden = false;
    form.querySelector("button").disabled = true;
    results.replaceChildren();
    say("Uploading " + file.name + "…");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/uploads?name=" + encodeURIComponent(file.name));
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    xhr.onload = function () {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: xhr.statusText }; }
      if (xhr.status !== 201) {
        say("The upload was refused: " + (body.error || xhr.status));
        form.querySelector("button").disabled = false;
        return;
      }
      bar.value = 0;
      say("Uploaded; indexing…");
      follow(body.job.id);
    };
    xhr.onerror = function () {
      say("The upload did not reach the server.");
      form.querySelector("button").disabled = false;
    };
    xhr.send(file);
  });
})();
