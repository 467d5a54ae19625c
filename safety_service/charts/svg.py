"""The small SVG vocabulary every chart is built from: scales, nice ticks, escaped elements, the finished Chart.

Hand-built SVG (no matplotlib, no JavaScript) so a chart is a pure, deterministic function of its data: the same
data give the same bytes, the page needs no CDN, and the browser prints it sharp.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape

# Okabe-Ito, the colour-blind-safe palette of static/style.css (Okabe & Ito 2008, "Color Universal Design").
BLUE, SKY, GREEN, ORANGE, VERMILION, PURPLE, YELLOW, BLACK = (
    "#0072b2", "#56b4e9", "#009e73", "#e69f00", "#d55e00", "#cc79a7", "#f0e442", "#000000")
INK, MUTED, LINE, SOFT = "#1d2733", "#5b6876", "#d8dee6", "#9aa7b4"
# CTCAE grade colours, the same as .grade-1 .. .grade-5 in style.css.
GRADE_COLOURS = {1: SKY, 2: GREEN, 3: ORANGE, 4: VERMILION, 5: BLACK}


def esc(text) -> str:
    """Text or attribute value, escaped for XML."""
    return escape(str(text), quote=True)


@lru_cache(maxsize=8192)  # a chart repeats its coordinates (a lane's y, a day's x): thousands of calls per chart
def num(x: float) -> str:
    """A coordinate with two decimals at most and no trailing zeros: short, stable across platforms."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def label_number(x: float) -> str:
    """A tick or value label: integers without decimals, otherwise up to 3 significant digits."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.3g}"


def nice_step(span: float, count: int) -> float:
    """A 1, 2 or 5 x 10^k step giving about ``count`` intervals over ``span`` (Heckbert, Graphics Gems 1990)."""
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]. Raises ValueError if lo > hi."""
    if lo > hi:
        raise ValueError(f"tick range {lo} > {hi}")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    step = nice_step(hi - lo, count)
    first = math.floor(lo / step) * step
    ticks, k = [], 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 10))
        k += 1
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """1, 3, 10, 30... covering [lo, hi] (both > 0) for a log axis. Raises ValueError for a value <= 0."""
    if lo <= 0 or hi <= 0:
        raise ValueError("a log axis needs values above 0")
    out, e = [], math.floor(math.log10(lo))
    while True:
        for m in (1, 3):
            t = m * 10 ** e
            if lo / 3.01 <= t <= hi * 3.01:
                out.append(float(f"{t:.10g}"))
        if 10 ** e > hi:
            break
        e += 1
    return out


@dataclass(frozen=True)
class Scale:
    """Maps a data interval onto a pixel interval, linearly or on log10."""

    d0: float
    d1: float
    r0: float
    r1: float
    log: bool = False

    def __call__(self, v: float) -> float:
        a, b, x = (math.log10(self.d0), math.log10(self.d1), math.log10(v)) if self.log else (self.d0, self.d1, v)
        if b == a:
            return (self.r0 + self.r1) / 2
        return self.r0 + (x - a) * (self.r1 - self.r0) / (b - a)


@dataclass
class Table:
    """The text alternative of a chart: what it shows, as rows a screen reader and a printout can read."""

    caption: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Chart:
    """A finished chart: the SVG text, what it is about, and its table alternative."""

    id: str
    title: str
    summary: str
    svg: str
    table: Table

    def __html__(self) -> str:  # Jinja renders {{ chart }} as the SVG itself
        return self.svg


