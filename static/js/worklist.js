// The worklist refreshes itself (SPEC 5.1): each section asks its own address every few
// seconds (hx-trigger on the section) and the server answers 204 when nothing changed. This
// file keeps the refresh out of people's way; the page works without it (and without htmx,
// when it simply does not refresh).
(function () {
  "use strict";

  function isSection(el) {
    return !!(el && el.hasAttribute && el.hasAttribute("data-worklist-section"));
  }

  // Someone is working inside: focus on a link or a button of the section.
  function inUse(section) {
    var active = document.activeElement;
    return !!active && active !== document.body && section.contains(active);
  }

  // No refresh in a tab nobody looks at, nor under the keyboard's focus.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var section = event.detail.elt;
    if (isSection(section) && (document.visibilityState === "hidden" || inUse(section))) {
      event.preventDefault();
    }
  });

  // Focus may have moved in while the answer to a refresh was on its way. The answer to a
  // form of the section (acknowledging a red flag) is swapped in: it is what was asked for.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var section = event.detail.target;
    var asker = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (isSection(section) && asker === section && inUse(section)) {
      event.detail.shouldSwap = false;
    }
  });

  // Say what changed, politely, for screen readers ("Red flags: 2").
  document.addEventListener("htmx:afterSettle", function (event) {
    var section = event.target;
    var news = document.getElementById("worklist-news");
    if (isSection(section) && news && section.isConnected) {
      news.textContent = section.getAttribute("data-news") || "";
    }
  });

  // Back to the tab: catch up at once rather than at the next tick.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || !window.htmx) {
      return;
    }
    document.querySelectorAll("[data-worklist-section]").forEach(function (section) {
      window.htmx.trigger(section, "worklist-refresh");
    });
  });
})();
