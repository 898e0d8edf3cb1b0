// Podryad — zoom and pan for the workflow diagram (server-rendered SVG).
// Without this script the diagram shows at its natural size and scrolls.
(function () {
  "use strict";
  document.querySelectorAll("[data-diagram]").forEach(function (box) {
    var svg = box.querySelector("svg.workflow-diagram");
    if (!svg) return;
    var base = svg.getAttribute("viewBox").split(/\s+/).map(Number);
    var full = { x: base[0], y: base[1], w: base[2], h: base[3] };
    var view = { x: full.x, y: full.y, w: full.w, h: full.h };
    box.classList.add("zoomable");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");

    function apply() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
    }
    // Scale the view by `f` around a point given in SVG units.
    function zoom(f, cx, cy) {
      var w = Math.min(Math.max(view.w * f, full.w / 12), full.w * 3);
      var k = w / view.w;
      view.x = cx - (cx - view.x) * k;
      view.y = cy - (cy - view.y) * k;
      view.w = w;
      view.h = view.h * k;
      apply();
    }
    function centre() {
      return [view.x + view.w / 2, view.y + view.h / 2];
    }
    // A point of the page in SVG units.
    function point(e) {
      var r = svg.getBoundingClientRect();
      var s = Math.max(view.w / r.width, view.h / r.height);
      var ox = (r.width * s - view.w) / 2;
      var oy = (r.height * s - view.h) / 2;
      return [view.x - ox + (e.clientX - r.left) * s, view.y - oy + (e.clientY - r.top) * s, s];
    }
    function fit() {
      view = { x: full.x, y: full.y, w: full.w, h: full.h };
      apply();
    }

    box.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        var c = centre();
        var how = b.getAttribute("data-zoom");
        if (how === "in") zoom(1 / 1.25, c[0], c[1]);
        else if (how === "out") zoom(1.25, c[0], c[1]);
        else fit();
      });
    });
    svg.addEventListener("wheel", function (e) {
      e.preventDefault();
      var p = point(e);
      zoom(e.deltaY < 0 ? 1 / 1.15 : 1.15, p[0], p[1]);
    }, { passive: false });

    var drag = null;
    svg.addEventListener("pointerdown", function (e) {
      drag = { at: point(e), id: e.pointerId };
      svg.setPointerCapture(e.pointerId);
      box.classList.add("dragging");
    });
    svg.addEventListener("pointermove", function (e) {
      if (!drag || drag.id !== e.pointerId) return;
      var p = point(e);
      view.x -= p[0] - drag.at[0];
      view.y -= p[1] - drag.at[1];
      apply();
    });
    function end(e) {
      if (!drag || drag.id !== e.pointerId) return;
      drag = null;
      box.classList.remove("dragging");
    }
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    fit();
  });
})();
