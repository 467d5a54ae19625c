"""CSV listings: UTF-8, one header row, ISO dates, text neutralised against formula injection."""
from __future__ import annotations

import csv
import io
from operator import itemgetter
from typing import Any, Callable, Sequence

from .columns import Column, Table, ae_table, display, vocabulary_table
from .meta import ExportMeta
from .transpose import columns_of

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


def formatter(col: Column) -> Callable[[Any], str]:
    """``cell`` for one column, decided once: the usual types take a short path, anything else the general rule,
    so a listing of 100,000 AEs is not four million generic calls. Gives exactly what ``cell`` gives."""
    def general(value):
        return cell(col, value)

    if col.kind == "bool":
        return lambda v: "" if v is None else ("Y" if v else "N")
    if col.kind in ("int", "number"):
        def number(v):
            if v is None:
                return ""
            t = v.__class__
            return str(v) if t is int or t is float else general(v)
        return number
    if col.kind == "list" or col.vocabulary:
        return general

    def text(v):
        if v is None:
            return ""
        if v.__class__ is str:
            return "'" + v if v.startswith(FORMULA_TRIGGERS) else v
        return general(v)
    return text


_FIRST_CHARACTER = itemgetter(slice(0, 1))
_NONE = type(None)


def _starts_like_formula(texts) -> bool:
    """Whether any of the texts (no None) starts with a formula trigger: the set of first characters, in C."""
    return not set(map(_FIRST_CHARACTER, filter(None, texts))).isdisjoint(FORMULA_TRIGGERS)


def column_cells(col: Column, values: Sequence) -> Sequence:
    """One column's cells from its raw values, column by column so the loops run in C. A column of plain numbers,
    or of texts none of which starts like a formula, goes to the csv writer as it is (it writes None as empty and
    a number as ``str``, exactly what ``cell`` gives); anything else takes ``formatter``."""
    types = set(map(type, values))
    if col.vocabulary:
        table = vocabulary_table(col.vocabulary)
        if col.kind != "text" or not types <= {str, _NONE} or not set(values) - {None, ""} <= table.keys():
            return ["" if v is None or v == [] else cell(col, v) for v in values]  # lists, unknown codes
        values = list(map(table.get, values))  # every code known: its label, in C (None and "" print empty)
    if col.kind in ("int", "number") and types <= {int, float, _NONE}:
        return values
    if col.kind in ("text", "date", "datetime") and types <= {str, _NONE} \
            and not _starts_like_formula(values):
        return values
    return list(map(formatter(col), values))


def table_cells(table: Table) -> list[Sequence]:
    """Every column's cells (the raw values read for all plain columns at once)."""
    plain = [c.key for c in table.columns if c.getter is None]  # read for all plain columns at once
    read = dict(zip(plain, columns_of(table.rows, plain)))
    return [column_cells(c, read[c.key] if c.getter is None else list(map(c.getter, table.rows)))
            for c in table.columns]


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
    w.writerows(zip(*table_cells(table)))
    return out.getvalue().encode("utf-8")


def write_ae_csv(rows: Sequence[dict], meta: ExportMeta) -> bytes:
    """The AE listing as CSV, its first line stating the export context and audit chain head."""
    return write_table(ae_table(rows), meta)
