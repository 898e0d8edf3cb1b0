// Podryad — small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Phone menu.
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-toggle-nav]");
    if (!t) return;
    var nav = document.getElementById("sidenav");
    if (!nav) return;
    var open = nav.classList.toggle("open");
    t.setAttribute("aria-expanded", open ? "true" : "false");
  });
  // The bell: its unread count follows the server's events, without reload.
  var bell = document.querySelector("[data-bell-count]");
  if (bell && window.EventSource) {
    var events = new EventSource("/notifications/stream");
    events.addEventListener("unread", function (e) {
      var n = parseInt(e.data, 10);
      if (isNaN(n)) return;
      bell.textContent = String(n);
      bell.hidden = n <= 0;
    });
  }
  // Ask before destructive actions marked with data-confirm.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute && f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
})();
