"""Numbers as people read them: clinical precision per analyte and unit, never "1.36e+03" nor "2.36812".

One function, ``number``, behind the template filter ``num`` (web/display.py) and the mail texts. The precision
is data (PRECISION), in the unit the value is in; the stored value keeps every digit: rounding is for the eye only.
Cell counts are shown as a mantissa and a power of ten ("1.1 × 10⁸"), as the protocol writes doses.
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

# Decimals shown per analyte and unit (the first entry is the analyte's canonical unit; "*" = any other unit).
# Usual reporting precision of clinical laboratories (e.g. creatinine 2 decimals in mg/dL, whole umol/L;
# eGFR 1 decimal; UACR whole mg/g; potassium 1 decimal; HbA1c 1 decimal in %, whole mmol/mol).
PRECISION: dict[str, dict[str, int]] = {
    "creatinine": {"mg/dL": 2, "umol/L": 0, "*": 2},
    "egfr": {"*": 1},
    "uacr": {"mg/g": 0, "mg/mmol": 1, "*": 0},
    "alt": {"*": 0},
    "ast": {"*": 0},
    "bilirubin": {"mg/dL": 2, "umol/L": 0, "*": 2},
    "hemoglobin": {"g/dL": 1, "g/L": 0, "mmol/L": 1, "*": 1},
    "albumin": {"g/dL": 1, "g/L": 0, "*": 1},
    "platelets": {"*": 0},
    "wbc": {"10^3/uL": 1, "/uL": 0, "*": 1},
    "neutrophils": {"10^3/uL": 2, "/uL": 0, "*": 2},
    "potassium": {"*": 1},
    "hba1c": {"%": 1, "mmol/mol": 0, "*": 1},
    "glucose": {"mg/dL": 0, "mmol/L": 1, "*": 1},
    "tnf_alpha": {"*": 1},
    "il10": {"*": 1},
    "sbp": {"*": 0},
    "dbp": {"*": 0},
    "temperature": {"*": 1},
    "urine_protein": {"g/24h": 2, "mg/24h": 0, "*": 2},
}
DEFAULT_DECIMALS = 2
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decimals(analyte: str | None, unit: str | None = None) -> int:
    """How many decimals a value of this analyte in this unit is shown with (DEFAULT_DECIMALS if unknown)."""
    table = PRECISION.get(analyte or "", {})
    return table.get(unit or "", table.get("*", DEFAULT_DECIMALS))


def number(value, spec: int | str | None = None, unit: str | None = None, sign: bool = False,
           empty: str = "—") -> str:
    """``value`` with ``spec`` decimals (an int) or the precision of analyte ``spec`` in ``unit``.

    Half-up rounding on the decimal form (2.345 -> "2.35", as a laboratory rounds), no exponent, "−0" shown as "0",
    ``sign=True`` writes "+" before a positive change. None and NaN are ``empty``.
    """
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return empty
    digits = spec if isinstance(spec, int) else decimals(spec, unit) if spec else DEFAULT_DECIMALS
    quantum = Decimal(1).scaleb(-digits)
    d = Decimal(repr(float(value)) if isinstance(value, float) else str(value)).quantize(quantum, ROUND_HALF_UP)
    if d == 0:
        d = abs(d)
    text = f"{d:f}"
    return f"+{text}" if sign and d > 0 else text


def cells(value, empty: str = "—") -> str:
    """A cell count as the protocol writes it: 1.1 × 10⁸ (two significant figures)."""
    if value is None or value == "":
        return empty
    v = float(value)
    if v == 0:
        return "0"
    exponent = math.floor(math.log10(abs(v)))
    mantissa = Decimal(repr(v / 10 ** exponent)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    if abs(mantissa) >= 10:  # 9.96e7 rounds to 10.0 x 10^7: write 1.0 x 10^8
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f} × 10{str(exponent).translate(SUPERSCRIPT)}"
