// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // The comuna list follows the chosen región (server still validates the pair).
  function linkTerritory(regionSelect, comunaSelect) {
    function apply() {
      var option = regionSelect.options[regionSelect.selectedIndex];
      var regionName = option && option.value ? option.textContent.trim() : null;
      var groups = comunaSelect.querySelectorAll("optgroup");
      var keep = false;
      groups.forEach(function (group) {
        var match = regionName !== null && group.label === regionName;
        group.hidden = !match;
        group.disabled = !match;
        if (match && group.contains(comunaSelect.options[comunaSelect.selectedIndex])) {
          keep = true;
        }
      });
      if (!keep) { comunaSelect.value = ""; }
    }
    regionSelect.addEventListener("change", apply);
    apply();
  }

  // The navigation's disclosures (<details>) work without this file; here, on top:
  // Escape closes the open one and puts the focus back on its summary, opening one group
  // or clicking elsewhere closes the other groups, and browsers that cannot style
  // ::details-content get the menu opened from 1200 px by script.
  function navigation() {
    var menu = document.querySelector("[data-nav-menu]");
    if (!menu) { return; }
    var groups = Array.prototype.slice.call(menu.querySelectorAll("[data-nav-group]"));
    var wide = window.matchMedia("(min-width: 1200px)");
    var styled = window.CSS && CSS.supports && CSS.supports("selector(::details-content)");

    function closeGroups(except) {
      groups.forEach(function (group) {
        if (group !== except) { group.open = false; }
      });
    }
    groups.forEach(function (group) {
      group.addEventListener("toggle", function () {
        if (group.open) { closeGroups(group); }
      });
    });
    document.addEventListener("click", function (event) {
      groups.forEach(function (group) {
        if (group.open && !group.contains(event.target)) { group.open = false; }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      var open = groups.filter(function (g) { return g.open; })[0];
      if (!open && menu.open && !wide.matches) { open = menu; }
      if (!open) { return; }
      open.open = false;
      open.querySelector("summary").focus();
    });
    if (!styled) {
      var follow = function () { menu.open = wide.matches; };
      follow();
      wide.addEventListener("change", follow);
    }
  }

  // A table wider than its box scrolls inside it; keyboard users get to it with Tab (named
  // by the table's caption) and scroll it with the arrow keys. Done again on resize.
  function scrollRegions() {
    document.querySelectorAll(".table-responsive, .prose table, .chat-body table").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls === (box.getAttribute("data-scrolls") === "true")) { return; }
      box.setAttribute("data-scrolls", scrolls ? "true" : "false");
      if (!scrolls) {
        box.removeAttribute("tabindex");
        return;
      }
      box.tabIndex = 0;
      if (box.tagName !== "TABLE") {
        var caption = box.querySelector("caption");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption ? caption.textContent.trim() : "Tabla");
      }
    });
  }

  function pairs() {
    [["region_code", "comuna_code"], ["p-region_code", "p-comuna_code"],
     ["c-company_region", "c-company_comuna"]].forEach(function (ids) {
      var region = document.getElementById(ids[0]);
      var comuna = document.getElementById(ids[1]);
      if (region && comuna) { linkTerritory(region, comuna); }
    });
  }

  function start() {
    navigation();
    scrollRegions();
    var resizing;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(scrollRegions, 150);
    });
    pairs();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
