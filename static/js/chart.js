// The patient chart's tabs (SPEC 5.3). Each tab is a link to its own address, so without
// this file every tab is a whole page. With htmx, a tab link swaps only the panel
// (hx-get, hx-target="#chart-panel", hx-push-url); here the rest of the page follows: the
// tab list marks the new tab, the panel heading and the document title name it, and the
// focus moves to that heading so that keyboard and screen-reader users land on what
// changed. The back button restores the earlier tab from the server (htmx history).
(function () {
  "use strict";

  document.addEventListener("htmx:afterSettle", function (event) {
    var config = event.detail && event.detail.requestConfig;
    var link = config && config.elt;
    // Only a tab's own panel: an error answer goes to the flash region instead.
    if (!link || !link.hasAttribute || !link.hasAttribute("data-chart-tab")
        || !event.target || event.target.id !== "chart-panel") {
      return;
    }
    var nav = link.closest("[data-chart-tabs]");
    if (nav) {
      nav.querySelectorAll("a[aria-current]").forEach(function (other) {
        other.removeAttribute("aria-current");
      });
    }
    link.setAttribute("aria-current", "page");
    var heading = document.getElementById("chart-panel-title");
    if (heading) {
      heading.textContent = link.textContent.trim();
      heading.focus();
    }
    var title = link.getAttribute("data-title");
    if (title) {
      document.title = title;
    }
  });
})();
