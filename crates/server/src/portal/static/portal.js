// aisc portal: the only script. Pages work without it; it makes a running
// job's log follow live and keeps the job's state current.
"use strict";

function followLog(pre) {
  let offset = Number(pre.dataset.offset || 0);
  let stateEl = document.querySelector("[data-job-state]");
  let firstState = stateEl ? stateEl.dataset.jobState : "";
  let stopped = pre.dataset.complete === "true";
  async function tick() {
    if (stopped) return;
    try {
      const res = await fetch(pre.dataset.log + "?offset=" + offset, { credentials: "same-origin" });
      if (!res.ok) { stopped = true; return; }
      const text = await res.text();
      if (text.length > 0) {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(text);
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
      offset = Number(res.headers.get("x-aisc-next-offset") || offset);
      const state = res.headers.get("x-aisc-job-state");
      if (state && stateEl && state !== stateEl.dataset.jobState) {
        stateEl.dataset.jobState = state;
        stateEl.textContent = state;
      }
      if (res.headers.get("x-aisc-log-complete") === "true") {
        stopped = true;
        // The job ended while the page was open: show its final timeline and cost.
        if (state && state !== firstState) window.location.reload();
        return;
      }
    } catch (e) {
      // The server may be restarting: try again.
    }
    setTimeout(tick, 1000);
  }
  setTimeout(tick, 500);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("pre[data-log]").forEach(followLog);
});
