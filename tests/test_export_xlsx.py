"""XLSX listing: read back with openpyxl; sheets, frozen header, widths, column descriptions, determinism."""
from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest

from safety_service.domain.summary import summarize
from safety_service.exports import summary_tables
from safety_service.exports.columns import AE_COLUMNS, typed
from safety_service.exports.meta import ExportError
from safety_service.exports.xlsx import sheet_name, write_ae_xlsx
from test_export_rows import NOW, STUDY, ae, meta, participants, sample_rows


def load(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_it_reads_back_the_same_rows_with_typed_cells():
    rows = sample_rows()
    wb = load(write_ae_xlsx(rows, meta()))
    ws = wb["AE listing"]
    values = list(ws.iter_rows(values_only=True))
    assert list(values[0]) == [c.header for c in AE_COLUMNS]
    assert len(values) == 1 + len(rows)
    for r, got in zip(rows, values[1:]):
        expected = [typed(c, c.raw(r)) for c in AE_COLUMNS]
        assert list(got) == expected
    assert ws.cell(row=5, column=22).value == -2  # onset_day of the pre-injection AE is a number


def test_it_keeps_formula_looking_text_as_text():
    wb = load(write_ae_xlsx(sample_rows(), meta()))
    cell = wb["AE listing"].cell(row=4, column=8)  # AE 3 verbatim
    assert cell.value == "=HYPERLINK(\"http://evil\",\"x\")"
    assert cell.data_type == "s"


def test_it_freezes_the_header_and_sets_column_widths():
    ws = load(write_ae_xlsx(sample_rows(), meta()))["AE listing"]
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["E"].width >= 28  # CTCAE term
    assert ws.auto_filter.ref.startswith("A1:")


def test_it_describes_every_column_and_the_export():
    wb = load(write_ae_xlsx(sample_rows(), meta(serious=True)))
    assert wb.sheetnames == ["AE listing", "Columns", "Export"]
    described = list(wb["Columns"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in described] == [c.key for c in AE_COLUMNS]
    assert all(r[3] for r in described)
    about = dict(wb["Export"].iter_rows(values_only=True))
    assert about["Study"] == STUDY
    assert about["Exported at (UTC)"] == NOW.isoformat()
    assert about["Exported by"] == "auditor_ada@example.org"
    assert about["Filters"] == "serious=yes"
    assert about["Rows in 'AE listing'"] == "9"
    assert wb.properties.creator == "auditor_ada@example.org"
    assert wb.properties.created.replace(tzinfo=None) == NOW.replace(tzinfo=None)


def test_it_adds_a_sheet_per_summary_table():
    tables = summary_tables.tables(summarize(participants(), sample_rows()))
    wb = load(write_ae_xlsx(sample_rows(), meta(), summary=tables))
    assert wb.sheetnames == ["AE listing", "Overview", "By SOC and term", "By maximum grade", "By term and grade",
                             "SAEs", "Deaths", "Columns", "Export"]
    overview = list(wb["Overview"].iter_rows(values_only=True))
    assert overview[1] == ("Any treatment-emergent AE", "4 (100.0%)", 7)  # AEs 1,2,3,5,6,7,9


def test_it_gives_the_same_bytes_for_the_same_rows_and_time():
    assert write_ae_xlsx(sample_rows(), meta()) == write_ae_xlsx(sample_rows(), meta())


def test_it_differs_only_in_the_export_time_when_exported_later():
    later = meta(NOW + timedelta(days=1))
    a, b = load(write_ae_xlsx(sample_rows(), meta())), load(write_ae_xlsx(sample_rows(), later))
    assert list(a["AE listing"].values) == list(b["AE listing"].values)
    assert dict(a["Export"].values)["Exported at (UTC)"] != dict(b["Export"].values)["Exported at (UTC)"]


def test_it_refuses_text_longer_than_excel_holds_rather_than_truncating():
    with pytest.raises(ExportError) as e:
        write_ae_xlsx([ae(41, description="x" * 32768)], meta())
    assert e.value.field == "description" and e.value.row == 41


def test_it_makes_sheet_names_excel_accepts():
    taken: set[str] = set()
    assert sheet_name("A/B: [c]?", taken) == "A-B- -c--"
    long = "x" * 40
    assert sheet_name(long, taken) == "x" * 31
    assert sheet_name(long, taken) == "x" * 27 + " (2)"
