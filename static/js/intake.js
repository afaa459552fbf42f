// The intake questionnaire's enhancements (SPEC 2). Every step works without this file:
// follow-ups are then always shown, the body map is chosen from its list, all activity rows
// are there, and the buttons save (plain form posts). With it, answers also save as the
// patient types (autosave, below).
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

  // --- autosave (SPEC 2.4, 8.8) ----------------------------------------------------------
  // What the patient types goes to the server a moment later, one request at a time; each
  // answer (the save status) carries the revision the next save sends. A save that fails
  // (a server or proxy error, no network, no answer in time) changes nothing in the form:
  // the status says so and the answers are sent again, later and later, until a save
  // succeeds. When the page is hidden or left, what is not saved yet goes at once, in a
  // request that outlives the page (keepalive). Once a button is pressed, the form's own
  // post carries every answer and nothing else is sent.
  var SAVE_TIMEOUT = 15000;
  var LONGEST_WAIT = 30000;
  var autosave = null;  // the page's one autosaving form

  function swapInto(target, html, style) {
    if (window.htmx) {  // out-of-band flash messages, settling and focus, as for htmx's own
      window.htmx.swap(target, html, { swapStyle: style });
    } else if (style === "outerHTML") {
      target.outerHTML = html;
    } else {
      target.innerHTML = html;
    }
  }

  function Autosave(form) {
    var url = form.getAttribute("data-autosave");
    var edits = 0;        // changes made on this page
    var saved = 0;        // how many of them the server has
    var sending = null;   // the request on its way: {edits, done}
    var failures = 0;
    var timer = null;
    var self = this;

    function status() { return form.querySelector("#save-status"); }
    function submitted() { return form.hasAttribute("data-submitting"); }
    this.unsaved = function () { return edits > saved && !submitted(); };

    function soon(ms) {
      clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        send(failures > 0);
      }, ms);
    }
    function changed(ms) {
      edits += 1;
      if (!failures) { soon(ms); }  // while saves fail, the next try keeps its time
    }
    form.addEventListener("input", function () { changed(1500); });
    form.addEventListener("change", function () { changed(400); });

    function failed() {
      failures += 1;
      var box = status();
      if (!box.querySelector("[data-save-failed]")) {
        var note = document.createElement("p");
        note.className = "save-status__message save-status__message--error";
        note.setAttribute("data-save-failed", "");
        note.textContent = box.getAttribute("data-failed");
        box.querySelectorAll(".save-status__message, .save-status__problems")
          .forEach(function (el) { el.remove(); });
        box.appendChild(note);
      }
      soon(Math.min(LONGEST_WAIT, 1000 * Math.pow(2, failures - 1)));
    }

    // The server's answer: the status (saved, or what to check), the form again with newer
    // answers (changed elsewhere), or a new address. Anything else is a failed save.
    function answer(request, response, html) {
      var to = response.headers.get("HX-Redirect");
      if (to) {
        saved = Math.max(saved, request.edits);
        window.location.assign(to);
        return;
      }
      if (response.status >= 500 || html.indexOf('name="revision"') === -1) {
        failed();
        return;
      }
      if (response.status === 409) {
        // The new form shows what this page had typed where it differs, and saves anew.
        clearTimeout(timer);
        saved = edits;
        var parent = form.parentNode;
        swapInto(form, html, "outerHTML");
        init(parent);
        return;
      }
      var token = form.querySelector("input[name=csrf_token]");
      var had = token.value;
      swapInto(status(), html, "innerHTML");
      var fresh = status().querySelector("[data-fresh-token]");
      if (!fresh) {
        saved = Math.max(saved, request.edits);
        failures = 0;
      } else if (fresh.getAttribute("data-fresh-token") !== had) {
        // The page had expired: the same answers again, with the new token.
        token.value = fresh.getAttribute("data-fresh-token");
        document.body.setAttribute("data-hx-headers", JSON.stringify({ "X-CSRFToken": token.value }));
        soon(0);
      } else {
        failed();
      }
    }

    // ``final``: the page's last word or a retry. It carries the whole form, so the server
    // takes it even after a save of this page whose answer never came; and its answer is
    // the one that counts.
    function send(final) {
      if (!self.unsaved() || (sending && !final)) { return Promise.resolve(); }
      clearTimeout(timer);
      if (sending) { sending.superseded = true; }
      var request = { edits: edits };
      sending = request;
      var body = new URLSearchParams(new FormData(form));
      if (final) { body.set("final", "1"); }
      var abort = new AbortController();
      var late = setTimeout(function () { abort.abort(); }, SAVE_TIMEOUT);
      request.done = fetch(url, {
        // keepalive: the request outlives the page (it takes bodies up to 64 KB).
        method: "POST", body: body, credentials: "same-origin",
        keepalive: body.toString().length < 60000,
        signal: abort.signal,
        headers: { "HX-Request": "true", "X-CSRFToken": body.get("csrf_token") || "" }
      }).then(function (response) {
        return response.text().then(function (html) {
          if (!request.superseded) { answer(request, response, html); }
        });
      }).catch(function () {
        if (!request.superseded) { failed(); }
      }).then(function () {
        clearTimeout(late);
        if (sending === request) { sending = null; }
        if (self.unsaved() && !failures && !timer) { soon(0); }  // typed while it was sent
      });
      return request.done;
    }
    this.send = send;

    // A pressed button waits for the save on its way, so that no save of this page reaches
    // the server after the button's post. While saves fail, it saves first and posts only
    // once that worked: a post that cannot arrive would take the page, and the answers in
    // it, away.
    var holding = false;
    function post(button) {
      form.setAttribute("data-submitting", "");
      clearTimeout(timer);
      if (button && form.requestSubmit) { form.requestSubmit(button); } else { form.submit(); }
    }
    form.addEventListener("submit", function (event) {
      if (holding) { event.preventDefault(); }
      if (holding || submitted()) { return; }
      if (failures && !sending) { send(true); }
      if (!sending) {
        form.setAttribute("data-submitting", "");
        clearTimeout(timer);
        return;  // the form's own post
      }
      event.preventDefault();
      holding = true;
      var button = event.submitter;
      sending.done.then(function () {
        holding = false;
        if (!failures && form.isConnected) { post(button); }  // else the page stays as it is
      });
    });
    this.failing = function () { return failures > 0; };
  }

  // Leaving through the page itself (a link, another form: the language, signing out): what
  // is not saved goes first, then the page goes where it was asked to. Sent as the page
  // goes, it would arrive after that request: after the sign-out, or after the next page
  // was drawn without it. If the answers come back as a conflict, the page stays to show it.
  var LEAVE_WAIT = 3000;
  var released = false;

  function leaveAfterSaving(event, go) {
    if (released || !autosave || !autosave.unsaved() || event.defaultPrevented) { return; }
    event.preventDefault();
    var before = autosave;
    var done = false;
    function leave() {
      if (done || autosave !== before) { return; }
      done = released = true;
      go();
    }
    autosave.send(true).then(leave);
    setTimeout(leave, LEAVE_WAIT);
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.target || link.hasAttribute("download") || event.button !== 0 ||
        event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    var here = window.location;
    if (link.hash && link.origin === here.origin && link.pathname === here.pathname &&
        link.search === here.search) { return; }  // a place on this page
    leaveAfterSaving(event, function () { window.location.assign(link.href); });
  });
  document.addEventListener("submit", function (event) {
    var other = event.target;
    if (other.hasAttribute("data-autosave")) { return; }
    var button = event.submitter;
    leaveAfterSaving(event, function () {
      if (button && other.requestSubmit) { other.requestSubmit(button); } else { other.submit(); }
    });
  });

  // Hidden (another app, another tab, the phone locked) or left: send what is not saved.
  document.addEventListener("visibilitychange", function () {
    if (autosave && document.visibilityState === "hidden") { autosave.send(true); }
  });
  window.addEventListener("pagehide", function () {
    if (autosave) { autosave.send(true); }
  });
  window.addEventListener("online", function () {
    if (autosave && autosave.failing()) { autosave.send(true); }
  });
  // While saves fail, what was typed is only in this page: the browser asks before leaving.
  window.addEventListener("beforeunload", function (event) {
    if (autosave && autosave.failing() && autosave.unsaved()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  function init(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-show-if], [data-advice-for]")) { initConditions(form); }
      if (form.hasAttribute("data-autosave")) { autosave = new Autosave(form); }
    });
    root.querySelectorAll("[data-rows]").forEach(initRows);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
