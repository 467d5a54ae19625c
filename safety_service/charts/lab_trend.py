"""One participant's eGFR or UACR over study days, with baseline, reference lines, visits and breaching values.

A pure function of the points given: which values breached a rule is decided by the labs domain and arrives
here as rule ids on each point.
"""
from __future__ import annotations

from dataclasses import dataclass

from .svg import (BLUE, INK, LINE, MUTED, ORANGE, VERMILION, Canvas, Chart, Scale, Table, label_number, legend,
                  log_ticks, nice_ticks, x_axis, y_axis)

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 110, 34, 70


@dataclass(frozen=True)
class LabPoint:
    day: int                      # study day of collection (day 1 = injection day, no day 0)
    value: float                  # canonical unit
    on: str                       # collection date, YYYY-MM-DD (for the table)
    visit: str | None = None
    breaches: tuple[str, ...] = ()  # rule ids this value breached


@dataclass(frozen=True)
class RefLine:
    value: float
    label: str
    colour: str
    dash: str | None = "6 4"


@dataclass(frozen=True)
class VisitMark:
    day: int                      # target study day of the visit
    label: str                    # "M1"
    done: bool


def x_extent(points: list[LabPoint], visits: list[VisitMark], today_day: int | None) -> tuple[float, float]:
    """The study-day range a participant's charts share, so the lab charts and the AE timeline line up."""
    days = [p.day for p in points] + [v.day for v in visits] + ([today_day] if today_day is not None else []) + [1]
    return min(min(days), -7), max(days) + 7


def egfr_reference_lines(baseline: float | None) -> list[RefLine]:
    """Baseline and the -30 % / -40 % declines: surrogate end points for kidney failure (Levey et al., AJKD 2014;
    NKF-FDA-EMA workshop). A decline of 30 % leaves 70 % of baseline."""
    if baseline is None:
        return []
    return [RefLine(baseline, "Baseline", INK, None),
            RefLine(baseline * 0.70, "−30 %", ORANGE),
            RefLine(baseline * 0.60, "−40 %", VERMILION)]


def uacr_reference_lines(baseline: float | None) -> list[RefLine]:
    """Baseline and the KDIGO 2012 albuminuria category bounds: A2 from 30 mg/g, A3 above 300 mg/g."""
    lines = [RefLine(30.0, "A2", MUTED, "2 3"), RefLine(300.0, "A3", MUTED, "2 3")]
    if baseline is not None:
        lines.insert(0, RefLine(baseline, "Baseline", INK, None))
    return lines


def lab_trend(chart_id: str, *, title: str, analyte_label: str, unit: str, points: list[LabPoint],
              reference: list[RefLine], visits: list[VisitMark], x_range: tuple[float, float],
              log: bool = False) -> Chart:
    """The trend chart and its table. Points need not be sorted. Raises ValueError for a value <= 0 on a log axis."""
    pts = sorted(points, key=lambda p: (p.day, p.on))
    if log and any(p.value <= 0 for p in pts):
        raise ValueError(f"{analyte_label}: a value <= 0 cannot be drawn on a log axis")
    n_breach = sum(1 for p in pts if p.breaches)
    ref_text = "; ".join(f"{r.label} at {label_number(round(r.value, 1))}" for r in reference)
    summary = (f"{len(pts)} value{'s' if len(pts) != 1 else ''} of {analyte_label} ({unit})"
               + (f" from {label_number(pts[0].value)} on day {pts[0].day} to {label_number(pts[-1].value)} on day "
                  f"{pts[-1].day}" if pts else "")
               + f"; {n_breach} breached a rule" + (f". Reference lines: {ref_text}" if ref_text else "") + ".")
    table = Table(f"{analyte_label} values ({unit})", ["Date", "Study day", "Visit", f"Value ({unit})", "Breached"],
                  [[p.on, p.day, p.visit or "", label_number(p.value), ", ".join(p.breaches)] for p in pts])
    c = Canvas(chart_id, WIDTH, HEIGHT, title, summary)
    x0, x1 = x_range
    sx = Scale(x0, x1, LEFT, WIDTH - RIGHT)
    values = [p.value for p in pts] + [r.value for r in reference]
    if not values:
        c.text(WIDTH / 2, HEIGHT / 2, f"No {analyte_label} values yet", size=14, anchor="middle", fill=MUTED)
        return Chart(chart_id, title, summary, c.render(), table)
    lo, hi = min(values), max(values)
    if log:
        ticks = log_ticks(lo, hi)
        sy = Scale(min(ticks[0], lo), max(ticks[-1], hi), HEIGHT - BOTTOM, TOP, log=True)
    else:
        pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 1)
        ticks = nice_ticks(max(lo - pad, 0) if lo >= 0 else lo - pad, hi + pad)
        sy = Scale(ticks[0], ticks[-1], HEIGHT - BOTTOM, TOP)
    top, bottom = TOP, HEIGHT - BOTTOM
    y_axis(c, sy, ticks, LEFT, f"{analyte_label} ({unit})", right=WIDTH - RIGHT)
    x_axis(c, sx, nice_ticks(x0, x1, 8)[1:-1] if x1 - x0 > 20 else nice_ticks(x0, x1, 8), bottom,
           "Study day (day 1 = injection)")
    with c.group("visits", "Scheduled visits"):
        for v in visits:
            if x0 <= v.day <= x1:
                x = sx(v.day)
                c.line(x, top, x, bottom, stroke=LINE if not v.done else MUTED, width=1, dash="3 3")
                c.text(x, top - 6, v.label + (" ✓" if v.done else ""), size=11, anchor="middle", fill=MUTED)
    with c.group("injection", "Injection day"):
        c.line(sx(1), top, sx(1), bottom, stroke=BLUE, width=1.5)
        c.text(sx(1) + 3, bottom - 6, "injection", size=10, fill=BLUE)
    with c.group("reference-lines", "Reference lines"):
        for r in reference:
            y = sy(r.value)
            c.line(LEFT, y, WIDTH - RIGHT, y, stroke=r.colour, width=1.5, dash=r.dash)
            c.text(WIDTH - RIGHT + 6, y + 4, f"{r.label} {label_number(round(r.value, 1))}", size=11, fill=r.colour)
    with c.group("series", f"{analyte_label} values"):
        c.polyline([(sx(p.day), sy(p.value)) for p in pts], stroke=BLUE, width=2)
        for p in pts:
            label = f"{p.on} (day {p.day}{', ' + p.visit if p.visit else ''}): {label_number(p.value)} {unit}"
            if p.breaches:
                c.circle(sx(p.day), sy(p.value), 7, VERMILION, stroke=INK, stroke_width=2, cls="point breach",
                         label=label + " — breached " + ", ".join(p.breaches))
            else:
                c.circle(sx(p.day), sy(p.value), 4, BLUE, cls="point", label=label)
    legend(c, [("line", BLUE, analyte_label), ("dot", VERMILION, "value that breached a rule")], LEFT, HEIGHT - 12)
    return Chart(chart_id, title, summary, c.render(), table)


