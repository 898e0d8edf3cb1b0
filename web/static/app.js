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
// The pipeline board: drag a card onto a column; the card's own form (a
// select and a button, which work without this) is submitted with that
// column, and the server moves it or says why not on the card.
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board) return;
  var dragged = null;
  board.addEventListener("dragstart", function (e) {
    var card = e.target.closest && e.target.closest("[data-card]");
    if (!card) return;
    dragged = card;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.getAttribute("data-card"));
  });
  board.addEventListener("dragend", function () {
    dragged = null;
    board.querySelectorAll(".drop-ok, .drop-no").forEach(function (c) {
      c.classList.remove("drop-ok", "drop-no");
    });
  });
  board.addEventListener("dragover", function (e) {
    var col = e.target.closest && e.target.closest("[data-column]");
    if (!col || !dragged) return;
    e.preventDefault();
    var moves = (dragged.getAttribute("data-moves") || "").split(" ");
    var ok = moves.indexOf(col.getAttribute("data-column")) >= 0;
    col.classList.toggle("drop-ok", ok);
    col.classList.toggle("drop-no", !ok);
  });
  board.addEventListener("dragleave", function (e) {
    var col = e.target.closest && e.target.closest("[data-column]");
    if (col && !col.contains(e.relatedTarget)) col.classList.remove("drop-ok", "drop-no");
  });
  board.addEventListener("drop", function (e) {
    var col = e.target.closest && e.target.closest("[data-column]");
    if (!col || !dragged) return;
    e.preventDefault();
    var to = col.getAttribute("data-column");
    if (dragged.closest("[data-column]") === col) return;
    var form = dragged.querySelector("form.board-move");
    if (!form) return;
    var field = form.querySelector("[name=to]");
    if (field.tagName === "SELECT") {
      var known = Array.prototype.some.call(field.options, function (o) { return o.value === to; });
      if (!known) {
        // Not a move this card has: the server answers why.
        var opt = document.createElement("option");
        opt.value = to;
        field.appendChild(opt);
      }
    }
    field.value = to;
    var reason = form.querySelector("[name=reason]");
    if (reason && !reason.value && to === "cancelled") {
      var typed = window.prompt(reason.getAttribute("placeholder") || "");
      if (typed === null) return;
      reason.value = typed;
    }
    form.submit();
  });
})();
// Bulk actions: "select all" ticks every line of its list.
document.addEventListener("change", function (e) {
  var all = e.target.closest && e.target.closest("[data-bulk-all]");
  if (!all) return;
  var form = all.form;
  if (!form) return;
  // The form's own elements: the boxes may sit outside it (form="…").
  Array.prototype.forEach.call(form.elements, function (b) {
    if (b.name === "ids") b.checked = all.checked;
  });
});
