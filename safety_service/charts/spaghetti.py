"""The cohort's eGFR change from baseline: a line per participant, the median at each scheduled visit on top.

The y axis is the percent change, so the -30 % and -40 % surrogate end points (Levey et al., AJKD 2014) are
horizontal lines; a participant whose line reached one of them is drawn in vermilion, the rest in grey.
"""
from __future__ import annotations

from dataclasses import dataclass

from .svg import (BLACK, INK, MUTED, ORANGE, SOFT, VERMILION, Canvas, Chart, Scale, Table, label_number, legend,
                  nice_ticks, x_axis, y_axis)

WIDTH, HEIGHT = 960, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 70, 16, 74


@dataclass(frozen=True)
class Trajectory:
    subject_id: str
    points: tuple[tuple[int, float], ...]   # (study day, percent change from baseline), after the injection
    worst: float | None                     # lowest percent change reached


@dataclass(frozen=True)
class MedianPoint:
    visit: str
    day: int                                # nominal study day of the visit
    median: float                           # median percent change of the participants with a value
    n: int


def spaghetti(chart_id: str, trajectories: list[Trajectory], medians: list[MedianPoint],
              title: str = "eGFR change from baseline (%)") -> Chart:
    """The plot and its tables (median per visit; participants who reached -30 % / -40 %)."""
    lines = sorted(trajectories, key=lambda t: t.subject_id)
    fell30 = [t for t in lines if t.worst is not None and t.worst <= -30]
    fell40 = [t for t in fell30 if t.worst <= -40]
    fell_ids = {t.subject_id for t in fell30}
    median_text = ", ".join(f"{m.visit} {label_number(round(m.median, 1))} % (n={m.n})" for m in medians)
    summary = (f"{len(lines)} participants with a baseline eGFR; {len(fell30)} reached a 30 % decline and "
               f"{len(fell40)} a 40 % decline." + (f" Median change: {median_text}." if medians else ""))
    rows = [[m.visit, m.day, m.n, label_number(round(m.median, 1))] for m in medians]
    rows += [[f"{t.subject_id} (lowest)", "", "", label_number(round(t.worst, 1))] for t in fell30]
    table = Table("Median eGFR change by visit, then participants who reached −30 %",
                  ["Visit or participant", "Study day", "n", "Change (%)"], rows)
    c = Canvas(chart_id, WIDTH, HEIGHT, title, summary)
    all_pct = [p for t in lines for _, p in t.points] + [m.median for m in medians] + [-45.0, 10.0]
    ticks = nice_ticks(min(all_pct), max(all_pct), 8)
    sy = Scale(ticks[0], ticks[-1], HEIGHT - BOTTOM, TOP)
    x_max = max([d for t in lines for d, _ in t.points] + [m.day for m in medians] + [30])
    sx = Scale(0, x_max * 1.03, LEFT, WIDTH - RIGHT)
    bottom = HEIGHT - BOTTOM
    y_axis(c, sy, ticks, LEFT, "Change from baseline (%)", right=WIDTH - RIGHT)
    x_axis(c, sx, [t for t in nice_ticks(0, x_max, 8) if t <= x_max * 1.03], bottom, "Study day (day 1 = injection)")
    with c.group("reference-lines", "Reference lines at 0, −30 % and −40 %"):
        for value, colour, text, dash in ((0, INK, "0", None), (-30, ORANGE, "−30 %", "6 4"),
                                          (-40, VERMILION, "−40 %", "6 4")):
            y = sy(value)
            c.line(LEFT, y, WIDTH - RIGHT, y, stroke=colour, width=1.5, dash=dash)
            c.text(WIDTH - RIGHT + 6, y + 4, text, size=11, fill=colour)
    with c.group("participants", "One line per participant"):
        # the participants who fell are drawn last so they stay visible above the grey mass
        for t in sorted(lines, key=lambda t: (t.subject_id in fell_ids, t.subject_id)):
            pts = [(sx(d), sy(p)) for d, p in sorted(t.points)]
            fell = t.subject_id in fell_ids
            label = f"{t.subject_id}: lowest {label_number(round(t.worst, 1))} %" if t.worst is not None else t.subject_id
            if len(pts) == 1:
                c.circle(pts[0][0], pts[0][1], 2.5, VERMILION if fell else SOFT, label=label,
                         cls="participant fell" if fell else "participant")
            elif pts:
                c.polyline(pts, VERMILION if fell else SOFT, width=1.6 if fell else 1.1, label=label,
                           cls="participant fell" if fell else "participant", opacity=None if fell else 0.8)
    with c.group("median", "Median change at each scheduled visit"):
        if medians:
            c.polyline([(sx(m.day), sy(m.median)) for m in medians], BLACK, width=3, cls="median")
        for m in medians:
            c.circle(sx(m.day), sy(m.median), 5, BLACK, stroke="#ffffff", cls="median-point",
                     label=f"{m.visit}: median {label_number(round(m.median, 1))} % (n={m.n})")
            c.text(sx(m.day), sy(m.median) - 10, m.visit, size=11, anchor="middle", fill=BLACK, weight="600")
    legend(c, [("line", BLACK, "median at each visit"), ("line", SOFT, "participant"),
               ("line", VERMILION, "participant who reached −30 %"), ("dash", ORANGE, "−30 %"),
               ("dash", VERMILION, "−40 %")], LEFT, HEIGHT - 14)
    if not lines:
        c.text(WIDTH / 2, HEIGHT / 2 - 30, "No eGFR values after a baseline yet", size=14, anchor="middle",
               fill=MUTED)
    return Chart(chart_id, title, summary, c.render(), table)
