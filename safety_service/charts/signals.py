"""The signal pages' charts: the stopping rule's posterior over time, its boundary, and change from baseline.

Hand-built SVG like every other page chart (charts/svg.py), each with its table alternative; the DSMB PDF draws
the same figures with matplotlib (reports/charts.py), the one way to draw for print.
"""
from __future__ import annotations

from datetime import date

from ..domain.change_from_baseline import LABELS
from ..domain.stopping import Position, StoppingRule
from .svg import (BLUE, INK, MUTED, ORANGE, VERMILION, Canvas, Chart, Scale, Table, label_number, legend, log_ticks,
                  nice_ticks, x_axis, y_axis)

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 30, 74


def _pct(p: float) -> str:
    return f"{100 * p:.0f} %"


def posterior_over_time(rule: StoppingRule, pos: Position) -> Chart:
    """P(rate > limit) after each injection and each first counted event, as a step line with the threshold."""
    title = f"{rule.title}: posterior over time"
    pts = pos.trajectory
    summary = (f"{len(pts)} steps; posterior now {pos.posterior:.4f} against the threshold {rule.threshold}"
               + (f"; first crossed on {pos.crossing.on}" if pos.crossing else "; not crossed") + ".")
    # no subject ids here: the page shows them in its own table, hidden from a site-bound user for other sites
    table = Table("Posterior after each step", ["Date", "Step", "Evaluated", "Counted", "Posterior"],
                  [[p.on, p.kind, p.n, p.x, f"{p.posterior:.4f}"] for p in pts])
    c = Canvas(f"posterior-{rule.id}", WIDTH, HEIGHT, title, summary)
    if not pts:
        c.text(WIDTH / 2, HEIGHT / 2, "No participant injected yet", size=14, anchor="middle", fill=MUTED)
        return Chart(c.id, title, summary, c.render(), table)
    days = [date.fromisoformat(p.on).toordinal() for p in pts]
    end = max(days[-1], date.fromisoformat(pos.as_of[:10]).toordinal())
    sx = Scale(days[0], end if end > days[0] else days[0] + 1, LEFT, WIDTH - RIGHT)
    sy = Scale(0, 1, HEIGHT - BOTTOM, TOP)
    y_axis(c, sy, [0, 0.25, 0.5, 0.75, 1], LEFT, f"P(rate > {_pct(rule.unacceptable_rate)})", right=WIDTH - RIGHT,
           fmt=lambda v: f"{v:.2f}")
    ticks = [t for t in nice_ticks(sx.d0, sx.d1, 5) if sx.d0 <= t <= sx.d1]
    x_axis(c, sx, ticks, HEIGHT - BOTTOM, "Date", fmt=lambda t: date.fromordinal(int(t)).isoformat())
    with c.group("threshold", f"Threshold {rule.threshold}"):
        c.line(LEFT, sy(rule.threshold), WIDTH - RIGHT, sy(rule.threshold), stroke=ORANGE, width=1.5, dash="6 4")
    steps, last = [], None
    for d, p in zip(days, pts):
        if last is not None:
            steps.append((sx(d), sy(last)))
        steps.append((sx(d), sy(p.posterior)))
        last = p.posterior
    steps.append((sx(end), sy(last)))
    with c.group("series", "Posterior"):
        c.polyline(steps, stroke=BLUE, width=2)
        for d, p in zip(days, pts):
            if p.kind == "event":
                c.circle(sx(d), sy(p.posterior), 5, VERMILION, cls="point event",
                         label=f"{p.on}: counted event, {p.x} of {p.n}, posterior {p.posterior:.4f}")
    if pos.crossing:
        x, y = sx(date.fromisoformat(pos.crossing.on).toordinal()), sy(pos.crossing.posterior)
        c.text(x + 8, y + 14, "crossed", size=11, fill=VERMILION, weight="bold")
    legend(c, [("line", BLUE, "Posterior P(rate > limit)"), ("dot", VERMILION, "Counted event"),
               ("dash", ORANGE, f"Threshold {rule.threshold}")], LEFT, HEIGHT - 14)
    return Chart(c.id, title, summary, c.render(), table)


