// The readers' pages: short polls, never a request held open.
// - the job page asks for its enrolment's state every second until it ends;
// - the list asks for the readers' live state every five seconds.
(function () {
  "use strict";
  function get(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }
  var job = document.getElementById("enrol-job");
  if (job) {
    var box = document.getElementById("job-progress");
    var tick = function () {
      get(job.dataset.stateUrl).then(function (s) {
        box.className = "job-progress " + s.state;
        document.getElementById("job-state").textContent = s.state_text;
        document.getElementById("job-text").textContent = s.text;
        document.getElementById("job-detail").textContent = s.detail || "";
        if (s.final) {
          var cancel = document.getElementById("cancel-job");
          if (cancel) { cancel.remove(); }
          return;
        }
        setTimeout(tick, 1000);
      }).catch(function () { setTimeout(tick, 3000); });
    };
    setTimeout(tick, 1000);
  }
  var list = document.getElementById("device-list");
  if (list && list.dataset.statusUrl) {
    var refresh = function () {
      get(list.dataset.statusUrl).then(function (data) {
        data.devices.forEach(function (d) {
          var row = list.querySelector('tr[data-id="' + d.id + '"]');
          if (!row) { return; }
          var state = row.querySelector(".state .tag");
          if (state) {
            state.className = "tag " + (d.alive ? "good" : (d.state === "error" ? "bad" : "warn"));
            state.textContent = d.alive ? list.dataset.online : (d.state === "error" ? list.dataset.fault : list.dataset.offline);
          }
          row.querySelector(".seen").textContent = d.last_seen || "—";
          row.querySelector(".punches").textContent = d.punches_today;
          row.querySelector(".unrecognised").textContent = d.unrecognised;
          row.querySelector(".backlog").textContent = d.backlog;
        });
      }).catch(function () {}).then(function () { setTimeout(refresh, 5000); });
    };
    setTimeout(refresh, 5000);
  }
}());
