// Podryad — the progress bar of a spreadsheet import. Without JavaScript the
// page refreshes itself (a <noscript> meta refresh) and has a reload link;
// with it, a small JSON endpoint is polled and the bar moves in place. When
// the check ends the page reloads to show the preview or the error.
(function () {
  "use strict";
  var box = document.querySelector("[data-import-progress]");
  if (!box) return;
  var url = box.getAttribute("data-import-progress");
  var template = box.getAttribute("data-progress-template") || "";
  var bar = box.querySelector("[data-progress-bar]");
  var text = box.querySelector("[data-progress-text]");
  var failures = 0;

  function show(p) {
    if (bar) {
      bar.max = p.total_rows > 0 ? p.total_rows : 1;
      bar.value = p.processed_rows;
      bar.textContent = p.percent + "%";
    }
    if (text && template) {
      text.textContent = template
        .replace("{done}", String(p.processed_rows))
        .replace("{total}", String(p.total_rows));
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (p) {
        failures = 0;
        show(p);
        if (p.running) {
          window.setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () {
        // A hiccup: try again a little later, then fall back to a reload.
        failures += 1;
        if (failures > 5) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      });
  }

  window.setTimeout(poll, 500);
})();
