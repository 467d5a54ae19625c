"""SAS transport (XPORT) version 5 files (SAS TS-140), with every check the format needs.

XPT v5 (the format FDA accepts): names <= 8 characters, labels <= 40, character values
<= 200 bytes and ASCII. We check all of them and raise ExportError naming the record and variable
instead of writing a file a reviewer cannot read; tests read the files back with pandas and pyreadstat.
"""
from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from .meta import ExportError
from .transpose import columns_of

MAX_NAME, MAX_LABEL, MAX_CHAR_BYTES = 8, 40, 200
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


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


def _column(var: XptVar, records: Sequence[dict], row_key: str | None, raw: list) -> tuple[list, int]:
    """A variable's values and stored length (8 for numbers, the longest text and at least 1 for characters, as
    FDA's Technical Conformance Guide asks: no padding to 200), checked for the whole column at once (fast path)
    and value by value only when something is wrong, to name the record in the error."""
    types = set(map(type, raw))
    if var.type == "Char":
        if types <= {str, type(None)}:
            values = raw if type(None) not in types else ["" if x is None else x for x in raw]
            longest = max(map(len, values), default=0)
            if longest <= MAX_CHAR_BYTES and "".join(values).isascii():
                return values, max(1, longest)
    elif types <= {int, float, type(None)}:
        return raw, 8  # None is NaN (SAS missing) once numpy reads the column as float64
    values = [check_value(var, x, r.get(row_key, i + 1) if row_key else i + 1)
              for i, (x, r) in enumerate(zip(raw, records))]
    return values, 8 if var.type == "Num" else max(1, max(map(len, values), default=0))


def char_lengths(variables: Sequence[XptVar], records: Sequence[dict]) -> dict[str, int]:
    """Stored length of each Char variable: the longest value (at least 1), as pyreadstat writes it
    and as FDA's Technical Conformance Guide asks (no padding to 200)."""
    return {v.name: max([1, *(len(r.get(v.name) or "") for r in records)]) for v in variables if v.type == "Char"}


def write_xpt(variables: Sequence[XptVar], records: Sequence[dict], table_name: str, file_label: str,
              created: datetime, row_key: str | None = None, columns: dict | None = None) -> bytes:
    """XPT v5 bytes for ``records`` (dicts keyed by variable name), in the given variable order.

    ``created`` is the creation/modification stamp of the headers, so the same records and time give the same
    bytes. Raises ExportError for any value XPT v5 cannot hold; ``row_key`` names the record field used in error
    messages. Written here (SAS TS-140 layout, numbers as IBM doubles) rather than through pyreadstat, whose
    row-by-row conversion made the SDTM package several times slower than the dump it is measured against.
    """
    import numpy as np

    if not _NAME.match(table_name):
        raise ExportError("dataset names are 1-8 upper-case letters or digits", field=table_name)
    if len(file_label) > MAX_LABEL or not file_label.isascii():
        raise ExportError("dataset label must be ASCII of <= 40 characters", field=table_name)
    n = len(records)
    given = columns or {}
    missing = [v for v in variables if v.name not in given]
    read = dict(zip((v.name for v in missing), columns_of(records, [v.name for v in missing])))
    checked = [_column(v, records, row_key, given[v.name] if v.name in given else read[v.name]) for v in variables]
    columns, lengths = [c for c, _ in checked], [n for _, n in checked]
    offsets = [sum(lengths[:i]) for i in range(len(lengths))]
    row_length = sum(lengths)
    stamp = _stamp(created)

    head = b"".join([
        _rec("HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000"),
        _rec(f"{'SAS':8}{'SAS':8}{'SASLIB':8}{'9.4':8}{'Linux':8}{'':24}{stamp}"),
        _rec(stamp),
        _rec("HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140"),
        _rec("HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000"),
        _rec(f"{'SAS':8}{table_name:8}{'SASDATA':8}{'9.4':8}{'Linux':8}{'':24}{stamp}"),
        _rec(f"{stamp}{'':16}{file_label:40}{'':8}"),
        _rec(f"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{len(variables):04d}00000000000000000000"),
    ])
    names = b"".join(struct.pack(">hhhh8s40s8shhh2s8shhl52s", 1 if v.type == "Num" else 2, 0, length, i,
                                 v.name.ljust(8).encode("ascii"), v.label.ljust(40).encode("ascii"), b" " * 8,
                                 0, 0, 0, b"\0\0", b" " * 8, 0, 0, offset, b"\0" * 52)
                     for i, (v, length, offset) in enumerate(zip(variables, lengths, offsets), start=1))
    obs_head = _rec("HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000")

    rows = np.zeros(n, dtype=np.dtype({"names": [f"f{i}" for i in range(len(variables))],
                                       "formats": [">u8" if v.type == "Num" else f"S{length}"
                                                   for v, length in zip(variables, lengths)],
                                       "offsets": offsets, "itemsize": row_length or 1}))
    for i, (v, col, length) in enumerate(zip(variables, columns, lengths)):
        if not n:
            break
        if v.type == "Num":
            rows[f"f{i}"] = _ibm(np.asarray(col, dtype=np.float64))
        else:
            text = np.array(col, dtype=f"S{length}")  # ASCII checked above; numpy pads with NUL bytes
            pad = text.view(np.uint8).reshape(n, length)
            pad[pad == 0] = 32  # SAS pads text with blanks
            rows[f"f{i}"] = text
    data = rows.tobytes() if row_length else b""
    return head + _pad(names, b" ") + obs_head + _pad(data, b" ")


def _stamp(created: datetime) -> str:
    month = _MONTHS[created.month - 1]  # not strftime("%b"): that follows the locale
    return f"{created:%d}{month}{created:%y:%H:%M:%S}"


def _rec(text: str) -> bytes:
    """One 80-byte header record, blank-padded."""
    return text.ljust(80).encode("ascii")


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 80)


def _ibm(values):
    """IEEE doubles as IBM System/360 doubles (SAS transport), exactly; NaN as SAS missing "."."""
    import numpy as np

    bits = values.view(np.uint64)
    sign = bits >> np.uint64(63)
    exp = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64) - 1023
    mantissa = (bits & np.uint64(0xFFFFFFFFFFFFF)) | np.uint64(1 << 52)
    # value = M * 2^(e-52) = N * 16^(E-64) / 2^56 with N = M << s, s = e mod 4, E = 65 + (e - s) / 4
    shift = np.mod(exp, 4)
    ibm_exp = 65 + (exp - shift) // 4
    finite = np.isfinite(values) & (values != 0)
    if np.any(finite & ((ibm_exp < 0) | (ibm_exp > 127))):
        raise ExportError("a number is outside the range of SAS transport numbers")
    word = (sign << np.uint64(63)) | (np.clip(ibm_exp, 0, 127).astype(np.uint64) << np.uint64(56)) \
        | (mantissa << shift.astype(np.uint64))
    word = np.where(finite, word, np.uint64(0))
    word = np.where(np.isnan(values), np.uint64(0x2E << 56), word)
    return word
