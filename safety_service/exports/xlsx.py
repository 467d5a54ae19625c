"""XLSX workbooks: a sheet per table, frozen header, column widths, a sheet describing the columns."""
from __future__ import annotations

import io
import re
from typing import Sequence


from .columns import AE_COLUMNS, Column, Table, ae_table, columns_table, typed
from .meta import ExportError, ExportMeta

MAX_CELL_CHARS = 32767  # Excel's limit; xlsxwriter would truncate silently past it
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_name(name: str, taken: set[str]) -> str:
    """Excel sheet names: <= 31 characters, none of []:*?/\\, unique (case-insensitive)."""
    base = _BAD_SHEET_CHARS.sub("-", name)[:31] or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def write_workbook(tables: Sequence[Table], meta: ExportMeta, describe: Sequence[Column] | None = None) -> bytes:
    """One sheet per table, then 'Columns' (if ``describe``) and 'Export' (study, time, user, filters).

    Raises ExportError when a text is longer than Excel can hold (rather than truncating it).
    """
    buf = io.BytesIO()
    import xlsxwriter  # imported when a workbook is written, not at start-up

    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_urls": False, "strings_to_numbers": False})
    # Fixed document properties: the only moving part is the export time we are given.
    wb.set_properties({"title": meta.title, "subject": meta.study_id, "author": meta.exported_by,
                       "company": "", "comments": f"Filters: {meta.filters_text()}",
                       "created": meta.exported_at_utc.replace(tzinfo=None)})
    bold = wb.add_format({"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = wb.add_format({"valign": "top"})
    note = wb.add_format({"italic": True})
    taken: set[str] = set()
    all_tables = list(tables)
    if describe:
        all_tables.append(columns_table(describe))
    for table in all_tables:
        _write_sheet(wb, table, sheet_name(table.name, taken), bold, wrap, note)
    _write_about(wb, meta, sheet_name("Export", taken), bold, [t for t in tables])
    wb.close()
    return buf.getvalue()


def _write_sheet(wb, table: Table, name: str, bold, wrap, note) -> None:
    ws = wb.add_worksheet(name)
    for j, col in enumerate(table.columns):
        ws.write_string(0, j, col.header, bold)
        ws.set_column(j, j, max(col.width, min(len(col.header) + 2, 40)))
    ws.freeze_panes(1, 0)
    for i, row in enumerate(table.rows, start=1):
        for j, col in enumerate(table.columns):
            value = typed(col, col.raw(row))
            if value is None:
                continue
            if isinstance(value, str):
                if len(value) > MAX_CELL_CHARS:
                    raise ExportError(f"text of {len(value)} characters exceeds Excel's {MAX_CELL_CHARS}",
                                      field=col.key, row=row.get("id", i))
                ws.write_string(i, j, value, wrap)
            else:
                ws.write_number(i, j, value, wrap)
    if table.rows and table.columns:
        ws.autofilter(0, 0, len(table.rows), len(table.columns) - 1)
    if table.footnote:
        ws.write_string(len(table.rows) + 2, 0, table.footnote, note)


def _write_about(wb, meta: ExportMeta, name: str, bold, tables: Sequence[Table]) -> None:
    ws = wb.add_worksheet(name)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 80)
    lines = [("Study", meta.study_id), ("Title", meta.title), ("Exported at (UTC)", meta.exported_at_iso),
             ("Exported by", meta.exported_by), ("Filters", meta.filters_text())]
    if meta.audit_anchor:
        lines.append(("Audit chain head", f"{meta.audit_anchor} (safety audit anchor when exported)"))
    lines += [(f"Rows in '{t.name}'", str(len(t.rows))) for t in tables]
    for i, (k, v) in enumerate(lines):
        ws.write_string(i, 0, k, bold)
        ws.write_string(i, 1, v)


def write_ae_xlsx(rows: Sequence[dict], meta: ExportMeta, summary: Sequence[Table] = ()) -> bytes:
    """The AE listing, the summary tables (if given), the column descriptions and the export details."""
    return write_workbook([ae_table(rows), *summary], meta, describe=AE_COLUMNS)
