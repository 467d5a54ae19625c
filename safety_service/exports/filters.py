"""Export filters from a query string or the CLI, validated all at once.

An unknown filter is refused rather than ignored: a typo such as ``min_grde=3`` would otherwise
export every AE under a header claiming a filter.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping

from ..domain.errors import InvalidInput

# As GET /api/v1/adverse-events, plus whether to list entered-in-error AEs (the listings show their status)
AE_FILTERS = ("subject_id", "site", "from", "to", "serious", "min_grade", "phase", "related", "include_entered_in_error")
LAB_FILTERS = ("subject_id", "site", "analyte", "from", "to", "include_entered_in_error")
VISIT_FILTERS = ("subject_id", "site")
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}


def _bool(value: str, field: str, errors: dict) -> bool | None:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    errors[field] = "must be true or false"
    return None


def _date(value: str, field: str, errors: dict) -> str | None:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        errors[field] = "must be a date YYYY-MM-DD"
        return None


def parse(args: Mapping[str, str], allowed: tuple[str, ...] = AE_FILTERS) -> dict:
    """The filters that were given (empty values dropped), typed. Raises InvalidInput naming each bad one."""
    errors: dict[str, str] = {}
    out: dict = {}
    for key, raw in args.items():
        if key not in allowed:
            errors[key] = f"is not a filter (filters: {', '.join(allowed)})"
            continue
        value = str(raw).strip() if raw is not None else ""
        if value == "":
            continue
        if key in ("from", "to"):
            out[key] = _date(value, key, errors)
        elif key in ("serious", "related", "include_entered_in_error"):
            out[key] = _bool(value, key, errors)
        elif key == "min_grade":
            if value in ("1", "2", "3", "4", "5"):
                out[key] = int(value)
            else:
                errors[key] = "must be a CTCAE grade 1-5"
        elif key == "phase":
            if value in ("early", "late"):
                out[key] = value
            else:
                errors[key] = "must be early or late"
        else:
            out[key] = value
    if not errors and out.get("from") and out.get("to") and out["from"] > out["to"]:
        errors["to"] = "is before from"
    if errors:
        raise InvalidInput(errors, "The export filters are not valid")
    return out


def add_date_range(column: str, f: Mapping[str, str], clauses: list[str], params: list) -> None:
    """Append the `from`/`to` filters (inclusive calendar days) on an ISO 8601 UTC column to a WHERE clause."""
    if f.get("from"):
        clauses.append(f"{column} >= ?")
        params.append(f["from"])
    if f.get("to"):
        clauses.append(f"{column} < date(?, '+1 day')")
        params.append(f["to"])
