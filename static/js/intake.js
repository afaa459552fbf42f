// The intake questionnaire's enhancements (SPEC 2). Every step works without this file:
// follow-ups are then always shown, the body map is chosen from its list, and all activity
// rows are there. Autosave itself is htmx (attributes on the form), not this file.
(function () {
  "use strict";

  function byName(root, name) {
    return Array.prototype.slice.call(root.querySelectorAll("[name]")).filter(function (el) {
      return el.name === name;
    });
  }

  // The answer(s) a question holds right now in the form.
  function valuesOf(form, name) {
    var out = [];
    byName(form, name).forEach(function (el) {
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) { out.push(el.value); }
      } else if (el.value) {
        out.push(el.value);
      }
    });
    return out;
  }

  // Follow-ups show only when their answer applies; urgent-care advice shows as soon as a
  // red-flag answer is chosen (SPEC 2.7).
  function applyConditions(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (box) {
      var wanted = box.getAttribute("data-show-values").split(" ");
      var parentId = box.getAttribute("data-show-if");
      var parent = document.getElementById("question-" + parentId);
      var have = valuesOf(form, parentId);
      var applies = have.some(function (v) { return wanted.indexOf(v) !== -1; });
      box.hidden = (parent && parent.hidden) || !applies;
    });
    form.querySelectorAll("[data-advice-for]").forEach(function (box) {
      var have = valuesOf(form, box.getAttribute("data-advice-for"));
      var show = have.indexOf(box.getAttribute("data-advice-value")) !== -1;
      if (show && box.hidden) {
        // Re-inserting the text makes screen readers announce the alert.
        var nodes = Array.prototype.slice.call(box.childNodes);
        box.replaceChildren();
        box.hidden = false;
        box.append.apply(box, nodes);
      } else if (!show) {
        box.hidden = true;
      }
    });
  }

  function initConditions(form) {
    applyConditions(form);
    form.addEventListener("change", function () { applyConditions(form); });
  }

  // --- body map ------------------------------------------------------------------------

  function makeButton(text, pressed) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button";
    b.textContent = text;
    if (pressed !== undefined) { b.setAttribute("aria-pressed", pressed ? "true" : "false"); }
    return b;
  }

  function initBodymap(container) {
    var form = container.closest("form");
    var fieldset = container.closest(".bodymap");
    var picker = fieldset.querySelector("[data-bodymap-picker]");
    var list = fieldset.querySelector("[data-bodymap-list]");
    var qid = container.getAttribute("data-bodymap");
    var words = {
      none: container.getAttribute("data-label-none"),
      value: container.getAttribute("data-label-value"),
      ask: container.getAttribute("data-label-picker"),
      remove: container.getAttribute("data-label-remove"),
      done: container.getAttribute("data-label-done"),
      map: container.getAttribute("data-label-map")
    };
    if (!form || !picker) { return; }

    function selectFor(shape) {
      return byName(form, shape.getAttribute("data-field"))[0];
    }
    function labelFor(select) {
      var label = select && form.querySelector("label[for='" + select.id + "']");
      return label ? label.textContent.trim() : "";
    }
    function refresh(shape) {
      var select = selectFor(shape);
      if (!select) { return; }
      var v = select.value;
      for (var i = 0; i <= 10; i++) { shape.classList.remove("bm-i-" + i); }
      if (v !== "") { shape.classList.add("bm-i-" + v); }
      shape.setAttribute("aria-label", labelFor(select) + ": " +
        (v === "" ? words.none : words.value.replace("{n}", v)));
      var num = container.querySelector("[data-num-for='" + shape.getAttribute("data-region") + "']");
      if (num) { num.textContent = v; }
    }
    var marked = fieldset.querySelector("[data-bodymap-marked] ul");
    function summarise() {
      if (!marked) { return; }
      var items = [];
      container.querySelectorAll(".bm-region").forEach(function (shape) {
        var select = selectFor(shape);
        if (select && select.value !== "") {
          var li = document.createElement("li");
          li.textContent = labelFor(select) + ": " + words.value.replace("{n}", select.value);
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
    function close(shape) {
      picker.hidden = true;
      picker.replaceChildren();
      if (shape) {
        shape.classList.remove("bm-active");
        shape.focus();
      }
    }
    function choose(shape, select, value) {
      select.value = value;
      // Bubbles to the form: htmx autosaves, the list shows the same value.
      select.dispatchEvent(new Event("change", { bubbles: true }));
      refresh(shape);
      summarise();
      close(shape);
    }
    function open(shape) {
      var select = selectFor(shape);
      if (!select) { return; }
      container.querySelectorAll(".bm-active").forEach(function (s) { s.classList.remove("bm-active"); });
      shape.classList.add("bm-active");
      var title = document.createElement("p");
      title.className = "bodymap__picker-title";
      title.id = qid + "-picker-title";
      title.textContent = labelFor(select);
      var ask = document.createElement("p");
      ask.textContent = words.ask;
      var grid = document.createElement("div");
      grid.className = "bodymap__intensities";
      grid.setAttribute("role", "group");
      grid.setAttribute("aria-labelledby", title.id);
      for (var i = 0; i <= 10; i++) {
        var b = makeButton(String(i), select.value === String(i));
        b.setAttribute("data-value", String(i));
        grid.appendChild(b);
      }
      var row = document.createElement("div");
      row.className = "button-row";
      var remove = makeButton(words.remove, select.value === "");
      remove.setAttribute("data-value", "");
      var done = makeButton(words.done);
      done.setAttribute("data-close", "");
      row.append(remove, done);
      picker.replaceChildren(title, ask, grid, row);
      picker.hidden = false;
      picker.onclick = function (event) {
        var b = event.target.closest("button");
        if (!b) { return; }
        if (b.hasAttribute("data-close")) { close(shape); return; }
        choose(shape, select, b.getAttribute("data-value"));
      };
      picker.onkeydown = function (event) {
        if (event.key === "Escape") { event.preventDefault(); close(shape); }
      };
      (grid.querySelector("[aria-pressed='true']") || grid.firstChild).focus();
    }

    container.setAttribute("data-interactive", "");
    if (list && !list.hasAttribute("data-has-errors")) { list.open = false; }
    container.querySelectorAll("svg").forEach(function (svg) {
      svg.removeAttribute("aria-hidden");
      svg.removeAttribute("focusable");
      svg.setAttribute("role", "group");
      svg.setAttribute("aria-label", words.map.replace("{view}", svg.getAttribute("data-view-label")));
      svg.querySelectorAll(".bm-region").forEach(function (shape) {
        shape.setAttribute("role", "button");
        shape.setAttribute("tabindex", "0");
        refresh(shape);
        shape.addEventListener("click", function () { open(shape); });
        shape.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            open(shape);
          }
        });
      });
    });
    // The list and the pictures are the same answer.
    if (list) {
      list.addEventListener("change", function (event) {
        var select = event.target;
        container.querySelectorAll(".bm-region").forEach(function (shape) {
          if (shape.getAttribute("data-field") === select.name) { refresh(shape); }
        });
        summarise();
      });
    }
  }

  // --- repeatable rows (PSFS activities) -----------------------------------------------

  function initRows(box) {
    var rows = Array.prototype.slice.call(box.querySelectorAll("[data-row]"));
    var add = box.querySelector("[data-add-row]");
    if (!add || !rows.length) { return; }
    function used(row) {
      return Array.prototype.slice.call(row.querySelectorAll("input, select")).some(function (el) {
        return el.value;
      }) || row.querySelector(".field--error");
    }
    var last = -1;
    rows.forEach(function (row, i) { if (used(row)) { last = i; } });
    rows.forEach(function (row, i) { row.hidden = i > last + 1; });
    function update() {
      add.hidden = !rows.some(function (row) { return row.hidden; });
    }
    add.addEventListener("click", function () {
      var next = rows.filter(function (row) { return row.hidden; })[0];
      if (next) {
        next.hidden = false;
        var first = next.querySelector("input, select");
        if (first) { first.focus(); }
      }
      update();
    });
    update();
  }

  // Once the patient presses a button, the form's own post carries every answer: a
  // debounced autosave still waiting must not follow it to the server.
  function stopAutosaveOnSubmit(form) {
    form.addEventListener("submit", function () { form.setAttribute("data-submitting", ""); });
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-submitting")) { event.preventDefault(); }
  });

  function init(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-show-if], [data-advice-for]")) { initConditions(form); }
      if (form.hasAttribute("data-intake-form")) { stopAutosaveOnSubmit(form); }
    });
    root.querySelectorAll("[data-bodymap]").forEach(initBodymap);
    root.querySelectorAll("[data-rows]").forEach(initRows);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // A stale tab gets the form back with the newer answers (htmx swap): enhance it again.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = document.getElementById("intake-form");
    if (target && event.detail && event.detail.target && event.detail.target.id === "intake-form") {
      init(target.parentNode);
    }
  });
})();
