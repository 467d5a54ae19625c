"""A lab result entered in error: marked with a reason (never deleted or changed), and everything it caused undone.

The result leaves every series, chart, rule evaluation and default export (they read valid results only); the
alerts it raised are resolved ("source result entered in error by <who>: <reason>"), its open AE offer withdrawn,
the results graded against it (a baseline) re-graded, and whoever was mailed about it gets one correction notice.
All in one transaction with the audit entries. The right value is then an ordinary new result for the same sample.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ...clock import iso, parse_datetime
from ...db import atomic, row
from .. import audit, labs, participants
from ..errors import Conflict, InvalidInput, NotFound
from ..units import ANALYTES
from . import regrade, resolution


def get(db: Database, lab_id: int, *, user: dict | None) -> dict:
    """One stored result (any status, current grade) the user may see. Raises NotFound otherwise."""
    r = row(db, f"{labs.CURRENT} WHERE l.id = ?", (lab_id,))
    if r is None:
        raise NotFound(f"no lab result {lab_id}")
    participants.get(db, r["subject_id"], user=user)  # NotFound outside the user's site
    return labs.current(r)


def describe(lab: dict) -> str:
    return f"{ANALYTES[lab['analyte']].label} {lab['value']:g} {lab['unit']} collected {lab['collected_at'][:16]}Z"


def mark_entered_in_error(db: Database, lab_id: int, *, reason: str, user: dict, rules, study, tz: str,
                          now: datetime) -> dict:
    """Mark a valid result entered in error. Raises InvalidInput (reason), NotFound, Conflict (already marked)."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise InvalidInput({"reason": "is required: say what was wrong (e.g. typed 19.0 for 1.9)"})
    actor = user["email"]
    with atomic(db):
        lab = get(db, lab_id, user=user)
        if lab["status"] != "valid":
            raise Conflict(f"lab result {lab_id} is already {lab['status']}")
        db.execute("UPDATE labs SET status = 'entered_in_error', error_reason = ?, error_at = ?, error_by = ? "
                   "WHERE id = ?", [reason, iso(now), actor, lab_id])
        audit.record(db, actor=actor, action="entered_in_error", entity="lab", entity_id=lab_id, at=now,
                     changes={"status": ("valid", "entered_in_error")}, reason=reason)
        why = f"source result entered in error by {actor}: {reason}"
        resolved = resolution.resolve(
            db, resolution.open_alerts(db, "ref_entity = 'lab' AND ref_id = ?", [str(lab_id)]),
            why=why, actor=actor, now=now)
        offer = row(db, "SELECT * FROM lab_ae_offers WHERE lab_id = ? AND status = 'open'", (lab_id,))
        if offer:
            db.execute("UPDATE lab_ae_offers SET status = 'withdrawn', withdrawn_at = ?, withdrawn_by = ?, "
                       "withdraw_reason = ? WHERE lab_id = ? AND status = 'open'", [iso(now), actor, why, lab_id])
            audit.record(db, actor=actor, action="ae_offer_withdrawn", entity="lab", entity_id=lab_id, at=now,
                         changes={"ae_offer": ("open", "withdrawn")}, reason=why)
        p = participants.get(db, lab["subject_id"], user=None)
        # What was computed from it: a baseline value re-grades later results; a rule's episode or reference moves.
        injected = p["injection_at"] and parse_datetime(lab["collected_at"]) <= parse_datetime(p["injection_at"])
        later = regrade.reconcile(
            db, p, rules=rules, study=study, tz=tz, now=now, actor=actor, regrade_results=bool(injected),
            why=f"re-evaluated after lab result {lab_id} ({describe(lab)}) was entered in error by {actor}: {reason}")
        resolution.notify(db, key=f"lab:{lab_id}", subject_id=p["subject_id"], site=p["site"],
                          summary=f"{describe(lab)} for {p['subject_id']} was entered in error", reason=why,
                          resolved=resolved + later["resolved"], now=now)
    return get(db, lab_id, user=None)
