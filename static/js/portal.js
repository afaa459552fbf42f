// Small enhancements only; every page works without this file.
(function () {
  "use strict";

  function focusFirst(root) {
    var target = root.querySelector("[data-focus-on-load]");
    if (target) {
      target.focus();
      return true;
    }
    return false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirst(document);
    // Print buttons are hidden until this script can make them work; without it the
    // browser's own Print command does the same.
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });

  // After an htmx swap, put focus somewhere sensible: an error summary if the swap brought
  // one, else the first element that asks for it. On settle, so that it wins over htmx's own
  // [autofocus] handling; and on the new content (event.target): after an outerHTML swap
  // detail.target is the old element, already out of the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.target && event.target.isConnected ? event.target : document;
    focusFirst(root);
  });

  // htmx errors (network down, no answer) still tell the user something; the page's
  // content, and what was typed in it, stays as it was.
  function connectionLost() {
    var flash = document.getElementById("flash");
    if (flash) {
      var p = document.createElement("p");
      p.className = "flash flash--error";
      p.setAttribute("role", "alert");
      p.textContent = document.body.getAttribute("data-offline-message") || "Connection lost.";
      flash.replaceChildren(p);
    }
  }
  document.addEventListener("htmx:sendError", connectionLost);
  document.addEventListener("htmx:timeout", connectionLost);

  // Error responses (4xx/5xx) are swapped: a form with errors (422) or a conflict (409) in
  // place, the portal's error pages retargeted to the flash region by the server
  // (portal/errors.py). A server error that is not the portal's (a proxy's 502, a gateway's
  // timeout page: no HX-Retarget) never replaces the form it was aimed at.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 500 && !xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      connectionLost();
    } else if (xhr.status >= 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // --- document uploads (SPEC 3.1): the chosen files listed with a progress bar each,
  // drag and drop on desktop, and an early word about files over the size limit. The
  // plain form post works without any of this.
  document.documentElement.classList.add("js");

  function uploadForm(el) {
    return el && el.closest ? el.closest("[data-upload-form]") : null;
  }

  function chosenFiles(form) {
    var files = [];
    form.querySelectorAll("[data-upload-files]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) { files.push(file); });
    });
    return files;
  }

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function listFiles(form) {
    var list = form.querySelector("[data-upload-list]");
    if (!list) {
      return;
    }
    var max = parseInt(form.getAttribute("data-max-bytes"), 10) || Infinity;
    var items = chosenFiles(form).map(function (file) {
      var item = document.createElement("div");
      item.className = "upload-item";
      var name = document.createElement("span");
      name.className = "upload-item__name";
      name.textContent = file.name + " (" + megabytes(file.size) + ")";
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      var note = document.createElement("span");
      note.className = "upload-item__note";
      if (file.size > max) {
        item.classList.add("upload-item--error");
        note.textContent = form.getAttribute("data-too-big") || "";
        item.setAttribute("data-too-big", "");
      } else {
        note.textContent = form.getAttribute("data-waiting") || "";
      }
      item.append(name, bar, note);
      return item;
    });
    list.replaceChildren.apply(list, items);
  }

  document.addEventListener("change", function (event) {
    var form = uploadForm(event.target);
    if (form && event.target.hasAttribute("data-upload-files")) {
      listFiles(form);
    }
  });

  // A file over the limit would be refused by the server after the whole upload: say so now.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = uploadForm(event.detail.elt);
    if (form && form.querySelector("[data-upload-list] [data-too-big]")) {
      event.preventDefault();
      form.querySelector("[data-upload-list]").scrollIntoView({block: "center"});
    }
  });

  // One request carries every file, in order: each bar shows its own file's share of it.
  // htmx's own htmx:xhr:progress also reports the response's download, so the bars listen
  // to the request's upload alone (attached just before htmx sends it).
  function showProgress(form, loaded, total) {
    var files = chosenFiles(form);
    var bars = form.querySelectorAll("[data-upload-list] progress");
    var notes = form.querySelectorAll("[data-upload-list] .upload-item__note");
    var sizes = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    var overhead = Math.max(0, total - sizes) / (files.length + 1);
    var start = overhead;
    files.forEach(function (file, i) {
      if (!bars[i]) {
        return;
      }
      var share = file.size ? (loaded - start) / file.size : 1;
      var percent = Math.round(100 * Math.min(1, Math.max(0, share)));
      bars[i].value = Math.max(bars[i].value, percent);
      if (bars[i].value === 100 && notes[i]) {
        notes[i].textContent = form.getAttribute("data-done") || "";
      }
      start += file.size + overhead;
    });
  }

  document.addEventListener("htmx:beforeSend", function (event) {
    var form = uploadForm(event.detail.elt);
    var xhr = event.detail.xhr;
    if (!form || !xhr || !xhr.upload) {
      return;
    }
    xhr.upload.addEventListener("progress", function (progress) {
      if (progress.lengthComputable) {
        showProgress(form, progress.loaded, progress.total);
        form.dispatchEvent(new CustomEvent("portal:upload-progress", {bubbles: true}));
      }
    });
  });

  function dropzone(el) {
    return el && el.closest ? el.closest("[data-dropzone]") : null;
  }

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var zone = dropzone(event.target);
      if (zone) {
        event.preventDefault();
        zone.classList.add("dropzone--over");
      }
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropzone(event.target);
    if (zone && !zone.contains(event.relatedTarget)) {
      zone.classList.remove("dropzone--over");
    }
  });

  document.addEventListener("drop", function (event) {
    var zone = dropzone(event.target);
    if (!zone) {
      return;
    }
    event.preventDefault();
    zone.classList.remove("dropzone--over");
    var input = zone.querySelector("input[type=file]");
    if (input && event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change", {bubbles: true}));
    }
  });
  // --- the header's menu (a <details>, templates/base.html): Escape closes it and gives
  // focus back to its button; a tap or click elsewhere closes it too.
  function openMenu() {
    var menu = document.querySelector("[data-site-menu]");
    return menu && menu.open ? menu : null;
  }

  document.addEventListener("keydown", function (event) {
    var menu = openMenu();
    if (menu && event.key === "Escape") {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });

  document.addEventListener("click", function (event) {
    var menu = openMenu();
    if (menu && !menu.contains(event.target)) {
      menu.open = false;
    }
  });
})();