def boundary_chart(rule: StoppingRule, rows, pos: Position) -> Chart:
    """Participants with a counted event that cross, for each number evaluated, and where the trial is now."""
    title = f"{rule.title}: boundary and position"
    known = [r for r in rows if r.x is not None]
    summary = f"Boundary for 1 to {len(rows)} participants evaluated; now {pos.x} of {pos.n}" + \
              (" (above the threshold)." if pos.above else ".")
    table = Table("Boundary", ["Evaluated", "Events that cross"], [[r.n, r.x] for r in known])
    c = Canvas(f"boundary-{rule.id}", WIDTH, HEIGHT, title, summary)
    n_hi = max([r.n for r in rows] + [pos.n, 1])
    x_hi = max([r.x for r in known] + [pos.x, 1])
    sx = Scale(0, n_hi + 1, LEFT, WIDTH - RIGHT)
    yt = nice_ticks(0, x_hi)
    sy = Scale(0, yt[-1], HEIGHT - BOTTOM, TOP)
    y_axis(c, sy, yt, LEFT, "With a counted event", right=WIDTH - RIGHT)
    x_axis(c, sx, [t for t in nice_ticks(0, n_hi + 1, 8) if t <= n_hi + 1], HEIGHT - BOTTOM,
           "Participants evaluated (injected)")
    steps = []
    for r in known:
        steps += [(sx(r.n - 0.5), sy(r.x)), (sx(r.n + 0.5), sy(r.x))]
    with c.group("boundary", "Boundary"):
        c.polyline(steps, stroke=ORANGE, width=2)
    with c.group("now", f"Now: {pos.x} of {pos.n}"):
        c.circle(sx(pos.n), sy(pos.x), 7, VERMILION if pos.above else BLUE, stroke=INK,
                 label=f"Now: {pos.x} of {pos.n}, posterior {pos.posterior:.4f}")
    legend(c, [("line", ORANGE, "Boundary: events that cross"),
               ("dot", VERMILION if pos.above else BLUE, f"Now: {pos.x} of {pos.n}")], LEFT, HEIGHT - 14)
    return Chart(c.id, title, summary, c.render(), table)


def change_chart(analyte: str, rows) -> Chart:
    """Mean change (or geometric mean ratio, on a log axis) with its 95 % interval at each visit; n under each."""
    rows = [r for r in rows if r.analyte == analyte]
    ratio = bool(rows) and rows[0].scale == "ratio"
    label = LABELS.get(analyte, analyte)
    title = f"{label}: {'ratio to baseline' if ratio else 'change from baseline'}"
    shown = [r for r in rows if r.estimate is not None]
    summary = "; ".join(f"{r.visit}: {label_number(round(r.estimate, 3))} (n={r.n})" for r in shown) or "No pair yet"
    table = Table(title, ["Visit", "n", "Estimate", "95 % CI low", "95 % CI high"],
                  [[r.visit, r.n, label_number(round(r.estimate, 3)),
                    "" if r.low is None else label_number(round(r.low, 3)),
                    "" if r.high is None else label_number(round(r.high, 3))] for r in shown])
    width = 380
    c = Canvas(f"change-{analyte}", width, HEIGHT, title, summary)
    if not shown:
        c.text(width / 2, HEIGHT / 2, "No pair with a baseline yet", size=13, anchor="middle", fill=MUTED)
        return Chart(c.id, title, summary, c.render(), table)
    values = [v for r in shown for v in (r.estimate, r.low, r.high) if v is not None] + [1.0 if ratio else 0.0]
    if ratio:
        values = [v for v in values if v > 0]
        yt = log_ticks(min(values), max(values))
        sy = Scale(min(yt[0], min(values)), max(yt[-1], max(values)), HEIGHT - BOTTOM, TOP, log=True)
    else:
        pad = (max(values) - min(values)) * 0.1 or 1
        yt = nice_ticks(min(values) - pad, max(values) + pad)
        sy = Scale(yt[0], yt[-1], HEIGHT - BOTTOM, TOP)
    sx = Scale(-0.5, len(rows) - 0.5, LEFT, width - RIGHT)
    y_axis(c, sy, yt, LEFT, "Ratio" if ratio else "Change", right=width - RIGHT)
    with c.group("axis x-axis", "Visits"):
        c.line(LEFT, HEIGHT - BOTTOM, width - RIGHT, HEIGHT - BOTTOM, stroke=MUTED)
        for i, r in enumerate(rows):
            c.text(sx(i), HEIGHT - BOTTOM + 16, r.visit, size=11, anchor="middle", fill=MUTED)
            c.text(sx(i), HEIGHT - BOTTOM + 30, f"n={r.n}", size=10, anchor="middle", fill=MUTED)
    zero = sy(1.0 if ratio else 0.0)
    c.line(LEFT, zero, width - RIGHT, zero, stroke=MUTED, width=1)
    with c.group("series", "Estimates with 95 % intervals"):
        for i, r in enumerate(rows):
            if r.estimate is None:
                continue
            x = sx(i)
            if r.low is not None and r.high is not None:
                c.line(x, sy(r.low), x, sy(r.high), stroke=BLUE, width=1.5)
                c.line(x - 4, sy(r.low), x + 4, sy(r.low), stroke=BLUE, width=1.5)
                c.line(x - 4, sy(r.high), x + 4, sy(r.high), stroke=BLUE, width=1.5)
            c.circle(x, sy(r.estimate), 5, BLUE, label=f"{r.visit}: {label_number(round(r.estimate, 3))} (n={r.n})")
    return Chart(c.id, title, summary, c.render(), table)