class Canvas:
    """Collects SVG elements; ``render`` wraps them in an <svg> with role, title, desc and aria labels."""

    def __init__(self, chart_id: str, width: int, height: int, title: str, desc: str):
        self.id, self.width, self.height, self.title, self.desc = chart_id, width, height, title, desc
        self.parts: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    def line(self, x1, y1, x2, y2, stroke=INK, width=1.0, dash: str | None = None, cls: str | None = None) -> None:
        extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{esc(cls)}"' if cls else "")
        self.add(f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{stroke}" '
                 f'stroke-width="{num(width)}"{extra}/>')

    def rect(self, x, y, w, h, fill, stroke: str | None = None, cls: str | None = None, label: str | None = None,
             stroke_width: float = 1.5) -> None:
        extra = (f' stroke="{stroke}" stroke-width="{num(stroke_width)}"' if stroke else "") \
            + (f' class="{esc(cls)}"' if cls else "")
        body = f"<title>{esc(label)}</title>" if label else ""
        self.add(f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}" '
                 f'fill="{fill}"{extra}>{body}</rect>' if body else
                 f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}" '
                 f'fill="{fill}"{extra}/>')

    def circle(self, cx, cy, r, fill, stroke: str | None = None, cls: str | None = None, label: str | None = None,
               stroke_width: float = 1.5) -> None:
        extra = (f' stroke="{stroke}" stroke-width="{num(stroke_width)}"' if stroke else "") \
            + (f' class="{esc(cls)}"' if cls else "")
        head = f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}" fill="{fill}"{extra}'
        self.add(f"{head}><title>{esc(label)}</title></circle>" if label else f"{head}/>")

    def diamond(self, cx, cy, r, fill, stroke=BLACK, cls: str | None = None, label: str | None = None) -> None:
        pts = f"{num(cx)},{num(cy - r)} {num(cx + r)},{num(cy)} {num(cx)},{num(cy + r)} {num(cx - r)},{num(cy)}"
        extra = f' class="{esc(cls)}"' if cls else ""
        head = f'<polygon points="{pts}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"{extra}'
        self.add(f"{head}><title>{esc(label)}</title></polygon>" if label else f"{head}/>")

    def polyline(self, points: list[tuple[float, float]], stroke, width=1.0, cls: str | None = None,
                 label: str | None = None, opacity: float | None = None) -> None:
        pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        extra = (f' class="{esc(cls)}"' if cls else "") + (f' stroke-opacity="{num(opacity)}"' if opacity else "")
        head = (f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{num(width)}" '
                f'stroke-linejoin="round"{extra}')
        self.add(f"{head}><title>{esc(label)}</title></polyline>" if label else f"{head}/>")

    def text(self, x, y, content, size=11, anchor="start", fill=INK, weight: str | None = None,
             rotate: float | None = None, cls: str | None = None) -> None:
        extra = (f' font-weight="{weight}"' if weight else "") \
            + (f' transform="rotate({num(rotate)} {num(x)} {num(y)})"' if rotate is not None else "") \
            + (f' class="{esc(cls)}"' if cls else "")
        self.add(f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="{anchor}" '
                 f'fill="{fill}"{extra}>{esc(content)}</text>')

    def group(self, cls: str, label: str | None = None) -> "_Group":
        return _Group(self, cls, label)

    def render(self) -> str:
        t, d = f"{self.id}-title", f"{self.id}-desc"
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" id="{esc(self.id)}" class="chart" role="img" '
                f'viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}" '
                f'preserveAspectRatio="xMinYMin meet" aria-labelledby="{t}" aria-describedby="{d}" '
                f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">'
                f'<title id="{t}">{esc(self.title)}</title><desc id="{d}">{esc(self.desc)}</desc>')
        return head + "".join(self.parts) + "</svg>"


class _Group:
    def __init__(self, canvas: Canvas, cls: str, label: str | None):
        self.canvas, self.cls, self.label = canvas, cls, label

    def __enter__(self):
        # role="group": aria-label is prohibited on a <g> without a role (axe-core aria-prohibited-attr)
        aria = f' role="group" aria-label="{esc(self.label)}"' if self.label else ""
        self.canvas.add(f'<g class="{esc(self.cls)}"{aria}>')
        return self.canvas

    def __exit__(self, *exc):
        self.canvas.add("</g>")
        return False


def x_axis(c: Canvas, scale: Scale, ticks: list[float], y: float, label: str, top: float | None = None,
           fmt=label_number) -> None:
    """Ticks and labels under the plot; with ``top``, light grid lines up to it."""
    with c.group("axis x-axis", label):
        c.line(scale.r0, y, scale.r1, y, stroke=MUTED)
        for t in ticks:
            x = scale(t)
            if top is not None:
                c.line(x, top, x, y, stroke=LINE, width=0.6)
            c.line(x, y, x, y + 4, stroke=MUTED)
            c.text(x, y + 16, fmt(t), size=11, anchor="middle", fill=MUTED)
        c.text((scale.r0 + scale.r1) / 2, y + 32, label, size=12, anchor="middle", fill=INK)


def y_axis(c: Canvas, scale: Scale, ticks: list[float], x: float, label: str, right: float | None = None,
           fmt=label_number) -> None:
    """Ticks and labels left of the plot; with ``right``, light grid lines across to it."""
    with c.group("axis y-axis", label):
        c.line(x, scale.r0, x, scale.r1, stroke=MUTED)
        for t in ticks:
            y = scale(t)
            if right is not None:
                c.line(x, y, right, y, stroke=LINE, width=0.6)
            c.line(x - 4, y, x, y, stroke=MUTED)
            c.text(x - 7, y + 4, fmt(t), size=11, anchor="end", fill=MUTED)
        mid = (scale.r0 + scale.r1) / 2
        c.text(14, mid, label, size=12, anchor="middle", fill=INK, rotate=-90)


def legend(c: Canvas, items: list[tuple[str, str, str]], x: float, y: float, gap: float = 14) -> float:
    """A row of (shape, colour, text) keys, wrapping at the canvas width; returns the y below the last row.

    shape: "dot", "diamond", "line", "dash", "bar" or "outline" (a white bar with a black border).
    """
    with c.group("legend", "Legend"):
        cx = x
        for shape, colour, text in items:
            width = 22 + 6.2 * len(text)
            if cx + width > c.width - 8 and cx > x:
                cx, y = x, y + 18
            if shape == "dot":
                c.circle(cx + 6, y - 4, 5, colour, stroke=INK if colour == "#ffffff" else None)
            elif shape == "diamond":
                c.diamond(cx + 6, y - 4, 6, colour)
            elif shape in ("line", "dash"):
                c.line(cx, y - 4, cx + 14, y - 4, stroke=colour, width=2.5, dash="5 3" if shape == "dash" else None)
            elif shape == "outline":
                c.rect(cx, y - 10, 14, 10, colour, stroke=BLACK, stroke_width=2)
            else:
                c.rect(cx, y - 10, 14, 10, colour)
            c.text(cx + 19, y, text, size=11, fill=INK)
            cx += width + gap
    return y + 18
