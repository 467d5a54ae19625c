"""One participant's adverse events as bars over study days, on the same x range as the lab charts above it.

Colour says the CTCAE grade; a serious event (ICH E2A) also gets a black outline and "SAE" in its label, so
seriousness never depends on colour alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from .svg import BLACK, BLUE, GRADE_COLOURS, MUTED, Canvas, Chart, Scale, Table, legend, nice_ticks, x_axis

WIDTH, LEFT, RIGHT = 960, 64, 110
ROW, TOP, BOTTOM = 30, 14, 66


@dataclass(frozen=True)
class AeMark:
    seq: int
    term: str                     # CTCAE v5.0 term
    grade: int                    # 1-5
    serious: bool
    onset_day: int                # study day
    end_day: int | None           # None while ongoing
    onset: str                    # YYYY-MM-DD
    end: str | None
    outcome: str = ""


def ae_timeline(chart_id: str, aes: list[AeMark], x_range: tuple[float, float], today_day: int | None,
                title: str = "Adverse events by study day") -> Chart:
    """Bars from onset to end (to today, open-ended, while ongoing), oldest first."""
    marks = sorted(aes, key=lambda a: (a.onset_day, a.seq))
    n_sae = sum(a.serious for a in marks)
    summary = (f"{len(marks)} adverse event{'s' if len(marks) != 1 else ''}, {n_sae} serious"
               + (f"; highest grade {max(a.grade for a in marks)}" if marks else "") + ".")
    table = Table("Adverse events", ["AE", "Term", "Grade", "Serious", "Onset (day)", "End (day)", "Outcome"],
                  [[a.seq, a.term, a.grade, "yes" if a.serious else "no", f"{a.onset} ({a.onset_day})",
                    f"{a.end} ({a.end_day})" if a.end else "ongoing", a.outcome.replace("_", " ")] for a in marks])
    height = TOP + max(len(marks), 1) * ROW + BOTTOM
    c = Canvas(chart_id, WIDTH, height, title, summary)
    x0, x1 = x_range
    sx = Scale(x0, x1, LEFT, WIDTH - RIGHT)
    bottom = height - BOTTOM
    x_axis(c, sx, nice_ticks(x0, x1, 8)[1:-1] if x1 - x0 > 20 else nice_ticks(x0, x1, 8), bottom,
           "Study day (day 1 = injection)", top=TOP)
    c.line(sx(1), TOP, sx(1), bottom, stroke=BLUE, width=1.5)
    if not marks:
        c.text(WIDTH / 2, TOP + ROW / 2 + 4, "No adverse events recorded", size=13, anchor="middle", fill=MUTED)
    with c.group("events", "Adverse events"):
        for i, a in enumerate(marks):
            y = TOP + i * ROW + 14
            end = a.end_day if a.end_day is not None else (today_day if today_day is not None else a.onset_day)
            left, right = sx(max(a.onset_day, x0)), sx(min(max(end, a.onset_day), x1))
            colour = GRADE_COLOURS.get(a.grade, MUTED)
            label = (f"AE {a.seq}: {a.term}, grade {a.grade}{', serious' if a.serious else ''}, onset {a.onset} "
                     f"(day {a.onset_day}), " + (f"ended {a.end} (day {a.end_day})" if a.end else "ongoing"))
            cls = f"ae grade-{a.grade}" + (" sae" if a.serious else "")
            c.rect(left, y, max(right - left, 6), 10, colour, stroke=BLACK if a.serious else None, cls=cls,
                   label=label, stroke_width=2)
            if a.end_day is None:  # an open end: the event is not over
                c.text(right + 3, y + 9, "→", size=12, fill=MUTED)
            text = f"{a.term} · G{a.grade}" + (" · SAE" if a.serious else "")
            # the label sits above its bar, clear of the injection line; right-aligned in the right half
            anchor, tx = ("end", right) if left > WIDTH / 2 else ("start", left + 4)
            c.text(tx, y - 3, text, size=11, anchor=anchor, weight="600" if a.serious else None)
    legend(c, [("bar", GRADE_COLOURS[g], f"grade {g}") for g in range(1, 6)]
           + [("outline", "#ffffff", "serious (SAE): black outline")], LEFT, height - 12)
    return Chart(chart_id, title, summary, c.render(), table)
