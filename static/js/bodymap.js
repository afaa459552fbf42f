// The body map (templates/intake/types/body_map.html, templates/treatment/_regions.html):
// front and back pictures whose regions answer the same form controls as the list beside
// them (a 0-10 select per region in the intake, a checkbox per region for a session's
// regions). Without this script the list is the control and the pictures only show it.
//
// On a phone the whole body is too small to tap a wrist, so the pictures zoom: a tap on the
// whole body (or a choice in "See a part of the body larger") shows that part alone, drawn
// large enough that its thinnest region is at least 44 px; there a tap marks the region.
(function () {
  "use strict";

  var MIN_TARGET = 46; // px: 44 and a little to spare for rounding
  var MAX_SCALE = 6;

  function makeButton(text, pressed) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button";
    b.textContent = text;
    if (pressed !== undefined) { b.setAttribute("aria-pressed", pressed ? "true" : "false"); }
    return b;
  }

  function setup(container) {
    var root = container.closest("[data-bodymap-root]") || container.parentNode;
    var form = container.closest("form");
    var picker = root.querySelector("[data-bodymap-picker]");
    var list = root.querySelector("[data-bodymap-list]");
    var marked = root.querySelector("[data-bodymap-marked] ul");
    var chooser = root.querySelector("[data-bodymap-zoom]");
    var wholeButton = root.querySelector("[data-zoom-out]");
    var checks = container.getAttribute("data-bodymap-mode") === "check";
    var qid = container.getAttribute("data-bodymap");
    var words = {
      none: container.getAttribute("data-label-none"),
      value: container.getAttribute("data-label-value"),
      ask: container.getAttribute("data-label-picker"),
      remove: container.getAttribute("data-label-remove"),
      done: container.getAttribute("data-label-done"),
      map: container.getAttribute("data-label-map"),
      on: container.getAttribute("data-label-on")
    };
    if (!form || (!checks && !picker)) { return; }
    container.setAttribute("data-interactive", "");
    var shapes = Array.prototype.slice.call(container.querySelectorAll(".bm-region"));

    function inputFor(shape) { return document.getElementById(shape.getAttribute("data-input")); }
    function labelFor(input) {
      var label = input && form.querySelector("label[for='" + input.id + "']");
      return label ? label.textContent.trim() : "";
    }
    function valueOf(input) {
      if (!input) { return ""; }
      if (checks) { return input.checked ? "on" : ""; }
      return input.value;
    }
    function refresh(shape) {
      var input = inputFor(shape);
      var v = valueOf(input);
      if (checks) {
        shape.classList.toggle("bm-on", v !== "");
      } else {
        for (var i = 0; i <= 10; i++) { shape.classList.remove("bm-i-" + i); }
        if (v !== "") { shape.classList.add("bm-i-" + v); }
        var num = container.querySelector("[data-num-for='" + shape.getAttribute("data-region") + "']");
        if (num) { num.textContent = v; }
      }
      if (shape.hasAttribute("role")) { describe(shape); }
    }
    // Only the regions of the part shown are buttons, named by their control's label.
    function describe(shape) {
      var input = inputFor(shape);
      var v = valueOf(input);
      if (checks) {
        shape.setAttribute("aria-pressed", v !== "" ? "true" : "false");
        shape.setAttribute("aria-label", labelFor(input));
      } else {
        shape.setAttribute("aria-label", labelFor(input) + ": " +
          (v === "" ? words.none : words.value.replace("{n}", v)));
      }
    }
    function summarise() {
      if (!marked) { return; }
      var items = [];
      shapes.forEach(function (shape) {
        var input = inputFor(shape);
        var v = valueOf(input);
        if (v !== "") {
          var li = document.createElement("li");
          li.textContent = labelFor(input) + (checks ? "" : ": " + words.value.replace("{n}", v));
          items.push(li);
        }
      });
      if (!items.length) {
        var none = document.createElement("li");
        none.textContent = marked.parentNode.getAttribute("data-label-nothing");
        items.push(none);
      }
      marked.replaceChildren.apply(marked, items);
    }
    function changed(input) {
      // Bubbles to the form: the intake autosaves; the list shows the same value.
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    // --- marking a region: a 0-10 picker, or a checkbox toggled ---------------------------
    function closePicker(shape) {
      if (!picker) { return; }
      picker.hidden = true;
      picker.replaceChildren();
      if (shape) {
        shape.classList.remove("bm-active");
        shape.focus();
      }
    }
    function choose(shape, input, value) {
      input.value = value;
      changed(input);
      refresh(shape);
      summarise();
      closePicker(shape);
    }
    function openPicker(shape) {
      var input = inputFor(shape);
      if (!input) { return; }
      shapes.forEach(function (s) { s.classList.remove("bm-active"); });
      shape.classList.add("bm-active");
      var title = document.createElement("p");
      title.className = "bodymap__picker-title";
      title.id = qid + "-picker-title";
      title.textContent = labelFor(input);
      var ask = document.createElement("p");
      ask.textContent = words.ask;
      var grid = document.createElement("div");
      grid.className = "bodymap__intensities";
      grid.setAttribute("role", "group");
      grid.setAttribute("aria-labelledby", title.id);
      for (var i = 0; i <= 10; i++) {
        var b = makeButton(String(i), input.value === String(i));
        b.setAttribute("data-value", String(i));
        grid.appendChild(b);
      }
      var row = document.createElement("div");
      row.className = "button-row";
      var remove = makeButton(words.remove, input.value === "");
      remove.setAttribute("data-value", "");
      var done = makeButton(words.done);
      done.setAttribute("data-close", "");
      row.append(remove, done);
      picker.replaceChildren(title, ask, grid, row);
      picker.hidden = false;
      picker.onclick = function (event) {
        var b = event.target.closest("button");
        if (!b) { return; }
        if (b.hasAttribute("data-close")) { closePicker(shape); return; }
        choose(shape, input, b.getAttribute("data-value"));
      };
      picker.onkeydown = function (event) {
        if (event.key === "Escape") { event.preventDefault(); closePicker(shape); }
      };
      (grid.querySelector("[aria-pressed='true']") || grid.firstChild).focus();
    }
    function mark(shape) {
      var input = inputFor(shape);
      if (!input) { return; }
      if (!checks) { openPicker(shape); return; }
      input.checked = !input.checked;
      changed(input);
      refresh(shape);
      summarise();
    }

    // --- zooming: the whole body, or one part of it drawn large ---------------------------
    function zoomTo(key) {
      closePicker(null);
      var zooming = !!key;
      container.classList.toggle("bodymap__figures--zoomed", zooming);
      if (wholeButton) { wholeButton.hidden = !zooming; }
      if (chooser) { chooser.value = key || ""; }
      container.querySelectorAll("svg").forEach(function (svg) {
        var figure = svg.closest("figure");
        var inView = zooming && key.indexOf(svg.getAttribute("data-view") + ".") === 0;
        figure.hidden = zooming && !inView;
        svg.style.width = "";
        svg.style.height = "";
        svg.setAttribute("viewBox", svg.getAttribute("data-viewbox"));
        if (inView) { fit(svg, key); }
        if (inView) {
          svg.removeAttribute("aria-hidden");
          svg.setAttribute("role", "group");
          svg.setAttribute("aria-label", words.map.replace("{view}", zoomLabel(key)));
        } else {
          svg.setAttribute("aria-hidden", "true");
          svg.removeAttribute("role");
          svg.removeAttribute("aria-label");
        }
      });
      shapes.forEach(function (shape) {
        var inZoom = zooming && shape.getAttribute("data-zoom") === key;
        shape.classList.toggle("bm-out", zooming && !inZoom);
        if (inZoom) {
          shape.setAttribute("role", "button");
          shape.setAttribute("tabindex", "0");
          shape.removeAttribute("aria-hidden");
          describe(shape);
        } else {
          ["role", "tabindex", "aria-label", "aria-pressed"].forEach(function (name) {
            shape.removeAttribute(name);
          });
          shape.setAttribute("aria-hidden", "true");
        }
      });
    }
    function zoomLabel(key) {
      var option = chooser && chooser.querySelector("option[value='" + key + "']");
      if (!option) { return key; }
      return option.parentNode.getAttribute("label") + ": " + option.textContent.trim();
    }
    // Draws the part at a scale where its thinnest region is at least MIN_TARGET px, as large
    // as the width allows (and not much taller than the screen) beyond that.
    function fit(svg, key) {
      var option = chooser.querySelector("option[value='" + key + "']");
      var crop = option.getAttribute("data-crop").split(" ").map(Number);
      var thinnest = Infinity;
      shapes.forEach(function (shape) {
        if (shape.getAttribute("data-zoom") !== key) { return; }
        var box = shape.getBBox();
        thinnest = Math.min(thinnest, box.width, box.height);
      });
      var room = container.clientWidth || crop[2];
      var tallest = Math.max(420, window.innerHeight - 120);
      var scale = Math.min(MAX_SCALE, room / crop[2], tallest / crop[3]);
      scale = Math.max(scale, MIN_TARGET / thinnest);
      svg.setAttribute("viewBox", crop.join(" "));
      svg.style.width = Math.round(crop[2] * scale) + "px";
      svg.style.height = Math.round(crop[3] * scale) + "px";
    }

    shapes.forEach(function (shape) {
      refresh(shape);
      shape.addEventListener("click", function () {
        if (!container.classList.contains("bodymap__figures--zoomed")) {
          zoomTo(shape.getAttribute("data-zoom"));
          return;
        }
        mark(shape);
      });
      shape.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          mark(shape);
        }
      });
    });
    container.querySelectorAll("svg").forEach(function (svg) {
      svg.setAttribute("data-viewbox", svg.getAttribute("viewBox"));
      svg.removeAttribute("focusable");
    });
    var zoomControls = root.querySelector("[data-bodymap-zoom-controls]");
    if (zoomControls) { zoomControls.hidden = false; }
    if (chooser) {
      // Not an answer: kept away from the form's autosave.
      ["change", "input"].forEach(function (type) {
        chooser.addEventListener(type, function (event) {
          event.stopPropagation();
          if (type === "change") { zoomTo(chooser.value); }
        });
      });
    }
    if (wholeButton) {
      wholeButton.addEventListener("click", function () {
        zoomTo("");
        if (chooser) { chooser.focus(); }
      });
    }
    if (list && !list.hasAttribute("data-has-errors")) { list.open = false; }
    // The list and the pictures are the same answer.
    if (list) {
      list.addEventListener("change", function (event) {
        shapes.forEach(function (shape) {
          if (shape.getAttribute("data-input") === event.target.id) { refresh(shape); }
        });
        summarise();
      });
    }
    zoomTo("");
  }

  function init(root) {
    root.querySelectorAll("[data-bodymap]:not([data-interactive])").forEach(setup);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // The sessions page swaps its form after a session is recorded (htmx).
  document.addEventListener("htmx:afterSettle", function () { init(document); });
})();
