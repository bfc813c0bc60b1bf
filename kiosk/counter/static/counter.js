// Counter touch screen: idle 亮牌 -> open a session -> citizen rates -> thanks -> idle.
// Talks to the terminal API with the page's signed-in session; survives network loss by
// retrying with back-off and showing a banner until the server answers again.
(function () {
  "use strict";

  var app = document.getElementById("app");
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var badLevels = app.dataset.badLevels.split(",").map(Number);
  var offline = document.getElementById("offline");
  var csrf = app.dataset.csrf;
  var current = null;      // the open session: {session_id, token, staff_name}
  var chosenLevel = null;
  var busy = false;
  var timers = {};
  var staffByNo = {};

  var IDLE_REFRESH_MS = 30000;
  var SESSION_POLL_MS = 3000;
  var RATE_TIMEOUT_MS = 5 * 60 * 1000;
  var THANKS_MS = 4000;

  function $(id) { return document.getElementById(id); }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function setOnline(ok) { offline.hidden = ok; document.body.classList.toggle("is-offline", !ok); }

  function clearTimer(name) {
    if (timers[name]) { clearTimeout(timers[name]); clearInterval(timers[name]); delete timers[name]; }
  }

  function show(id) {
    var screens = app.querySelectorAll(".screen");
    for (var i = 0; i < screens.length; i++) { screens[i].hidden = screens[i].id !== id; }
    app.dataset.screen = id;
  }

  // fetch with a timeout; network failures, 5xx and 429 are retried up to `retries` times
  // (Infinity for a rating: a rating that reached the server answers 409 on the retry).
  async function call(method, url, body, retries) {
    var delay = 1000;
    for (var attempt = 0; ; attempt++) {
      try {
        var controller = new AbortController();
        var timeout = setTimeout(function () { controller.abort(); }, 10000);
        var resp = await fetch(url, {
          method: method,
          headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "same-origin",
          cache: "no-store",
          signal: controller.signal
        });
        clearTimeout(timeout);
        if (resp.status >= 500 || resp.status === 429) { throw new Error("HTTP " + resp.status); }
        setOnline(true);
        if (resp.status === 401) { window.location.reload(); return new Promise(function () {}); }
        var data = null;
        try { data = await resp.json(); } catch (e) { data = null; }
        return { status: resp.status, data: data };
      } catch (err) {
        setOnline(false);
        if (attempt >= retries) { throw err; }
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      }
    }
  }

  function avatar(person) {
    var box = document.createElement("div");
    box.className = "avatar";
    var text = document.createElement("span");
    text.textContent = person.initials;
    box.appendChild(text);
    if (person.photo) {
      var img = document.createElement("img");
      img.alt = person.name;
      img.src = person.photo;
      img.onerror = function () { img.remove(); };  // fall back to the initials
      box.appendChild(img);
    }
    return box;
  }

  function renderStaff(staff) {
    var cards = $("staff-cards");
    cards.textContent = "";
    staffByNo = {};
    staff.forEach(function (person) {
      staffByNo[person.staff_no] = person;
      var card = document.createElement("button");
      card.type = "button";
      card.className = "staff-card";
      card.dataset.staffNo = person.staff_no;
      card.appendChild(avatar(person));
      var name = document.createElement("div");
      name.className = "staff-name";
      name.textContent = person.name;
      var no = document.createElement("div");
      no.className = "staff-no";
      no.textContent = T.staff_no + " " + person.staff_no;
      var go = document.createElement("div");
      go.className = "staff-go";
      go.textContent = T.choose;
      card.appendChild(name);
      card.appendChild(no);
      card.appendChild(go);
      card.addEventListener("click", function () { startOpen(person.staff_no); });
      cards.appendChild(card);
    });
    $("no-staff").hidden = staff.length > 0;
  }

  async function refreshState() {
    clearTimer("refresh");
    try {
      var result = await call("GET", app.dataset.stateUrl, undefined, 0);
      if (result.status === 200) {
        csrf = result.data.csrf_token;
        $("window-name").textContent = result.data.window.name;
        renderStaff(result.data.staff);
      }
    } catch (err) {
      // the banner is showing; try again soon
    }
    timers.refresh = setTimeout(refreshState, offline.hidden ? IDLE_REFRESH_MS : 5000);
  }

  function goIdle() {
    current = null;
    chosenLevel = null;
    busy = false;
    clearTimer("poll");
    clearTimer("rateTimeout");
    clearTimer("thanks");
    show("idle");
  }

  function startOpen(staffNo) {
    $("staff-no").value = staffNo || "";
    $("case-no").value = "";
    $("open-error").hidden = true;
    show("open");
    (staffNo ? $("case-no") : $("staff-no")).focus();
  }

  async function openSession(event) {
    event.preventDefault();
    if (busy) { return; }
    var staffNo = $("staff-no").value.trim();
    var caseNo = $("case-no").value.trim();
    var error = $("open-error");
    if (!staffNo) { error.textContent = T.need_staff; error.hidden = false; return; }
    busy = true;
    try {
      var result = await call("POST", app.dataset.sessionsUrl, { staff_no: staffNo, case_no: caseNo || null }, 3);
      if (result.status === 201) {
        var person = staffByNo[staffNo] || await servingPerson(result.data.session_id);
        current = { session_id: result.data.session_id, token: result.data.token, staff_name: person ? person.name : staffNo, person: person };
        startRating();
      } else {
        error.textContent = (result.data && result.data.message) || T.failed;
        error.hidden = false;
      }
    } catch (err) {
      error.textContent = T.failed;
      error.hidden = false;
    } finally {
      busy = false;
    }
  }

  // A staff member of another window is not among the cards: ask who the session is for,
  // so the citizen reads a name, not a staff number.
  async function servingPerson(sessionId) {
    var url = app.dataset.sessionStateUrl.replace("__ID__", encodeURIComponent(sessionId));
    try {
      var result = await call("GET", url, undefined, 1);
      return result.status === 200 && result.data.staff ? result.data.staff : null;
    } catch (err) {
      return null;
    }
  }

  function showServing(person) {
    var box = $("serving-avatar");
    box.textContent = "";
    box.hidden = !person;
    if (person) {
      var face = avatar(person);
      while (face.firstChild) { box.appendChild(face.firstChild); }
    }
  }

  function loadQr() {
    if (!current) { return; }
    var img = $("qr-img");
    img.onerror = function () { setTimeout(loadQr, 3000); };
    img.src = app.dataset.qrUrl.replace("__ID__", encodeURIComponent(current.session_id)) + "?t=" + Date.now();
  }

  function startRating() {
    chosenLevel = null;
    $("serving-name").textContent = current.staff_name;
    showServing(current.person);
    resetReasons();
    show("rate");
    loadQr();
    clearTimer("poll");
    timers.poll = setInterval(pollSession, SESSION_POLL_MS);
    clearTimer("rateTimeout");
    timers.rateTimeout = setTimeout(goIdle, RATE_TIMEOUT_MS);
  }

  // The citizen may rate on the phone instead; then this screen thanks them too.
  async function pollSession() {
    if (!current || busy) { return; }
    var url = app.dataset.sessionStateUrl.replace("__ID__", encodeURIComponent(current.session_id));
    try {
      var result = await call("GET", url, undefined, 0);
      if (result.status !== 200 || !current) { return; }
      if (result.data.state === "rated") { thank(T.rated_elsewhere); }
      else if (result.data.state === "expired") { goIdle(); }
    } catch (err) {
      // offline: the banner shows, the next poll tries again
    }
  }

  function resetReasons() {
    var buttons = $("reason-grid").querySelectorAll(".reason");
    for (var i = 0; i < buttons.length; i++) { buttons[i].setAttribute("aria-pressed", "false"); }
    $("comment").value = "";
    $("rate-error").hidden = true;
  }

  function chosenReasons() {
    var chosen = [];
    var buttons = $("reason-grid").querySelectorAll('.reason[aria-pressed="true"]');
    for (var i = 0; i < buttons.length; i++) { chosen.push(buttons[i].dataset.reason); }
    return chosen;
  }

  function pickLevel(level) {
    if (!current || busy) { return; }
    chosenLevel = level;
    if (badLevels.indexOf(level) >= 0) {
      resetReasons();
      show("reasons");
    } else {
      submitRating([], null);
    }
  }

  async function submitRating(reasons, comment) {
    if (!current || busy) { return; }
    busy = true;
    app.classList.add("is-busy");
    var body = { token: current.token, level: chosenLevel, reasons: reasons };
    if (comment) { body.comment = comment; }
    try {
      var result = await call("POST", app.dataset.ratingsUrl, body, Infinity);
      if (result.status === 201 || result.status === 409) {
        thank("");
      } else if (result.status === 410 || result.status === 404) {
        thank(T.expired);
      } else {
        var error = $("rate-error");
        error.textContent = (result.data && result.data.message) || T.failed;
        error.hidden = false;
        if (badLevels.indexOf(chosenLevel) < 0) { show("reasons"); }
      }
    } finally {
      busy = false;
      app.classList.remove("is-busy");
    }
  }

  function thank(note) {
    current = null;
    clearTimer("poll");
    clearTimer("rateTimeout");
    $("thanks-note").textContent = note || $("thanks-note").dataset.default;
    show("thanks");
    timers.thanks = setTimeout(goIdle, THANKS_MS);
  }

  function bind() {
    $("thanks-note").dataset.default = $("thanks-note").textContent;
    $("other-staff").addEventListener("click", function () { startOpen(""); });
    $("open-form").addEventListener("submit", openSession);
    var levels = $("levels").querySelectorAll(".level");
    for (var i = 0; i < levels.length; i++) {
      levels[i].addEventListener("click", function (event) { pickLevel(Number(event.currentTarget.dataset.level)); });
    }
    var reasons = $("reason-grid").querySelectorAll(".reason");
    for (var j = 0; j < reasons.length; j++) {
      reasons[j].addEventListener("click", function (event) {
        var button = event.currentTarget;
        button.setAttribute("aria-pressed", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
        $("rate-error").hidden = true;
      });
    }
    $("submit-bad").addEventListener("click", function () {
      var chosen = chosenReasons();
      if (chosen.length === 0) {
        $("rate-error").textContent = T.need_reason;
        $("rate-error").hidden = false;
        return;
      }
      submitRating(chosen, $("comment").value.trim() || null);
    });
    app.addEventListener("click", function (event) {
      var action = event.target.dataset ? event.target.dataset.action : null;
      if (action === "idle") { goIdle(); }
      if (action === "back-to-levels") { show("rate"); }
    });
    window.addEventListener("offline", function () { setOnline(false); });
    window.addEventListener("online", function () { refreshState(); });
  }

  bind();
  goIdle();
  refreshState();
})();
