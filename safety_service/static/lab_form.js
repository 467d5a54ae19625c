// The lab form's unit list follows the analyte: only its own units, the default first and selected.
// Without this script the server renders the same list once an analyte is chosen (a refused form keeps it).
(function () {
  var analyte = document.getElementById("f-analyte");
  var unit = document.getElementById("f-unit");
  if (!analyte || !unit) return;
  var all = Array.prototype.slice.call(unit.querySelectorAll("option[data-analyte]")).map(function (o) {
    return {analyte: o.getAttribute("data-analyte"), value: o.value, text: o.textContent};
  });
  function narrow(keepSelected) {
    var chosen = analyte.value, kept = keepSelected ? unit.value : "";
    var mine = all.filter(function (o) { return o.analyte === chosen; });
    if (!chosen || !mine.length) return;
    unit.innerHTML = "";
    mine.forEach(function (o, i) {
      var opt = new Option(o.text, o.value);
      opt.setAttribute("data-analyte", o.analyte);
      if (kept ? o.value === kept : i === 0) opt.selected = true;
      unit.appendChild(opt);
    });
  }
  analyte.addEventListener("change", function () { narrow(false); });
  if (analyte.value && unit.querySelector("optgroup")) narrow(true);
})();
