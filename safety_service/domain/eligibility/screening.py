"""The screening checklist's actions: the site answers a criterion, the investigator signs a protocol deviation,
the injection is recorded only when no failed criterion stands without a signed deviation.

Policy (issue 13), as a real trial wants it: a criterion known to fail blocks the injection until the investigator
signs a documented protocol deviation naming it (ICH E6(R2) 4.5.3: deviations documented; 21 CFR 11.50/11.200
e-signature). A criterion still unknown does not block: this service records injections that were given (often
entered after the fact), and refusing one would lose its safety follow-up; such a participant shows "eligibility
not confirmed" on its page and in the screening log, where the monitor sees it. Each change is audited in the same
transaction. Raises InvalidInput (every bad field named), NotFound, Forbidden or Conflict.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlite_utils import Database

from ...clock import iso, local_date, parse_datetime
from ...db import atomic, row
from .. import audit, participants, users
from ..errors import Conflict, Forbidden, InvalidInput, require
from .assess import Assessment, assess
from .criteria import Criteria

ENTITY = "participant"
SIGNATURE_MEANING = "approval: injection despite the failed eligibility criteria named (protocol deviation)"
MAX_TEXT = 1000
YES = ("met", "true", "1", "yes", True, 1)
NO = ("not_met", "false", "0", "no", False, 0)


def _text(value, field: str, errors: dict, required: bool = True) -> str | None:
    text = str(value or "").strip()
    if not text:
        if required:
            errors[field] = "is required"
        return None
    if len(text) > MAX_TEXT:
        errors[field] = f"is longer than {MAX_TEXT} characters"
    elif any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        errors[field] = "contains control characters"
    return text


def answer(db: Database, subject_id: str, criterion_id: str, data: dict, *, criteria: Criteria, actor: dict,
           now: datetime) -> Assessment:
    """Record the site's answer to a non-lab criterion: ``met`` (met / not_met) and a ``source_note`` (where it was
    verified). Changing an earlier answer needs a ``reason``. Raises NotFound (participant), InvalidInput."""
    p = participants.get(db, subject_id, user=actor)
    errors: dict[str, str] = {}
    c = criteria.get(criterion_id)
    if c is None:
        errors["criterion"] = f"unknown criterion {criterion_id!r}"
    elif c.check != "answer":
        errors["criterion"] = f"{c.id} is computed from the {'screening labs' if c.check == 'lab' else 'dates'}"
    elif c.sex and p["sex"] != c.sex:
        errors["criterion"] = f"{c.id} does not apply to this participant"
    raw = data.get("met")
    met = 1 if raw in YES else 0 if raw in NO else None
    if met is None:
        errors["met"] = "must be met or not_met"
    note = _text(data.get("source_note"), "source_note", errors)
    reason = _text(data.get("reason"), "reason", errors, required=False)
    existing = row(db, "SELECT * FROM eligibility_answers WHERE participant_id = ? AND criterion = ?",
                   (p["id"], criterion_id)) if "criterion" not in errors else None
    if existing and not errors and (existing["met"], existing["source_note"]) == (met, note):
        return assess(db, p, criteria, now)  # the same answer again (a resubmitted form): nothing to record
    if existing and not reason:
        errors["reason"] = "is required to change an earlier answer"
    require(errors)
    with atomic(db):
        if existing:
            db["eligibility_answers"].update(existing["id"], {
                "met": met, "source_note": note, "version": existing["version"] + 1, "answered_at": iso(now),
                "answered_by": actor["email"]})
            changes = {f"eligibility:{c.id}": (_shown(existing["met"], existing["source_note"]), _shown(met, note))}
        else:
            db["eligibility_answers"].insert({
                "participant_id": p["id"], "subject_id": p["subject_id"], "site": p["site"], "criterion": c.id,
                "met": met, "source_note": note, "answered_at": iso(now), "answered_by": actor["email"]})
            changes = {f"eligibility:{c.id}": (None, _shown(met, note))}
        audit.record(db, actor=actor["email"], action="eligibility_answer", entity=ENTITY,
                     entity_id=p["subject_id"], at=now, changes=changes, reason=reason)
    return assess(db, p, criteria, now)


def _shown(met: int, note: str) -> str:
    return f"{'met' if met else 'not met'} ({note})"


def sign_deviation(db: Database, subject_id: str, data: dict, *, criteria: Criteria, actor: dict,
                   now: datetime) -> dict:
    """The investigator's signed protocol deviation accepting every criterion the participant now fails.

    ``description`` says why the participant is enrolled anyway; ``password`` re-entered signs it (a wrong one is
    audited as a failed signature). Raises Forbidden (not an investigator), NotFound, Conflict (no criterion fails,
    or all failures are already accepted), InvalidInput (description, password).
    """
    if actor.get("role") != "investigator":
        raise Forbidden("only an investigator signs a protocol deviation")
    p = participants.get(db, subject_id, user=actor)
    a = assess(db, p, criteria, now)
    if not a.failing:
        raise Conflict(f"{subject_id} fails no eligibility criterion: no deviation is needed")
    if not a.unwaived:
        raise Conflict(f"every failed criterion of {subject_id} is already accepted by a signed deviation")
    errors: dict[str, str] = {}
    description = _text(data.get("description"), "description", errors)
    password = data.get("password") or ""
    if not password:
        errors["password"] = "required: re-enter your password to sign"
    require(errors)
    account = users.get(db, actor["id"])
    # verify_signature counts a wrong password toward the account lockout, as a sign-in (21 CFR 11.300(d)).
    signed = account is not None and account["active"] and users.verify_signature(
        db, account["id"], password, now=now, meaning="protocol deviation")
    if not signed:
        audit.record(db, actor=actor["email"], action="e_signature_failed", entity=ENTITY, entity_id=subject_id,
                     at=now, reason="password did not match (protocol deviation)")
        raise InvalidInput({"password": "does not match your account: the deviation is not signed"})
    return store_signed_deviation(db, p, account, description, criteria=criteria, now=now)


def store_signed_deviation(db: Database, p: dict, signer: dict, description: str, *, criteria: Criteria,
                           now: datetime) -> dict:
    """Write a deviation signed by ``signer`` (an investigator account whose signature was verified by the caller)
    accepting the criteria that fail now, with its audit entry. Raises Conflict when none is left to accept."""
    with atomic(db):
        unwaived = assess(db, p, criteria, now).unwaived  # re-read inside the transaction that writes
        if not unwaived:
            raise Conflict(f"every failed criterion of {p['subject_id']} is already accepted by a signed deviation")
        record = {"participant_id": p["id"], "subject_id": p["subject_id"], "site": p["site"], "kind": "eligibility",
                  "criteria": json.dumps(unwaived), "description": description, "signed_by": signer["email"],
                  "signer_name": signer["name"], "signed_at": iso(now), "signature_meaning": SIGNATURE_MEANING}
        dev_id = db["protocol_deviations"].insert(record).last_pk
        audit.record(db, actor=signer["email"], action="e_signature", entity="protocol_deviation", entity_id=dev_id,
                     at=now, reason=SIGNATURE_MEANING,
                     changes={"subject_id": (None, p["subject_id"]), "criteria": (None, unwaived),
                              "description": (None, description), "signed_by": (None, signer["email"]),
                              "signer_name": (None, signer["name"]), "signed_at": (None, iso(now)),
                              "signature_meaning": (None, SIGNATURE_MEANING)})
    return dict(record, id=dev_id, criteria=unwaived)


def injection_blockers(db: Database, p: dict, criteria: Criteria, now: datetime) -> list[str]:
    """The failed criteria no signed deviation accepts: while any remains, the participant cannot be injected."""
    return assess(db, p, criteria, now).unwaived


def record_injection(db: Database, subject_id: str, data: dict, *, criteria: Criteria, study, tz: str,
                     actor: dict, now: datetime) -> dict:
    """Record the injection of a screened participant (``injection_at``) and its dose (1 x 10^6 cells/kg).

    Raises NotFound, Conflict (already injected), InvalidInput (injection_at: missing, unreadable, before consent,
    in the future, or a failed criterion without a signed protocol deviation).
    """
    p = participants.get(db, subject_id, user=actor)
    if p["injection_at"]:
        raise Conflict(f"{subject_id} was injected at {p['injection_at']}")
    if p.get("status") not in (None, "active"):
        raise Conflict(f"{subject_id} has left the study ({p['status']}): no injection is recorded")
    errors: dict[str, str] = {}
    text = str(data.get("injection_at") or "").strip()
    when = None
    if not text:
        errors["injection_at"] = "is required"
    else:
        try:
            when = parse_datetime(text, default_tz=tz)
        except (ValueError, OverflowError):
            errors["injection_at"] = "must be a date and time (ISO 8601)"
    if when is not None:
        if when > now:
            errors["injection_at"] = "is in the future"
        elif local_date(when, tz).isoformat() < p["consent_on"]:
            errors["injection_at"] = "is before consent"
    require(errors)
    with atomic(db):
        # Assessed as of the injection: the screening values are the results collected before it.
        blockers = injection_blockers(db, dict(p, injection_at=iso(when)), criteria, now)
        if blockers:
            raise InvalidInput({"injection_at": (
                f"{subject_id} fails eligibility criteria {', '.join(blockers)}: the investigator must sign a "
                "protocol deviation before the injection is recorded")})
        dose = p["weight_kg"] * study.dose_cells_per_kg  # protocol: 1 x 10^6 cells per kg body weight
        db.execute("UPDATE participants SET injection_at = ?, dose_cells = ? WHERE id = ?", [iso(when), dose, p["id"]])
        audit.record(db, actor=actor["email"], action="injection", entity=ENTITY, entity_id=subject_id, at=now,
                     changes={"injection_at": (None, iso(when)), "dose_cells": (None, dose)})
    return participants.get(db, subject_id, user=actor)
