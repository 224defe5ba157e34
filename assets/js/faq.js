// FAQ search-as-you-type. Progressive enhancement only: the search form works without it.
// Suggestions come from /api/faq/sugerencias as plain text and are inserted with
// textContent, never as HTML.
(function () {
  "use strict";

  var DELAY_MS = 250;
  var MIN_CHARS = 3;

  function setup(form) {
    var input = form.querySelector("input[name=q]");
    var area = form.querySelector("select[name=area]");
    var box = form.querySelector("#faq-sugerencias");
    var url = form.getAttribute("data-suggest-url");
    if (!input || !box || !url || !window.fetch) { return; }
    var timer = null;
    var lastQuery = null;
    var controller = null;

    function clear() {
      box.textContent = "";
    }

    function render(results, query) {
      clear();
      if (!results.length) {
        var none = document.createElement("p");
        none.className = "small text-muted mt-2 mb-0";
        none.textContent = "Sin sugerencias para «" + query + "». Presiona Buscar para ver más.";
        box.appendChild(none);
        return;
      }
      var title = document.createElement("p");
      title.className = "small text-muted mt-2 mb-1";
      title.textContent = results.length === 1 ? "1 sugerencia:" : results.length + " sugerencias:";
      box.appendChild(title);
      var list = document.createElement("ul");
      list.className = "list-unstyled mb-0";
      results.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "mb-2";
        var link = document.createElement("a");
        link.href = item.url;
        link.textContent = item.question;
        var snippet = document.createElement("div");
        snippet.className = "small text-muted";
        snippet.textContent = item.snippet;
        li.appendChild(link);
        li.appendChild(snippet);
        list.appendChild(li);
      });
      box.appendChild(list);
    }

    function lookup() {
      var query = input.value.trim();
      var key = query + "|" + (area ? area.value : "");
      if (key === lastQuery) { return; }
      lastQuery = key;
      if (controller) { controller.abort(); }  // a late answer must not redraw old suggestions
      if (query.length < MIN_CHARS) { clear(); return; }
      controller = window.AbortController ? new AbortController() : null;
      var params = new URLSearchParams({ q: query });
      if (area && area.value) { params.set("area", area.value); }
      fetch(url + "?" + params.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (data) {
        render(data.results || [], query);
      }).catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        lastQuery = null;  // asked again when the person types or changes the area
        clear();  // rate limited or offline: the normal search button still works
      });
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, DELAY_MS);
    }

    input.addEventListener("input", schedule);
    if (area) { area.addEventListener("change", schedule); }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { clear(); lastQuery = null; }
    });
  }

  function init() {
    document.querySelectorAll("form.faq-search").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
