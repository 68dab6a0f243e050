// The review page: accept or reject a kept verdict where it is shown, with a note (and,
// for an accepted one, a bank to add its file to); the item then says what was decided.
(function () {
  "use strict";
  document.querySelectorAll("form.decide").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const button = event.submitter;
      const decision = button ? button.value : "";
      if (!decision) return;
      const item = form.closest(".item");
      const problem = form.querySelector(".problem");
      const body = { decision: decision, note: form.elements.note.value };
      if (decision === "accept" && form.elements.bank && form.elements.bank.value) {
        body.bank = form.elements.bank.value;
      }
      const buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      problem.hidden = true;
      fetch("/api/v1/review/" + form.dataset.item, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).then(function (r) {
        return r.json().then(function (answer) { return { ok: r.ok, answer: answer }; });
      }).then(function (result) {
        if (!result.ok) {
          problem.textContent = "Not decided: " + (result.answer.error || "the server said no") + ".";
          problem.hidden = false;
          buttons.forEach(function (b) { b.disabled = false; });
          return;
        }
        const decided = item.querySelector(".decided");
        const done = result.answer;
        decided.textContent = (done.status === "accepted" ? "Accepted" : "Rejected") + " by " +
          (done.decided_by || "you") + " just now" + (done.note ? ": \u201c" + done.note + "\u201d" : "") +
          (body.bank ? "; its file added to " + body.bank : "") + ".";
        decided.hidden = false;
        item.classList.add("done", done.status);
        form.remove();
      }, function () {
        problem.textContent = "The server could not be reached; nothing was decided.";
        problem.hidden = false;
        buttons.forEach(function (b) { b.disabled = false; });
      });
    });
  });
})();
