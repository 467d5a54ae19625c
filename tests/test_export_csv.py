"""CSV listing: read back with the csv module, formula injection, UTF-8, determinism."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from safety_service.domain.labels import label
from safety_service.exports.columns import AE_COLUMNS, display
from safety_service.exports.csv_export import neutralise, write_ae_csv
from test_export_rows import NOW, ae, meta, sample_rows


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_it_reads_back_one_header_row_and_the_same_rows():
    rows = sample_rows()
    lines = read(write_ae_csv(rows, meta()))
    assert lines[0] == [c.header for c in AE_COLUMNS]
    assert len(lines) == 1 + len(rows)
    by_id = {int(line[0]): dict(zip([c.key for c in AE_COLUMNS], line)) for line in lines[1:]}
    assert sorted(by_id) == [r["id"] for r in rows]
    for r in rows:
        got = by_id[r["id"]]
        assert got["subject_id"] == r["subject_id"]
        assert got["grade"] == str(r["grade"])
        assert got["seriousness"] == "; ".join(label("seriousness", c) for c in r["seriousness"])
        assert got["status"] == label("status", r["status"])  # entered-in-error AEs are listed, never hidden
        assert got["relatedness_product"] == label("relatedness", r["relatedness_product"])
        assert got["outcome"] == label("outcome", r["outcome"])
        assert got["onset"] == r["onset"]


def test_it_neutralises_text_that_a_spreadsheet_would_run_as_a_formula():
    lines = read(write_ae_csv(sample_rows(), meta()))
    cols = [c.key for c in AE_COLUMNS]
    by_id = {int(line[0]): dict(zip(cols, line)) for line in lines[1:]}
    assert by_id[3]["verbatim"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert by_id[3]["other_action"] == "'@SUM(1+1) bladder irrigation"
    assert by_id[4]["verbatim"] == "'-back pain after biopsy"
    assert by_id[5]["description"] == "'+ Tramadol started"
    # a negative study day is a number, not a formula: written as it is
    assert by_id[4]["onset_day"] == "-2"
    assert by_id[4]["end_day"] == "-1"


def test_it_neutralises_tab_and_carriage_return_too():
    assert neutralise("\t=1") == "'\t=1"
    assert neutralise("\r=1") == "'\r=1"
    assert neutralise("flank = pain") == "flank = pain"


def test_it_writes_utf8_with_iso_dates_and_y_n_flags():
    data = write_ae_csv(sample_rows(), meta())
    text = data.decode("utf-8")
    assert "Fièvre ≥ 38 °C" in text
    lines = read(data)
    cols = [c.key for c in AE_COLUMNS]
    row2 = dict(zip(cols, lines[2]))
    assert row2["onset"] == "2026-01-10" and row2["onset_time"] == "18:45"
    assert row2["end_date"] == ""
    assert row2["serious"] == "N" and row2["related"] == "Y" and row2["expected"] == ""
    assert row2["awareness_at"] == "2026-01-11T10:00:00+00:00"


def test_it_keeps_multiline_text_in_one_field():
    rows = [ae(1, description="line one\nline two, with a comma")]
    lines = read(write_ae_csv(rows, meta()))
    cols = [c.key for c in AE_COLUMNS]
    assert dict(zip(cols, lines[1]))["description"] == "line one\nline two, with a comma"


def test_it_gives_the_same_bytes_for_the_same_rows_whatever_the_export_time():
    a = write_ae_csv(sample_rows(), meta())
    b = write_ae_csv(sample_rows(), meta(NOW + timedelta(hours=5)))
    assert a == b


def test_it_writes_just_the_header_when_there_are_no_rows():
    lines = read(write_ae_csv([], meta()))
    assert lines == [[c.header for c in AE_COLUMNS]]


def test_it_formats_each_kind_as_documented():
    by_key = {c.key: c for c in AE_COLUMNS}
    assert display(by_key["serious"], True) == "Y"
    assert display(by_key["expected"], None) == ""
    assert display(by_key["seriousness"], ["death", "hospitalization"]) == \
        "Results in death; Hospitalization (initial or prolonged)"  # stored codes are shown by their labels
    assert display(by_key["grade"], 3) == "3"


def _cell_by_cell(table) -> bytes:
    """The plain rule, one cell at a time: what the column-wise writer must give, byte for byte."""
    from safety_service.exports.csv_export import cell

    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([neutralise(c.header) for c in table.columns])
    for row in table.rows:
        w.writerow([cell(c, c.raw(row)) for c in table.columns])
    return out.getvalue().encode("utf-8")


def test_the_column_wise_writer_gives_the_bytes_of_the_cell_by_cell_rule():
    """Random rows with what takes the careful path (formula triggers, negative days, unknown codes, non-text
    values, missing keys) give the same bytes as the plain rule, as do rows that all take the fast path."""
    import random

    from safety_service.exports.columns import ae_table
    from safety_service.exports.csv_export import write_table

    rng = random.Random(18)
    odd = ["=HYPERLINK(1)", "+1", "-2", "@x", "\tx", "\rx", "", None, "a,b", 'say "x"', "line\nbreak", "ümlaut",
           7, -3, 2.5, True, False, ["death"], ("hospitalization",), "not_a_code"]
    base = sample_rows()
    for trial in range(40):
        rows = [dict(r) for r in base]
        if trial % 4:  # three trials in four: some odd values
            for r in rows:
                for _ in range(rng.randint(0, 6)):
                    key = rng.choice([c.key for c in AE_COLUMNS])
                    if rng.random() < 0.1:
                        r.pop(key, None)
                    else:
                        r[key] = rng.choice(odd)
        table = ae_table(rows)
        assert write_table(table) == _cell_by_cell(table), trial
