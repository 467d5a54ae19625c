"""The cohort swimmer plot: one lane per participant, days on study, adverse events as marks on their onset day.

Colour says the CTCAE grade; a serious event is a diamond with a black outline (shape, not colour alone).
Lanes are sorted longest follow-up first; with many participants the lanes thin and lane labels are dropped
(the table alternative keeps every participant).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .svg import BLACK, GRADE_COLOURS, LINE, MUTED, SOFT, Canvas, Chart, Scale, Table, legend, nice_ticks, x_axis

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 960, 86, 24, 12, 74
MAX_PLOT_HEIGHT = 1100


class SwimMark(NamedTuple):  # a tuple, not a frozen dataclass: the dashboard makes one per AE at every redraw
    day: int                      # study day of onset
    grade: int
    serious: bool
    term: str


@dataclass(frozen=True)
class SwimLane:
    subject_id: str
    days_on_study: int            # study day reached today (or at completion)
    status: str                   # participant status: active / withdrawn / completed
    marks: tuple[SwimMark, ...] = ()


def lane_height(n: int) -> float:
    """18 px lanes for a small cohort, thinner for a large one so the plot stays under MAX_PLOT_HEIGHT (>= 2 px)."""
    return max(2.0, min(18.0, MAX_PLOT_HEIGHT / max(n, 1)))


def swimmer(chart_id: str, lanes: list[SwimLane], title: str = "Days on study and adverse events") -> Chart:
    """The plot and a table with a row per participant (AEs, highest grade, SAEs)."""
    order = sorted(lanes, key=lambda l: (-l.days_on_study, l.subject_id))
    n_marks = sum(len(l.marks) for l in order)
    n_sae = sum(m.serious for l in order for m in l.marks)
    summary = (f"{len(order)} participants, {n_marks} adverse events ({n_sae} serious); longest follow-up "
               f"{order[0].days_on_study if order else 0} days.")
    table = Table("Days on study and adverse events per participant",
                  ["Participant", "Days on study", "Status", "AEs", "Highest grade", "SAEs", "Events (day: term, grade)"],
                  [[l.subject_id, l.days_on_study, l.status, len(l.marks),
                    max((m.grade for m in l.marks), default=""), sum(m.serious for m in l.marks),
                    "; ".join(f"{m.day}: {m.term} G{m.grade}{' SAE' if m.serious else ''}"
                              for m in sorted(l.marks, key=lambda m: (m.day, m.term)))]
                   for l in order])
    lane = lane_height(len(order))
    plot_h = max(lane * len(order), 40)
    height = int(TOP + plot_h + BOTTOM)
    c = Canvas(chart_id, WIDTH, height, title, summary)
    x_max = max([l.days_on_study for l in order] + [m.day for l in order for m in l.marks] + [30])
    sx = Scale(0, x_max * 1.02, LEFT, WIDTH - RIGHT)
    bottom = TOP + plot_h
    x_axis(c, sx, [t for t in nice_ticks(0, x_max, 8) if t <= x_max * 1.02], bottom, "Days on study", top=TOP)
    show_labels = lane >= 11
    r = max(1.8, min(6.0, lane * 0.36))
    with c.group("lanes", "Participants"):
        for i, l in enumerate(order):
            y = TOP + i * lane + lane / 2
            fill = SOFT if l.status == "active" else LINE
            c.rect(sx(0), y - lane * 0.3, sx(max(l.days_on_study, 0)) - sx(0), max(lane * 0.6, 1), fill,
                   cls=f"lane status-{l.status}", label=f"{l.subject_id}: {l.days_on_study} days, {l.status}")
            if show_labels:
                c.text(LEFT - 6, y + 4, l.subject_id, size=11, anchor="end", fill=MUTED)
    with c.group("events", "Adverse events"):
        for i, l in enumerate(order):
            y = TOP + i * lane + lane / 2
            # serious marks last so a diamond is never hidden under a dot on the same day
            for m in sorted(l.marks, key=lambda m: (m.serious, m.grade, m.day)):
                label = f"{l.subject_id} day {m.day}: {m.term}, grade {m.grade}{' (SAE)' if m.serious else ''}"
                colour = GRADE_COLOURS.get(m.grade, MUTED)
                if m.serious:
                    c.diamond(sx(m.day), y, r * 1.5, colour, stroke=BLACK, cls=f"ae sae grade-{m.grade}", label=label)
                else:
                    c.circle(sx(m.day), y, r, colour, stroke="#ffffff", stroke_width=0.8, cls=f"ae grade-{m.grade}",
                             label=label)
    legend(c, [("dot", GRADE_COLOURS[g], f"grade {g}") for g in range(1, 6)]
           + [("diamond", "#ffffff", "serious (SAE)"), ("bar", SOFT, "on study"), ("bar", LINE, "ended")],
           LEFT, height - 14)
    return Chart(chart_id, title, summary, c.render(), table)
