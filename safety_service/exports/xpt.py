"""SAS transport (XPORT) version 5 files through pyreadstat, with the checks pyreadstat skips.

XPT v5 (the format FDA accepts): names <= 8 characters, labels <= 40, character values
<= 200 bytes and ASCII. pyreadstat enforces only the names, so we check the rest and raise
ExportError naming the record and variable instead of writing a file a reviewer cannot read.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from .meta import ExportError

MAX_NAME, MAX_LABEL, MAX_CHAR_BYTES = 8, 40, 200
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
# ddMMMyy:hh:mm:ss as written in the library and member header records
_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD"


@dataclass(frozen=True)
class XptVar:
    name: str
    label: str
    type: str  # "Char" or "Num"

    def __post_init__(self):
        if not _NAME.match(self.name):
            raise ExportError("XPT v5 names are 1-8 upper-case letters, digits or _", field=self.name)
        if len(self.label) > MAX_LABEL or not self.label.isascii():
            raise ExportError(f"label {self.label!r} is not ASCII of <= {MAX_LABEL} characters", field=self.name)
        if self.type not in ("Char", "Num"):
            raise ExportError(f"type {self.type!r} is neither Char nor Num", field=self.name)


def check_value(var: XptVar, value, row) -> object:
    """The value as it will be stored; raises ExportError for what XPT v5 cannot hold."""
    if var.type == "Num":
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExportError(f"{value!r} is not a number", field=var.name, row=row)
        return float(value)
    text = "" if value is None else value
    if not isinstance(text, str):
        raise ExportError(f"{value!r} is not text", field=var.name, row=row)
    if not text.isascii():
        raise ExportError(f"{text!r} is not ASCII", field=var.name, row=row)
    if len(text.encode("ascii")) > MAX_CHAR_BYTES:
        raise ExportError(f"text of {len(text)} bytes exceeds {MAX_CHAR_BYTES}", field=var.name, row=row)
    return text


def _column(var: XptVar, records: Sequence[dict], row_key: str | None) -> list:
    """A variable's values, checked for the whole column at once (fast path) and value by value
    only when something is wrong, to name the record in the error."""
    raw = [r.get(var.name) for r in records]
    if var.type == "Char":
        values = ["" if x is None else x for x in raw]
        if all(type(x) is str for x in values) and "".join(values).isascii() \
                and max(map(len, values), default=0) <= MAX_CHAR_BYTES:
            return values
    elif all(x is None or (type(x) in (int, float)) for x in raw):
        return [math.nan if x is None else float(x) for x in raw]
    return [check_value(var, x, r.get(row_key, i + 1) if row_key else i + 1)
            for i, (x, r) in enumerate(zip(raw, records))]


def char_lengths(variables: Sequence[XptVar], records: Sequence[dict]) -> dict[str, int]:
    """Stored length of each Char variable: the longest value (at least 1), as pyreadstat writes it
    and as FDA's Technical Conformance Guide asks (no padding to 200)."""
    return {v.name: max([1, *(len(r.get(v.name) or "") for r in records)]) for v in variables if v.type == "Char"}


def write_xpt(variables: Sequence[XptVar], records: Sequence[dict], table_name: str, file_label: str,
              created: datetime, row_key: str | None = None) -> bytes:
    """XPT v5 bytes for ``records`` (dicts keyed by variable name), in the given variable order.

    ``created`` replaces the creation/modification stamps pyreadstat takes from the clock, so
    the same records and time give the same bytes. Raises ExportError for any value XPT v5
    cannot hold; ``row_key`` names the record field used in error messages.
    """
    import pandas as pd  # pyreadstat writes from a DataFrame

    if not _NAME.match(table_name):
        raise ExportError("dataset names are 1-8 upper-case letters or digits", field=table_name)
    if len(file_label) > MAX_LABEL or not file_label.isascii():
        raise ExportError("dataset label must be ASCII of <= 40 characters", field=table_name)
    columns = {v.name: pd.Series(_column(v, records, row_key), dtype="float64" if v.type == "Num" else "object")
               for v in variables}
    df = pd.DataFrame(columns, columns=[v.name for v in variables])
    fd, path = tempfile.mkstemp(suffix=".xpt")
    os.close(fd)
    try:
        import pyreadstat

        pyreadstat.write_xport(df, path, file_label=file_label, column_labels=[v.label for v in variables],
                               table_name=table_name, file_format_version=5)
        with open(path, "rb") as fh:
            data = fh.read()
    finally:
        os.unlink(path)
    return _restamp(data, created)


def _restamp(data: bytes, created: datetime) -> bytes:
    """Replace the header time stamps (before the first observation record) with ``created``."""
    cut = data.find(_OBS_HEADER)
    if cut < 0:
        raise ExportError("pyreadstat wrote no observation header")
    month = _MONTHS[created.month - 1]  # not strftime("%b"): that follows the locale
    stamp = f"{created:%d}{month}{created:%y:%H:%M:%S}".encode("ascii")
    return _STAMP.sub(stamp, data[:cut]) + data[cut:]
