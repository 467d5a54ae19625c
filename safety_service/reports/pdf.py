"""The DSMB report as PDF (fpdf2, DejaVu Sans from matplotlib's data folder): the same cut-off, the same bytes.

The creation date is the data cut-off, not the moment of printing, so a report regenerated later for the
same cut-off is byte-identical and can be checked against the one the board received.
"""
from __future__ import annotations

import io
from datetime import datetime

from ..exports.columns import Column, Table
from ..exports.meta import ExportMeta
from ..exports.pdf_document import FONT, ListingPDF
from . import pdf_layout


def _num(v, fmt: str = "{:.2f}") -> str:
    return "" if v is None else fmt.format(v)


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


class DsmbPDF(ListingPDF):
    """A listing PDF whose header names the data cut-off instead of an export moment."""

    def __init__(self, report: dict):
        held_at = datetime.fromisoformat(report["held_at"])  # the snapshot: same snapshot, same bytes
        super().__init__(ExportMeta(report["study_id"], held_at, "safety-service", title="DSMB safety report"))
        self.report = report
        self.measure = pdf_layout.Measure(self)
        self.set_title(f"{report['study_id']} - DSMB safety report, data cut-off {report['cutoff']}")

    def header(self):
        r = self.report
        self.set_font(FONT, "B", 11)
        self.cell(0, 6, f"{r['study_id']} - DSMB safety report", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 8)
        self.cell(0, 4.5, f"Data cut-off {r['cutoff']} - database as held at {r['held_at']} UTC - confidential, for "
                          f"the Data Safety Monitoring Board", new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def signature_block(self) -> None:
        """Signature lines for the board's chair (21 CFR 11.50: name, date and meaning of the signature)."""
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(6)
        self.set_font(FONT, "", 9)
        self.cell(0, 6, "DSMB chair (name): ______________________________   "
                        "Signature: ______________________________   Date: ______________", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 6, "Meaning of signature: the board reviewed this report for the data cut-off above.",
                  new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.set_font(FONT, "B", 12)
        self.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 9)

    def para(self, text: str, size: int = 9, style: str = "") -> None:
        self.set_font(FONT, style, size)
        pdf_layout.paragraph(self, self.measure, text, 4.6 if size >= 9 else 3.8)
        self.ln(1)

    def table_block(self, table: Table) -> None:
        """A titled table whose heading row repeats on each page (linear-time layout: reports/pdf_layout.py)."""
        self.set_font(FONT, "B", 10)
        pdf_layout.paragraph(self, self.measure, f"{table.title} ({len(table.rows)} rows)", 6)
        self.set_font(FONT, "", 7)
        if table.rows:
            pdf_layout.table(self, self.measure, [c.header for c in table.columns], list(table.cells()),
                             [c.width for c in table.columns], 3.6, FONT, 7)
        else:
            self.cell(0, 5, "No rows.", new_x="LMARGIN", new_y="NEXT")
        if table.footnote:
            self.set_font(FONT, "", 7)
            pdf_layout.paragraph(self, self.measure, table.footnote, 4)
        self.ln(3)

    def figure(self, png: bytes | None, width: float = 170) -> None:
        if not png:
            return
        if self.get_y() > self.h - 80:
            self.add_page()
        self.image(io.BytesIO(png), w=width)
        self.ln(2)


def _t(name, title, cols, rows, foot="") -> Table:
    return Table(name, title, [Column(k, h, "", "text", w) for k, h, w in cols], rows, foot)


def _enrolment(pdf: DsmbPDF, e: dict) -> None:
    pdf.heading("1. Enrolment and follow-up")
    status = ", ".join(f"{k} {v}" for k, v in e["status"].items()) or "none"
    pdf.para(f"Enrolled {e['enrolled']}; injected {e['injected']}; participant status: {status}. Follow-up since "
             f"injection: median {_num(e['median_follow_up_months'], '{:.1f}')} months, longest "
             f"{_num(e['max_follow_up_months'], '{:.1f}')} months.")
    pdf.table_block(_t("Sites", "By site", [("site", "Site", 10), ("enrolled", "Enrolled", 10),
                                            ("injected", "Injected", 10)], e["by_site"]))
    pdf.table_block(_t("Visits", "Follow-up visits at the cut-off",
                       [("label", "Visit", 14), ("done", "Done", 8), ("open", "Window open", 10),
                        ("overdue", "Overdue", 8), ("missed", "Missed", 8), ("upcoming", "Upcoming", 9)],
                       e["by_visit"], "Overdue: window closed without a recorded visit; missed: overdue beyond "
                                      "the protocol's grace period (rules/study.toml)."))


def _criteria_text(rule) -> str:
    parts = []
    for c in rule.counts:
        bits = []
        if c.serious is not None:
            bits.append("serious" if c.serious else "non-serious")
        if c.min_grade is not None:
            bits.append(f"CTCAE grade >= {c.min_grade}")
        if c.min_relatedness is not None:
            bits.append(f"related at least '{c.min_relatedness}' to the cells or the procedure")
        if c.phase is not None:
            bits.append(f"{c.phase} phase")
        parts.append(" and ".join(bits))
    return "; or ".join(parts)


def _stopping(pdf: DsmbPDF, sections: list[dict]) -> None:
    pdf.heading("2. Stopping rule")
    for s in sections:
        rule, pos = s["rule"], s["position"]
        pdf.para(f"{rule.title} ({rule.id}). Counted: a participant's first active, treatment-emergent AE that is "
                 f"{_criteria_text(rule)}. Crossed when P(rate > {rule.unacceptable_rate:.0%} | data) > "
                 f"{rule.threshold} with a Beta({rule.prior_a:g}, {rule.prior_b:g}) prior; denominator: "
                 f"participants injected (Thall & Simon 1994).")
        state = "CROSSED" if pos.crossed else "not crossed"
        line = (f"Position at the cut-off: {pos.x} of {pos.n} participants evaluated had a counted event; "
                f"posterior {pos.posterior:.4f} (threshold {pos.threshold}); boundary {state}.")
        if pos.crossing:
            c = pos.crossing
            line += (f" First crossed on {c.on} by AE {c.ae_id} of {c.subject_id} ({c.x} of {c.n}, posterior "
                     f"{c.posterior:.4f}).")
        pdf.para(line, 9, "B")
        pdf.figure(s["posterior_figure"])
        rows = [{"n": str(r.n), "x": "-" if r.x is None else str(r.x), "p": _num(r.posterior, "{:.4f}")}
                for r in s["boundary"]]
        pdf.table_block(_t("Boundary", "Boundary table", [("n", "Participants evaluated", 14),
                                                          ("x", "Events that cross", 14),
                                                          ("p", "Posterior at that count", 16)], rows,
                           "For each number of participants evaluated, the fewest participants with a counted "
                           "event whose posterior is above the threshold."))
        counted = [{k: str(v) for k, v in c.items()} for c in pos.counted]
        pdf.table_block(_t("Counted", "Participants counted", [("subject_id", "Subject", 10),
                                                               ("ae_id", "AE id", 8), ("onset", "Onset", 10),
                                                               ("term", "Term", 30), ("grade", "Grade", 6),
                                                               ("serious", "Serious", 7)], counted))


def _rates(pdf: DsmbPDF, rates, clusters, rule) -> None:
    pdf.heading("3. Event rates and clusters")
    rows = [{"label": r.label, "p": f"{r.participants}/{r.n} ({_pct(r.proportion)})",
             "ci": f"{_pct(r.ci_low)} - {_pct(r.ci_high)}", "events": str(r.events),
             "exp": _num(r.exposure_months, "{:.1f}"), "rate": _num(r.rate),
             "rci": "" if r.rate is None else f"{_num(r.rate_low)} - {_num(r.rate_high)}"} for r in rates]
    pdf.table_block(_t("Rates", "Participants with events and exposure-adjusted rates",
                       [("label", "Category", 30), ("p", "Participants", 14), ("ci", "95% CI (Clopper-Pearson)", 18),
                        ("events", "Events", 7), ("exp", "Participant-months", 12),
                        ("rate", "per 100 p-months", 12), ("rci", "95% CI (exact Poisson)", 16)], rows,
                       "Treatment-emergent, active AEs of injected participants. Early exposure is the early window "
                       "of each participant, late the rest."))
    crow = [{"term": c.term, "first": c.first_onset, "last": c.last_onset, "n": str(len(c.participants)),
             "who": ", ".join(c.participants[:12]) + (f" and {len(c.participants) - 12} more (listed below)"
                                                      if len(c.participants) > 12 else "")} for c in clusters]
    pdf.table_block(_t("Clusters", "Clusters of one term", [("term", "CTCAE term", 26), ("first", "First onset", 10),
                                                            ("last", "Last onset", 10), ("n", "Participants", 9),
                                                            ("who", "Subjects", 40)], crow,
                       f"The same term in at least {rule.min_participants} participants with onsets at most "
                       f"{rule.window_days} days apart."))
    for c in clusters:
        if len(c.participants) > 12:
            pdf.para(f"{c.term} from {c.first_onset}: {', '.join(c.participants)}", 7)


def _change(pdf: DsmbPDF, change: dict) -> None:
    from ..domain.change_from_baseline import LABELS
    pdf.heading("5. Change from baseline")
    pdf.para("Baseline: the last value at or before the injection. Differences are follow-up minus baseline with a "
             "t interval; UACR is a geometric mean ratio (log scale). p: Wilcoxon signed-rank, two-sided. Missing "
             "values are listed and never imputed.", 8)
    for analyte, label in LABELS.items():
        rows = []
        for r in change["rows"]:
            if r.analyte != analyte:
                continue
            ci = "" if r.low is None else f"{_num(r.low)} to {_num(r.high)}"
            rows.append({"visit": r.visit, "n": str(r.n), "est": _num(r.estimate), "ci": ci,
                         "p": _num(r.p_value, "{:.3f}"), "missing": str(len(r.missing)),
                         "nob": str(len(r.no_baseline))})
        est = "Geometric mean ratio" if analyte == "uacr" else "Mean change"
        pdf.table_block(_t(analyte, label, [("visit", "Visit", 7), ("n", "n", 5), ("est", est, 14),
                                            ("ci", "95% CI", 18), ("p", "Wilcoxon p", 9),
                                            ("missing", "Missing (expected, no value)", 14),
                                            ("nob", "Value but no baseline", 14)], rows))
        # the participants themselves as text that may run over pages (a table row may not)
        for r in change["rows"]:
            if r.analyte == analyte and (r.missing or r.no_baseline):
                parts = [f"missing: {', '.join(r.missing)}" if r.missing else "",
                         f"no baseline: {', '.join(r.no_baseline)}" if r.no_baseline else ""]
                pdf.para(f"{r.visit} - " + "; ".join(p for p in parts if p), 7)
        pdf.figure(change["figures"].get(analyte), width=95)
    ss = change["slope_summary"]
    pdf.para(f"eGFR slope (mL/min/1.73 m2 per year), participants with values before and after the injection: "
             f"n = {ss.n}; mean before {_num(ss.mean_before)}, after {_num(ss.mean_after)}; difference "
             f"{_num(ss.difference.estimate)} (95% CI {_num(ss.difference.low)} to {_num(ss.difference.high)}), "
             f"Wilcoxon p {_num(ss.wilcoxon.p_value, '{:.3f}')}.")
    rows = [{"s": s.subject_id, "nb": str(s.n_before), "b": _num(s.slope_before), "na": str(s.n_after),
             "a": _num(s.slope_after)} for s in change["slopes"]]
    pdf.table_block(_t("Slopes", "eGFR slope per participant", [("s", "Subject", 10), ("nb", "Values before", 10),
                                                                ("b", "Slope before", 12), ("na", "Values after", 10),
                                                                ("a", "Slope after", 12)], rows,
                       "A slope needs values on two different days; otherwise it is blank."))


def _saes(pdf: DsmbPDF, saes: list[dict]) -> None:
    pdf.heading("6. Serious adverse events: narratives")
    if not saes:
        pdf.para("No serious adverse event up to the cut-off.")
    for a in saes:
        pdf.para(f"{a['subject_id']} AE {a['id']} (seq {a.get('seq')}): {a['term']}, grade {a['grade']}, onset "
                 f"{a['onset']} (day {a.get('onset_day')}), outcome {a.get('outcome')}", 9, "B")
        pdf.para(f"Criteria: {', '.join(a.get('seriousness') or []) or '-'}; relatedness to the cells "
                 f"{a.get('relatedness_product')}, to the procedure {a.get('relatedness_procedure')}; expected "
                 f"{a.get('expected')}; SUSAR {'yes' if a.get('susar') else 'no'}. Narrative: "
                 f"{a.get('description') or '(none recorded)'}", 8)


def write_dsmb_pdf(report: dict) -> bytes:
    """The report (from dsmb.build with image="png") as PDF bytes."""
    pdf = DsmbPDF(report)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 9, f"{report['title']}", new_x="LMARGIN", new_y="NEXT")
    pdf.para(f"Data cut-off: {report['cutoff']} ({report['tz']}): injections, AE onsets, visits and samples up to "
             f"{report['as_of']} UTC. Database snapshot: as held at {report['held_at']} UTC (AEs as their version of "
             f"that moment). The same cut-off and snapshot reproduce this report byte for byte.", 10)
    if report["missing_sources"]:
        pdf.para("Not yet available in this service, so not in this report: "
                 + ", ".join(report["missing_sources"]) + ".", 10)
    if report["rules_digests"]:
        pdf.para("Rules files (SHA-256): " + "; ".join(f"{k} {v[:16]}" for k, v in report["rules_digests"].items()), 7)
    _enrolment(pdf, report["enrolment"])
    _stopping(pdf, report["stopping"])
    _rates(pdf, report["rates"], report["clusters"], report["cluster_rule"])
    pdf.heading("4. Summary tables")
    if report["summary"]["available"]:
        for t in report["summary"]["tables"]:
            pdf.table_block(t)
    else:
        pdf.para(f"Placeholder: {report['summary']['reason']}.")
    _change(pdf, report["change"])
    _saes(pdf, report["saes"])
    pdf.signature_block()
    return bytes(pdf.output())
