"""CSV listings: UTF-8, one header row, ISO dates, text neutralised against formula injection."""
from __future__ import annotations

import csv
import io
from typing import Sequence

from .columns import Column, Table, ae_table, display
from .meta import ExportMeta

# A cell starting with one of these is run as a formula by Excel/LibreOffice (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a formula-looking text with an apostrophe so spreadsheets show it as text."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def cell(col: Column, value) -> str:
    """Numbers are written as they are (a negative study day is a number, not a formula)."""
    text = display(col, value)
    if col.kind in ("int", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    return neutralise(text)


def context_line(meta: ExportMeta) -> str:
    """The "#" line above the header: study, listing, export time and user, filters, the audit chain head."""
    return (f"# {meta.study_id} {meta.title}; exported {meta.exported_at_iso} by {meta.exported_by}; "
            f"filters: {meta.filters_text()}; {meta.anchor_text()}")


def write_table(table: Table, meta: ExportMeta | None = None) -> bytes:
    """With an anchored ``meta``, a "#" context line first (read past it with ``skiprows=1`` or ``comment``); then
    one header row and one line per row; CRLF line ends as RFC 4180."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    if meta is not None and meta.audit_anchor:
        w.writerow([context_line(meta)])
    w.writerow([neutralise(c.header) for c in table.columns])
    for row in table.rows:
        w.writerow([cell(c, c.raw(row)) for c in table.columns])
    return out.getvalue().encode("utf-8")


def write_ae_csv(rows: Sequence[dict], meta: ExportMeta) -> bytes:
    """The AE listing as CSV, its first line stating the export context and audit chain head."""
    return write_table(ae_table(rows), meta)
