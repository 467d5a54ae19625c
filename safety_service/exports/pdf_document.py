"""The listing PDF document: fpdf2 with DejaVu Sans, the export context on every page, "Page n of m", the audit head.

Fonts are matplotlib's DejaVu Sans TTFs (shipped with an installed dependency, so nothing is downloaded), because
fpdf2's built-in fonts cannot print non-Latin-1 verbatim terms. Imported only when a PDF is made (fpdf2 costs about
half a second), never at start-up: exports/pdf.py, reports/pdf.py and reports/cioms.py import it where they draw.
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

from fpdf import FPDF
from fpdf.fonts import FontFace

from .columns import Table
from .meta import ExportMeta

FONT = "DejaVu"


@lru_cache(maxsize=1)
def font_paths() -> dict[str, str]:
    """Regular and bold DejaVu Sans from matplotlib's data folder (found without importing matplotlib);
    FileNotFoundError if missing."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("matplotlib (which ships the DejaVu Sans fonts) is not installed")
    folder = os.path.join(os.path.dirname(spec.origin), "mpl-data", "fonts", "ttf")
    paths = {"": os.path.join(folder, "DejaVuSans.ttf"), "B": os.path.join(folder, "DejaVuSans-Bold.ttf")}
    for p in paths.values():
        if not os.path.exists(p):
            raise FileNotFoundError(p)
    return paths


class ListingPDF(FPDF):
    """Repeats the export context at the top of each page and "Page n of m" at the bottom."""

    def __init__(self, meta: ExportMeta):
        super().__init__(orientation="L", unit="mm", format="A4")
        self.meta = meta
        self.set_creation_date(meta.exported_at_utc)  # fixed: same rows + same time = same bytes
        self.set_producer("safety-service")
        self.set_title(f"{meta.study_id} - {meta.title}")
        self.set_author(meta.exported_by)
        for style, path in font_paths().items():
            self.add_font(FONT, style, path)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(10, 10, 10)

    def header(self):
        m = self.meta
        self.set_font(FONT, "B", 11)
        self.cell(0, 6, f"{m.study_id} - {m.title}", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 8)
        self.cell(0, 4.5, f"Exported at {m.exported_at_iso} (UTC) by {m.exported_by}", new_x="LMARGIN", new_y="NEXT")
        self.multi_cell(0, 4.5, f"Filters: {m.filters_text()}", new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self):
        self.set_y(-10)
        self.set_font(FONT, "", 8)
        if self.meta.audit_anchor:
            # every page names the audit chain head, so a printed page alone can be checked against the trail
            self.set_font(FONT, "", 6)
            self.cell(0, 5, f"Made at {self.meta.anchor_text()}", align="L")
            self.set_x(self.l_margin)
            self.set_font(FONT, "", 8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    def table_block(self, table: Table) -> None:
        """A titled table whose heading row repeats on each page."""
        self.set_font(FONT, "B", 10)
        self.multi_cell(0, 6, f"{table.title} ({len(table.rows)} rows)", new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 7)
        if table.rows:
            widths = [c.width for c in table.columns]
            heading = FontFace(emphasis="BOLD", fill_color=(221, 221, 221))
            with self.table(col_widths=widths, headings_style=heading, repeat_headings=1, line_height=3.6,
                            text_align="LEFT", first_row_as_headings=True) as t:
                t.row([c.header for c in table.columns])
                for cells in table.cells():
                    t.row(cells)
        else:
            self.cell(0, 5, "No rows.", new_x="LMARGIN", new_y="NEXT")
        if table.footnote:
            self.set_font(FONT, "", 7)
            self.multi_cell(0, 4, table.footnote, new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def signature_block(self) -> None:
        """Signature lines for the reviewer (21 CFR 11.50: name, date, meaning of the signature)."""
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(6)
        self.set_font(FONT, "", 9)
        self.cell(0, 6, "Reviewed by (name): ______________________________   "
                        "Signature: ______________________________   Date: ______________", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 6, "Meaning of signature: review of the listing above.", new_x="LMARGIN", new_y="NEXT")
