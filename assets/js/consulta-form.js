// New consulta form: FAQ suggestions while the subject is typed (the "Ver preguntas
// similares" button does the same without JavaScript).
(function () {
  "use strict";

  var form = document.getElementById("consulta-form");
  if (!form) { return; }
  var subject = form.querySelector('[name="subject"]');
  var area = form.querySelector('[name="area"]');
  var box = document.getElementById("sugerencias");
  var url = form.dataset.suggestUrl;
  if (!subject || !box || !url || !window.fetch) { return; }
  var timer = null;
  var lastQuery = "";
  var controller = null;

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function show(results) {
    clear(box);
    if (!results.length) { return; }
    var wrap = document.createElement("div");
    wrap.className = "alert alert-info";
    var title = document.createElement("h2");
    title.className = "h6";
    title.textContent = "¿Alguna de estas preguntas responde tu duda?";
    wrap.appendChild(title);
    var ul = document.createElement("ul");
    ul.className = "mb-0";
    results.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = item.question;
      li.appendChild(a);
      if (item.snippet) {
        li.appendChild(document.createElement("br"));
        var small = document.createElement("span");
        small.className = "small";
        small.textContent = item.snippet;
        li.appendChild(small);
      }
      ul.appendChild(li);
    });
    wrap.appendChild(ul);
    box.appendChild(wrap);
  }

  function lookup() {
    var q = subject.value.trim();
    var key = q + "|" + (area ? area.value : "");
    if (key === lastQuery) { return; }
    lastQuery = key;
    if (controller) { controller.abort(); }  // a late answer must not redraw old suggestions
    if (q.length < 3) { clear(box); return; }
    controller = new AbortController();
    var params = new URLSearchParams({ q: q });
    if (area && area.value) { params.set("area", area.value); }
    fetch(url + "?" + params.toString(), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
      signal: controller.signal
    }).then(function (response) {
      return response.ok ? response.json() : { results: [] };
    }).then(function (data) {
      show(Array.isArray(data.results) ? data.results : []);
    }).catch(function (error) {
      // suggestions are optional; after a failure the same text is asked again
      if (!error || error.name !== "AbortError") { lastQuery = null; }
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookup, 300);
  }

  subject.addEventListener("input", schedule);
  if (area) { area.addEventListener("change", schedule); }
}());
