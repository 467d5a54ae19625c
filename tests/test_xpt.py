"""The SAS transport v5 writer (exports/xpt.py): what it writes is what pandas and pyreadstat read back."""
from __future__ import annotations

import io
import math
import os
import tempfile
from datetime import datetime, timezone

import pandas as pd
import pyreadstat

from safety_service.exports.xpt import XptVar, write_xpt

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
NUMBERS = [0.0, 1.0, -1.0, 0.1, 1 / 3, 1e6, 123456789.125, -0.000123, 2.0 ** -200, 7.2e75, None, 3.0, 97.24]


def _pyreadstat(data: bytes):
    fd, path = tempfile.mkstemp(suffix=".xpt")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        return pyreadstat.read_xport(path)
    finally:
        os.unlink(path)


def test_it_writes_numbers_exactly_as_ibm_doubles_with_missing_values():
    records = [{"N": x, "C": f"row {i}"} for i, x in enumerate(NUMBERS)]
    data = write_xpt([XptVar("N", "A number", "Num"), XptVar("C", "A text", "Char")], records, "NUMS", "Numbers",
                     WHEN)
    df, _ = _pyreadstat(data)
    for got, want in zip(df["N"], NUMBERS):
        assert (math.isnan(got) if want is None else got == want), (got, want)
    # pandas reads the same bytes; it takes an IBM zero for 16^-65 (as it does for pyreadstat's own files)
    pdf = pd.read_sas(io.BytesIO(data), format="xport", encoding="ascii")
    for got, want in zip(pdf["N"], NUMBERS):
        assert (math.isnan(got) if want is None else got == want or (want == 0 and abs(got) < 1e-78)), (got, want)
    assert list(pdf["C"]) == [f"row {i}" for i in range(len(NUMBERS))]


def test_it_is_read_by_pyreadstat_with_names_labels_widths_and_the_dataset_label():
    records = [{"STUDYID": "NCT07396155", "AGE": 57, "X": ""}, {"STUDYID": "NCT07396155", "AGE": None, "X": "y"}]
    data = write_xpt([XptVar("STUDYID", "Study Identifier", "Char"), XptVar("AGE", "Age", "Num"),
                      XptVar("X", "l" * 40, "Char")], records, "DM", "Demographics", WHEN)
    df, meta = _pyreadstat(data)
    assert meta.table_name == "DM" and meta.file_label == "Demographics"
    assert meta.column_names == ["STUDYID", "AGE", "X"] and meta.column_labels[2] == "l" * 40
    assert meta.variable_storage_width == {"STUDYID": 11, "AGE": 8, "X": 1}
    assert df["AGE"].iloc[0] == 57 and math.isnan(df["AGE"].iloc[1]) and list(df["X"]) == ["", "y"]
    assert len(data) % 80 == 0 and b"02MAR26:09:30:00" in data[:400]


def test_it_writes_an_empty_dataset_that_reads_back_empty():
    data = write_xpt([XptVar("A", "a", "Char"), XptVar("B", "b", "Num")], [], "EMPTY", "Nothing", WHEN)
    df, meta = _pyreadstat(data)  # (pandas reads no empty transport file, whoever wrote it)
    assert list(df.columns) == ["A", "B"] and len(df) == 0 and meta.table_name == "EMPTY"
