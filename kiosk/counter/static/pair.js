// Pairing a pad from the QR code: the key is in the URL fragment (#key=...), which is
// never sent to the server. Take it, wipe it from the address bar and the history, and
// sign in through the key form, as typing the key would.
(function () {
  "use strict";
  var match = /(?:^#|&)key=([^&]+)/.exec(window.location.hash || "");
  if (!match) { return; }
  var key = decodeURIComponent(match[1]);
  try { history.replaceState(null, "", window.location.pathname); } catch (e) { window.location.hash = ""; }
  var T = JSON.parse(document.getElementById("pair-i18n").textContent);
  document.getElementById("pair-status").textContent = T.pairing;
  document.getElementById("pair-key").value = key;
  document.getElementById("pair-form").submit();
}());
