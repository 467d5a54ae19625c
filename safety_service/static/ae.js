/* The AE form: search-as-you-type over the CTCAE catalogue, the chosen term's grade definitions as the choices,
   and the seriousness criteria shown when the event is serious. Works without it (the server validates all). */
(function () {
  "use strict";

  var input = document.querySelector("[data-ctcae-search]");
  if (!input) { return; }
  var url = input.getAttribute("data-ctcae-search");
  var list = document.getElementById("term-results");
  var chosen = document.getElementById("term-chosen");
  var options = document.getElementById("grade-options");
  var version = document.getElementById("grade-version");
  var results = [];
  var active = -1;
  var timer = null;
  var pending = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    var items = list.querySelectorAll("[role=option]");
    for (var i = 0; i < items.length; i++) {
      items[i].setAttribute("aria-selected", i === index ? "true" : "false");
    }
    active = index;
    if (index >= 0 && items[index]) {
      input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({block: "nearest"});
    }
  }

  function render(terms) {
    results = terms;
    list.textContent = "";
    if (!terms.length) {
      list.appendChild(el("li", "term-none", "No CTCAE v5.0 term matches. Try a synonym or the MedDRA code."));
    }
    terms.forEach(function (t, i) {
      var li = el("li", "term-option");
      li.id = "term-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.setAttribute("data-term", t.term);
      li.appendChild(el("span", "term-name", t.term));
      li.appendChild(el("small", "muted", t.soc + " · " + t.meddra_code));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus in the input
      li.addEventListener("click", function () { pick(t); });
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(terms.length ? 0 : -1);
  }

  function search() {
    var q = input.value.trim();
    if (!q) { close(); return; }
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch(url + "?q=" + encodeURIComponent(q) + "&limit=12",
          {credentials: "same-origin", headers: {"Accept": "application/json"}, signal: pending.signal})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(render)
      .catch(function (err) { if (err.name !== "AbortError") { close(); } });
  }

  function gradeOption(g, text, checked) {
    var label = el("label", "grade-option");
    var radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "grade";
    radio.value = String(g);
    radio.required = true;
    radio.checked = !!checked;
    label.appendChild(radio);
    label.appendChild(el("span", "badge grade-" + g, "Grade " + g));
    label.appendChild(el("span", "grade-text", text));
    return label;
  }

  function showGrades(t) {
    var previous = (document.querySelector("input[name=grade]:checked") || {}).value;
    options.textContent = "";
    var absent = [];
    [1, 2, 3, 4, 5].forEach(function (g) {
      var text = t.grades[String(g)];
      if (text) {
        options.appendChild(gradeOption(g, text, previous === String(g)));
      } else {
        absent.push(g);
      }
    });
    if (absent.length) {
      options.appendChild(el("small", "help", "Grade " + absent.join(", ") + " does not exist for " + t.term +
                                              " in CTCAE v" + t.ctcae_version + "."));
    }
    if (version) { version.textContent = "CTCAE v" + t.ctcae_version; }
  }

  function pick(t) {
    input.value = t.term;
    chosen.textContent = t.soc + " · MedDRA " + t.meddra_code + (t.definition ? " · " + t.definition : "");
    showGrades(t);
    close();
    var first = options.querySelector("input[name=grade]");
    if (first) { first.focus(); }
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  input.addEventListener("keydown", function (e) {
    if (list.hidden) { return; }
    if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, results.length - 1)); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); pick(results[active]); }
    else if (e.key === "Escape") { e.preventDefault(); close(); }  // close the list, keep what was typed (a search box clears on Escape)
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });

  // Seriousness criteria matter only for a serious AE: shown when "Yes" is chosen (kept when they hold errors).
  var criteria = document.getElementById("seriousness");
  var serious = document.querySelectorAll("input[name=serious]");
  function toggleCriteria() {
    var yes = document.querySelector("input[name=serious][value=true]:checked");
    var hasError = criteria && criteria.classList.contains("has-error");
    var anyChecked = criteria && criteria.querySelector("input:checked");
    // style.display, not the hidden attribute: the .field class sets display and would override it.
    if (criteria) { criteria.style.display = (yes || hasError || anyChecked) ? "" : "none"; }
  }
  for (var i = 0; i < serious.length; i++) { serious[i].addEventListener("change", toggleCriteria); }
  toggleCriteria();
})();
