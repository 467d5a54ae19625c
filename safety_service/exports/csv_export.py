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


def write_table(table: Table) -> bytes:
    """One header row then one line per row; CRLF line ends as RFC 4180."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([neutralise(c.header) for c in table.columns])
    for row in table.rows:
        w.writerow([cell(c, c.raw(row)) for c in table.columns])
    return out.getvalue().encode("utf-8")


def write_ae_csv(rows: Sequence[dict], meta: ExportMeta) -> bytes:
    """The AE listing as CSV; ``meta`` is accepted for symmetry (CSV has no place for it)."""
    return write_table(ae_table(rows))
