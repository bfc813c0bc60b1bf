/* The open-alert count of the top bar, refreshed by short polling (SPEC 12).
   One small GET every few seconds; nothing is held open on the server. */
(function () {
  "use strict";
  var badge = document.getElementById("alert-count");
  if (!badge || !window.fetch) { return; }
  var number = badge.querySelector(".n");
  var url = badge.getAttribute("data-poll");
  var seconds = parseInt(badge.getAttribute("data-seconds"), 10) || 5;
  var title = document.title;
  function show(count) {
    number.textContent = String(count);
    badge.classList.toggle("has-alerts", count > 0);
    document.title = (count > 0 ? "(" + count + ") " : "") + title;
  }
  function poll() {
    fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) { show(data.count); window.setTimeout(poll, seconds * 1000); })
      .catch(function () { window.setTimeout(poll, seconds * 4000); });
  }
  show(parseInt(number.textContent, 10) || 0);
  window.setTimeout(poll, seconds * 1000);
})();
