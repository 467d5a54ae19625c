"""Concomitant medications: what else the participant takes (CIOMS I field 22, SDTM CM).

The protocol requires a stable ACE inhibitor or ARB for >= 12 weeks before enrolment, so every participant has
at least that one; the rest is what the site records.
"""
from __future__ import annotations

from datetime import date

from ..errors import InvalidInput
from . import fields, records

FIELDS = ("name", "dose", "unit", "route", "indication", "start_date", "stop_date", "ongoing")
# CDISC SDTM route of administration (codelist ROUTE, C66729): our code -> the CDISC submission value.
ROUTES = {"oral": "ORAL", "intravenous": "INTRAVENOUS", "subcutaneous": "SUBCUTANEOUS",
          "intramuscular": "INTRAMUSCULAR", "topical": "TOPICAL", "transdermal": "TRANSDERMAL",
          "inhalation": "RESPIRATORY (INHALATION)", "sublingual": "SUBLINGUAL", "rectal": "RECTAL",
          "nasal": "NASAL", "ophthalmic": "OPHTHALMIC"}


def validate(data: dict, today: date) -> dict:
    """Stored values of a con-med, or InvalidInput naming every bad field."""
    errors, out = {}, {}

    def take(name, parse):
        try:
            out[name] = parse(data.get(name))
        except ValueError as e:
            errors[name] = str(e)
            out[name] = None

    take("name", lambda v: fields.text(v, required=True))
    take("dose", fields.positive_number)
    take("unit", lambda v: fields.text(v, required=False, limit=20))
    take("indication", lambda v: fields.text(v, required=True))
    take("start_date", lambda v: fields.partial_date(v, today=today, required=True))
    take("stop_date", lambda v: fields.partial_date(v, today=today, required=False))
    take("ongoing", fields.flag)
    route = str(data.get("route") or "").strip().lower() or None
    if route is not None and route not in ROUTES:
        errors["route"] = f"must be one of {', '.join(ROUTES)}"
    out["route"] = route
    if out["dose"] is not None and not out["unit"] and "unit" not in errors:
        errors["unit"] = "is required with a dose (e.g. mg)"
    if out["ongoing"] and out["stop_date"]:
        errors["stop_date"] = "must be empty while the medication is ongoing"
    elif out["ongoing"] is False and not out["stop_date"] and "stop_date" not in errors:
        errors["stop_date"] = "is required unless the medication is ongoing"
    elif out["stop_date"] and out["start_date"] and not fields.not_before(out["stop_date"], out["start_date"]):
        errors["stop_date"] = "is before the start date"
    if errors:
        raise InvalidInput(errors)
    return {k: out[k] for k in FIELDS}


def adjust(current: dict, changes: dict) -> dict:
    """An amendment that stops an ongoing medication need not also say "not ongoing", and one that makes it
    ongoing again need not clear the stop date."""
    out = dict(changes)
    if str(out.get("stop_date") or "").strip() and "ongoing" not in out:
        out["ongoing"] = False
    try:
        if "ongoing" in out and fields.flag(out["ongoing"]) and "stop_date" not in out:
            out["stop_date"] = None
    except ValueError:
        pass  # validate names the bad ongoing
    return out


KIND = records.Kind(table="conmeds", entity="conmed", prefix="CM", noun="concomitant medication", fields=FIELDS,
                    validate=validate, adjust=adjust)


def create(db, subject_id, data, *, actor, tz, now):
    return records.create(db, KIND, subject_id, data, actor=actor, tz=tz, now=now)


def get(db, conmed_id, *, user):
    return records.get(db, KIND, conmed_id, user=user)


def list_for(db, subject_id, *, user, include_entered_in_error=False):
    return records.list_for(db, KIND, subject_id, user=user, include_entered_in_error=include_entered_in_error)


def amend(db, conmed_id, changes, *, reason, actor, tz, now, expected_version=None):
    return records.amend(db, KIND, conmed_id, changes, reason=reason, actor=actor, tz=tz, now=now,
                         expected_version=expected_version)


def mark_entered_in_error(db, conmed_id, *, reason, actor, now, expected_version=None):
    return records.mark_entered_in_error(db, KIND, conmed_id, reason=reason, actor=actor, now=now,
                                         expected_version=expected_version)
