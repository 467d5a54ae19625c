"""Figures for the DSMB report PDF: matplotlib ``Figure`` objects (never pyplot's global state),
saved as PNG, byte-identical for the same data (no dates). The pages draw the same figures as hand-built SVG
(charts/signals.py): matplotlib is for print only.
"""
from __future__ import annotations

import io
from datetime import date

import matplotlib
from matplotlib.figure import Figure

from ..domain.change_from_baseline import LABELS
from ..domain.stopping import Position, StoppingRule

# Okabe-Ito, as in static/style.css
BLUE, ORANGE, VERMILION, GREEN, GREY = "#0072b2", "#e69f00", "#d55e00", "#009e73", "#5b6876"
_RC = {"font.family": "DejaVu Sans", "font.size": 9}


def _figure(width: float = 7.0, height: float = 3.2) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes for the PDF (no software or date metadata)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def posterior_over_time(rule: StoppingRule, pos: Position) -> Figure:
    """The posterior P(rate > limit) after each injection and each first counted event, with the threshold."""
    with matplotlib.rc_context(_RC):
        fig = _figure()
        ax = fig.add_subplot()
        pts = pos.trajectory
        if pts:
            xs = [date.fromisoformat(p.on) for p in pts]
            ys = [p.posterior for p in pts]
            cut = date.fromisoformat(pos.as_of[:10])
            if cut > xs[-1]:  # carry the line on to the data cut-off
                xs, ys = xs + [cut], ys + [ys[-1]]
            ax.step(xs, ys, where="post", color=BLUE, linewidth=1.6, label="Posterior P(rate > limit)")
            ev = [(date.fromisoformat(p.on), p.posterior) for p in pts if p.kind == "event"]
            if ev:
                ax.plot([e[0] for e in ev], [e[1] for e in ev], "o", color=VERMILION, markersize=5,
                        label="Counted event")
            if pos.crossing:
                ax.annotate("crossed", (date.fromisoformat(pos.crossing.on), pos.crossing.posterior),
                            textcoords="offset points", xytext=(6, -12), color=VERMILION)
            fig.autofmt_xdate()
        else:
            ax.text(0.5, 0.5, "No participant injected yet", ha="center", va="center", transform=ax.transAxes)
        ax.axhline(rule.threshold, color=ORANGE, linestyle="--", linewidth=1.2,
                   label=f"Threshold {rule.threshold:.2f}")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(f"P(rate > {rule.unacceptable_rate:.0%})")
        ax.set_title(rule.title, fontsize=9)
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        ax.grid(True, alpha=0.3)
    return fig


def boundary_chart(rule: StoppingRule, table, pos: Position) -> Figure:
    """Events needed to cross at each n (the boundary), and where the trial stands now."""
    with matplotlib.rc_context(_RC):
        fig = _figure(7.0, 2.8)
        ax = fig.add_subplot()
        ns = [r.n for r in table if r.x is not None]
        xs = [r.x for r in table if r.x is not None]
        ax.step(ns, xs, where="mid", color=ORANGE, linewidth=1.6, label="Boundary: events that cross")
        ax.plot([pos.n], [pos.x], "o", color=VERMILION if pos.above else BLUE, markersize=7,
                label=f"Now: {pos.x} of {pos.n}")
        ax.set_xlabel("Participants evaluated (injected)")
        ax.set_ylabel("Participants with a counted event")
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        ax.grid(True, alpha=0.3)
    return fig


def change_chart(analyte: str, rows) -> Figure:
    """Mean change (or geometric mean ratio) with its 95 % interval at each visit; n under each point."""
    rows = [r for r in rows if r.analyte == analyte]
    ratio = bool(rows) and rows[0].scale == "ratio"
    with matplotlib.rc_context(_RC):
        fig = _figure(3.4, 2.6)
        ax = fig.add_subplot()
        for i, r in enumerate(rows):
            if r.estimate is None:
                continue
            lo = r.estimate - r.low if r.low is not None else 0
            hi = r.high - r.estimate if r.high is not None else 0
            ax.errorbar([i], [r.estimate], yerr=[[lo], [hi]], fmt="o", color=BLUE, capsize=3)
        ax.axhline(1.0 if ratio else 0.0, color=GREY, linewidth=0.8)
        ax.set_xticks(range(len(rows)), [f"{r.visit}\nn={r.n}" for r in rows], fontsize=7)
        if ratio:
            ax.set_yscale("log")
        ax.set_title(LABELS.get(analyte, analyte) + (": ratio to baseline" if ratio else ": change"), fontsize=8)
        ax.grid(True, alpha=0.3)
    return fig
