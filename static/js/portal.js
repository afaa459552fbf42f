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
  });

  // After an htmx swap, put focus somewhere sensible: an error summary if the swap brought
  // one, else the first element that asks for it. On settle, so that it wins over htmx's own
  // [autofocus] handling; and on the new content (event.target): after an outerHTML swap
  // detail.target is the old element, already out of the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.target && event.target.isConnected ? event.target : document;
    focusFirst(root);
  });

  // htmx errors (network down, 5xx without a body) still tell the user something.
  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (flash) {
      var p = document.createElement("p");
      p.className = "flash flash--error";
      p.setAttribute("role", "alert");
      p.textContent = document.body.getAttribute("data-offline-message") || "Connection lost.";
      flash.replaceChildren(p);
    }
  });

  // Error responses (4xx/5xx) are swapped: the server retargets them to the flash region.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
