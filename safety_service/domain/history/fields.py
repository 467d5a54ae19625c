"""Parsers for the fields of con-meds and medical history: each returns the stored value or raises ValueError
with the reason a person reads."""
from __future__ import annotations

import math
import re
from datetime import date

MAX_TEXT = 200
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_TRUE, _FALSE = ("true", "1", "yes", "y", "on"), ("false", "0", "no", "n", "off", "")


def text(value, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    """Free text, trimmed; control characters refused (they break listings, XPT and XML)."""
    t = "" if value is None else str(value).strip()
    if not t:
        if required:
            raise ValueError("is required")
        return None
    if len(t) > limit:
        raise ValueError(f"is longer than {limit} characters")
    bad = next((c for c in t if ord(c) < 32 or 0x7F <= ord(c) < 0xA0), None)
    if bad is not None:
        raise ValueError(f"contains a control character (U+{ord(bad):04X}); remove it")
    return t


def partial_date(value, *, today: date, required: bool) -> str | None:
    """An ISO 8601 date, whole or partial (YYYY or YYYY-MM), as CDISC SDTMIG --STDTC allows when only part of
    it is known (a condition diagnosed "in 2015"). Not after today."""
    t = "" if value is None else str(value).strip()
    if not t:
        if required:
            raise ValueError("is required (YYYY-MM-DD, or YYYY-MM or YYYY when only that is known)")
        return None
    m = _PARTIAL.match(t) if t.isascii() else None
    if not m:
        raise ValueError("must be a date YYYY-MM-DD, or YYYY-MM or YYYY when only that is known")
    year, month, day = int(m[1]), m[2] and int(m[2]), m[3] and int(m[3])
    try:
        first = date(year, month or 1, day or 1)
    except ValueError:
        raise ValueError("is not a calendar date") from None
    if year < 1900:
        raise ValueError("is before 1900")
    if first > today:
        raise ValueError(f"is in the future (today is {today.isoformat()})")
    return t


def not_before(later: str, earlier: str) -> bool:
    """True unless ``later`` is surely before ``earlier``; partial dates compare on the part both know
    ("2024" is not before "2024-05-03")."""
    n = min(len(later), len(earlier))
    return later[:n] >= earlier[:n]


def flag(value) -> bool:
    """A yes/no value from JSON, a form checkbox ("on") or a CSV cell."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    t = str(value).strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise ValueError("must be true or false")


def positive_number(value) -> float | None:
    """A dose: empty, or a finite number above zero."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("must be a number")
    try:
        x = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError("must be a number above zero")
    return x
