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

  // The navigation's menu button on narrow screens (replaces Bootstrap's collapse plugin).
  function menuToggles() {
    document.querySelectorAll("[data-bs-toggle=collapse]").forEach(function (button) {
      var target = document.querySelector(button.getAttribute("data-bs-target"));
      if (!target) { return; }
      button.addEventListener("click", function () {
        var open = target.classList.toggle("show");
        button.setAttribute("aria-expanded", open ? "true" : "false");
        button.classList.toggle("collapsed", !open);
      });
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
    menuToggles();
    pairs();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
