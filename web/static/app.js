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
  // Address suggestions: an input marked data-address-suggest gets a
  // listbox of addresses while typing (arrows, Enter, Escape, a tap);
  // picking one fills the hidden or staff coordinate inputs next to it
  // (#<id>-lat, #<id>-lon). Typing again clears them, so stale coordinates
  // never travel with another address.
  var seq = 0;
  document.querySelectorAll("input[data-address-suggest]").forEach(function (input) {
    var url = input.getAttribute("data-address-suggest");
    var lat = document.getElementById(input.id + "-lat");
    var lon = document.getElementById(input.id + "-lon");
    var list = document.createElement("ul");
    var listId = input.id + "-suggestions";
    var items = [];
    var active = -1;
    var timer = null;
    list.id = listId;
    list.className = "address-suggestions";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.insertAdjacentElement("afterend", list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    function close() {
      list.hidden = true;
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function mark(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, n) {
        li.setAttribute("aria-selected", n === i ? "true" : "false");
      });
      if (i >= 0) {
        input.setAttribute("aria-activedescendant", listId + "-" + i);
        list.children[i].scrollIntoView({ block: "nearest" });
      }
    }
    function pick(i) {
      var s = items[i];
      if (!s) return;
      input.value = s.value;
      if (lat && lon && s.lat !== null && s.lon !== null) {
        lat.value = String(s.lat);
        lon.value = String(s.lon);
      }
      close();
    }
    function show(found) {
      items = found;
      list.textContent = "";
      found.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = s.value;
        li.addEventListener("mousedown", function (e) {
          e.preventDefault();
          pick(i);
        });
        list.appendChild(li);
      });
      active = -1;
      list.hidden = found.length === 0;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
    }
    input.addEventListener("input", function () {
      if (lat) lat.value = "";
      if (lon) lon.value = "";
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 3) return close();
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(url + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (body) { if (mine === seq && document.activeElement === input) show(body.suggestions || []); })
          .catch(function () { close(); });
      }, 250);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") {
        e.preventDefault();
        mark((active + 1) % items.length);
      } else if (e.key === "ArrowUp") {
        e.preventDefault();
        mark(active <= 0 ? items.length - 1 : active - 1);
      } else if (e.key === "Enter" && active >= 0) {
        e.preventDefault();
        pick(active);
      } else if (e.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", close);
  });
})();
