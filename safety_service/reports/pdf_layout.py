"""Text and tables for long PDFs at linear cost: words wrapped with cached widths, cells drawn line by line.

fpdf2's ``multi_cell`` and ``table`` re-measure a line for every character they add, so a paragraph listing 300
subject ids or a 300-row table took seconds (DSMB PDF of 300 participants: 21.7 s, issue 18). Here every word is
measured once per font and size, lines are broken greedily, and each line is one ``cell`` call.
"""
from __future__ import annotations

from typing import Sequence

from fpdf import FPDF

PAD = 1.0  # mm of padding inside a table cell, left and right


class Measure:
    """Word widths for one PDF, cached per (font, style, size): the expensive part of laying out text."""

    def __init__(self, pdf: FPDF):
        self.pdf = pdf
        self._cache: dict[tuple, float] = {}

    def width(self, text: str) -> float:
        key = (self.pdf.font_family, self.pdf.font_style, self.pdf.font_size_pt, text)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self.pdf.get_string_width(text)
        return found

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap to ``width`` mm; a word longer than a line is cut by characters; newlines kept."""
        lines: list[str] = []
        space = self.width(" ")
        for paragraph in str(text).split("\n"):
            line, used = "", 0.0
            for word in paragraph.split(" "):
                w = self.width(word)
                if line and used + space + w <= width:
                    line, used = f"{line} {word}", used + space + w
                    continue
                if line:
                    lines.append(line)
                while w > width and len(word) > 1:  # a word wider than the line: cut it where it no longer fits
                    cut = len(word) - 1
                    while cut > 1 and self.width(word[:cut]) > width:
                        cut = max(1, cut * 3 // 4) if self.width(word[:cut * 3 // 4]) > width else cut - 1
                    lines.append(word[:cut])
                    word = word[cut:]
                    w = self.width(word)
                line, used = word, w
            lines.append(line)
        return lines


def paragraph(pdf: FPDF, measure: Measure, text: str, line_height: float) -> None:
    """``text`` across the page width, one ``cell`` per line; pages break between lines."""
    for line in measure.wrap(text, pdf.epw):
        pdf.cell(pdf.epw, line_height, line, new_x="LMARGIN", new_y="NEXT")


def table(pdf: FPDF, measure: Measure, headers: Sequence[str], rows: Sequence[Sequence[str]],
          weights: Sequence[float], line_height: float, font: str, size: float) -> None:
    """A bordered table over the page width (columns in proportion to ``weights``), its heading row repeated
    on every page it runs onto; a row never splits across pages."""
    total = float(sum(weights))
    widths = [pdf.epw * w / total for w in weights]

    def draw(cells: Sequence[str], bold: bool) -> None:
        pdf.set_font(font, "B" if bold else "", size)
        wrapped = [measure.wrap(c, w - 2 * PAD) for c, w in zip(cells, widths)]
        height = max(len(lines) for lines in wrapped) * line_height
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            if not bold:
                draw(headers, True)
                pdf.set_font(font, "", size)
        x, y = pdf.l_margin, pdf.get_y()
        for lines, w in zip(wrapped, widths):
            pdf.rect(x, y, w, height, style="DF" if bold else "D")
            for i, line in enumerate(lines):
                pdf.set_xy(x + PAD, y + i * line_height)
                pdf.cell(w - 2 * PAD, line_height, line)
            x += w
        pdf.set_xy(pdf.l_margin, y + height)

    pdf.set_fill_color(221, 221, 221)
    pdf.set_draw_color(0, 0, 0)
    draw(headers, True)
    for r in rows:
        draw(r, False)
