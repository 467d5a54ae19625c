"""Relevant medical history: conditions the participant has or had (CIOMS I field 23, SDTM MH), e.g. the
type 2 diabetes and hypertension behind the diabetic nephropathy the trial treats."""
from __future__ import annotations

from datetime import date

from ..errors import InvalidInput
from . import fields, records

FIELDS = ("condition", "onset", "ongoing")


def validate(data: dict, today: date) -> dict:
    """Stored values of a medical history entry, or InvalidInput naming every bad field."""
    errors, out = {}, {}
    for name, parse in (("condition", lambda v: fields.text(v, required=True)),
                        ("onset", lambda v: fields.partial_date(v, today=today, required=False)),
                        ("ongoing", fields.flag)):
        try:
            out[name] = parse(data.get(name))
        except ValueError as e:
            errors[name] = str(e)
    if errors:
        raise InvalidInput(errors)
    return out


KIND = records.Kind(table="medical_history", entity="medical_history", prefix="MH", noun="medical history entry",
                    fields=FIELDS, validate=validate)


def create(db, subject_id, data, *, actor, tz, now):
    return records.create(db, KIND, subject_id, data, actor=actor, tz=tz, now=now)


def get(db, entry_id, *, user):
    return records.get(db, KIND, entry_id, user=user)


def list_for(db, subject_id, *, user, include_entered_in_error=False):
    return records.list_for(db, KIND, subject_id, user=user, include_entered_in_error=include_entered_in_error)


def amend(db, entry_id, changes, *, reason, actor, tz, now, expected_version=None):
    return records.amend(db, KIND, entry_id, changes, reason=reason, actor=actor, tz=tz, now=now,
                         expected_version=expected_version)


def mark_entered_in_error(db, entry_id, *, reason, actor, now, expected_version=None):
    return records.mark_entered_in_error(db, KIND, entry_id, reason=reason, actor=actor, now=now,
                                         expected_version=expected_version)
