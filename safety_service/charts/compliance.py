"""Visit compliance by scheduled visit: of the visits already due, how many were done in the window, done late,
are overdue or missed. One stacked 100 % bar per visit, each part also labelled with its count."""
from __future__ import annotations

from dataclasses import dataclass

from .svg import GREEN, MUTED, ORANGE, SKY, VERMILION, Canvas, Chart, Scale, Table, legend, x_axis

WIDTH, LEFT, RIGHT, TOP, BAR, GAP, BOTTOM = 960, 86, 24, 12, 26, 12, 74
PARTS = (("in_window", GREEN, "done in window"), ("late", SKY, "done outside window"),
         ("overdue", ORANGE, "overdue"), ("missed", VERMILION, "missed"))


@dataclass(frozen=True)
class VisitCompliance:
    visit: str
    label: str
    in_window: int
    late: int
    overdue: int
    missed: int
    upcoming: int                 # not yet due: outside the denominator

    @property
    def due(self) -> int:
        return self.in_window + self.late + self.overdue + self.missed

    @property
    def percent_in_window(self) -> float | None:
        return round(100.0 * self.in_window / self.due, 1) if self.due else None


def compliance_chart(chart_id: str, rows: list[VisitCompliance], title: str = "Visit compliance by visit") -> Chart:
    """The bars and a table of the counts behind them."""
    def pct(r):
        return "—" if r.percent_in_window is None else f"{r.percent_in_window:g} %"
    summary = "; ".join(f"{r.label}: {r.in_window} of {r.due} due done in window ({pct(r)})" for r in rows) + "."
    table = Table("Visit compliance (visits already due)",
                  ["Visit", "Due", "Done in window", "Done outside window", "Overdue", "Missed", "Not yet due",
                   "In window"],
                  [[r.label, r.due, r.in_window, r.late, r.overdue, r.missed, r.upcoming, pct(r)] for r in rows])
    height = TOP + max(len(rows), 1) * (BAR + GAP) + BOTTOM
    c = Canvas(chart_id, WIDTH, height, title, summary)
    sx = Scale(0, 100, LEFT, WIDTH - RIGHT)
    bottom = TOP + max(len(rows), 1) * (BAR + GAP)
    x_axis(c, sx, [0, 20, 40, 60, 80, 100], bottom, "Share of the visits already due (%)", top=TOP,
           fmt=lambda t: f"{t:g} %")
    for i, r in enumerate(rows):
        y = TOP + i * (BAR + GAP) + GAP / 2
        with c.group(f"visit visit-{r.visit}", f"{r.label}: {r.due} due"):
            c.text(LEFT - 6, y + BAR / 2 + 4, r.label, size=12, anchor="end")
            if not r.due:
                c.text(LEFT + 4, y + BAR / 2 + 4, f"not yet due ({r.upcoming} upcoming)", size=11, fill=MUTED)
                continue
            acc = 0.0
            for key, colour, text in PARTS:
                count = getattr(r, key)
                if not count:
                    continue
                share = 100.0 * count / r.due
                x0, x1 = sx(acc), sx(acc + share)
                c.rect(x0, y, x1 - x0, BAR, colour, cls=f"part {key}", label=f"{r.label}: {count} {text}")
                if x1 - x0 > 22:
                    c.text((x0 + x1) / 2, y + BAR / 2 + 4, str(count), size=11, anchor="middle",
                           fill="#000000" if colour in (SKY, ORANGE) else "#ffffff", weight="600")
                acc += share
    legend(c, [("bar", colour, text) for _, colour, text in PARTS], LEFT, height - 14)
    return Chart(chart_id, title, summary, c.render(), table)
