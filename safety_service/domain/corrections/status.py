"""Participant status: withdrawn (consent withdrawn), lost to follow-up, died or completed, with a date and reason.

After ``status_on`` nothing is due or alerted: the schedule shows the later visits as ``not_expected`` (study.py),
the overdue check skips the participant (checks.visit_rows reads active participants only), lab rules raise
nothing collected after it (labs.raise_breaches), and exposure for the signal rates ends with that day
(reports/datacut.py gives ``off_study_at`` to domain/signals.py). A death names the grade-5 AE that records it
(CTCAE v5.0: grade 5 is death related to the AE) or says why there is none. Audited field by field.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlite_utils import Database

from ...clock import iso, local_date, parse_datetime
from ...db import atomic, row
from .. import audit, participants
from ..errors import InvalidInput, require
from ..study import Study
from . import resolution

STATUSES = ("withdrawn", "lost_to_follow_up", "died", "completed")
FIELDS = ("status", "status_on", "status_reason", "death_ae_id", "death_no_ae_reason")


def _text(data: dict, field: str) -> str:
    return " ".join(str(data.get(field) or "").split())


def validate(db: Database, p: dict, data: dict, *, tz: str, now: datetime) -> dict:
    """The status change as stored, or InvalidInput naming every bad field."""
    errors: dict[str, str] = {}
    status = _text(data, "status")
    if status == "active" and p["status"] != "active":
        pass  # back on study (a participant lost to follow-up returns, or a status recorded by mistake): on = return
    elif status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}" + (
            "" if p["status"] == "active" else ", or active to put the participant back on study")
    on = None
    raw = _text(data, "on")
    if not raw:
        errors["on"] = "is required"
    else:
        try:
            on = date.fromisoformat(raw)
        except ValueError:
            errors["on"] = "must be a date YYYY-MM-DD"
    if on and on > local_date(now, tz):
        errors["on"] = "is in the future"
    elif on and on < date.fromisoformat(p["consent_on"]):
        errors["on"] = "is before the participant's consent"
    reason = _text(data, "reason")
    if not reason:
        errors["reason"] = "is required"
    death_ae_id, no_ae = None, None
    if status == "died":
        no_ae = _text(data, "death_no_ae_reason") or None
        raw_ae = data.get("death_ae_id")
        if raw_ae not in (None, ""):
            try:
                death_ae_id = int(str(raw_ae).strip())
            except ValueError:
                errors["death_ae_id"] = "must be the id of an AE"
            else:
                ae = row(db, "SELECT id, subject_id, grade, status FROM adverse_events WHERE id = ?", (death_ae_id,)) \
                    if db["adverse_events"].exists() else None
                if ae is None or ae["subject_id"] != p["subject_id"] or ae["status"] != "active":
                    errors["death_ae_id"] = f"is not an AE of {p['subject_id']}"
                elif ae["grade"] != 5:
                    errors["death_ae_id"] = (f"AE {death_ae_id} is grade {ae['grade']}; a death is recorded by a "
                                             "grade-5 AE")
        if death_ae_id is None and not no_ae and "death_ae_id" not in errors:
            errors["death_ae_id"] = ("name the grade-5 AE that records the death, or say why there is none "
                                     "(death_no_ae_reason)")
        if death_ae_id is not None and no_ae:
            errors["death_no_ae_reason"] = "give either the grade-5 AE or the reason there is none, not both"
    require(errors)
    if status == "active":  # nothing ends: the schedule and the checks apply again from the record's own dates
        return {"status": status, "status_on": None, "status_reason": reason, "death_ae_id": None,
                "death_no_ae_reason": None}
    return {"status": status, "status_on": on.isoformat(), "status_reason": reason, "death_ae_id": death_ae_id,
            "death_no_ae_reason": no_ae}


def set_status(db: Database, subject_id: str, data: dict, *, user: dict, study: Study, tz: str,
               now: datetime) -> dict:
    """Record that a participant left the study. Raises NotFound, InvalidInput (status, on, reason, death_ae_id,
    death_no_ae_reason). A later change (lost to follow-up, then known to have died) is another audited change."""
    p = participants.get(db, subject_id, user=user)
    new = validate(db, p, data, tz=tz, now=now)
    with atomic(db):
        old = participants.get(db, subject_id, user=user)
        db.execute("UPDATE participants SET status = ?, status_on = ?, status_reason = ?, death_ae_id = ?, "
                   "death_no_ae_reason = ?, status_recorded_at = ?, status_recorded_by = ? WHERE id = ?",
                   [new["status"], new["status_on"], new["status_reason"], new["death_ae_id"],
                    new["death_no_ae_reason"], iso(now), user["email"], p["id"]])
        audit.record(db, actor=user["email"], action="status", entity="participant", entity_id=subject_id, at=now,
                     changes=audit.changes_between(old, new, FIELDS), reason=new["status_reason"])
        if new["status"] == "active":
            return participants.get(db, subject_id, user=None)
        # An overdue alert of a visit that was not yet due on that day no longer holds.
        after = _visits_after(p, study, tz, date.fromisoformat(new["status_on"]))
        stale = [a for a in resolution.open_alerts(db, "kind = 'visit_overdue' AND subject_id = ?", [subject_id])
                 if a["key"].rpartition(":")[2] in after]
        resolution.resolve(db, stale, actor=user["email"], now=now,
                           why=f"participant {new['status'].replace('_', ' ')} on {new['status_on']} "
                               f"(recorded by {user['email']}): visit no longer expected")
    return participants.get(db, subject_id, user=None)


def _visits_after(p: dict, study: Study, tz: str, on: date) -> set[str]:
    """Visit codes whose window had not closed before ``on``."""
    if not p["injection_at"]:
        return set()
    injected = local_date(parse_datetime(p["injection_at"]), tz)
    return {v.code for v in study.visits if injected + timedelta(days=v.day + v.window_after) >= on}
