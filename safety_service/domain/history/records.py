"""What con-meds and medical history share: one row per record, numbered per subject, never deleted.

Every change writes the row and its audit entries (old and new value of each field, who, when, why) in one
transaction; an amendment needs a reason and bumps ``version``, and a stale ``version`` is a Conflict, so two
people editing the same record cannot silently overwrite each other (21 CFR 11.10(e)).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from sqlite_utils import Database

from ...clock import iso, local_date
from ...db import atomic, row
from .. import audit, participants
from ..errors import Conflict, InvalidInput, NotFound
from ..permissions import may_see_site, site_scope

COLUMNS = ("id", "subject_id", "site", "seq", "status", "version", "created_at", "created_by", "updated_at",
           "updated_by")


@dataclass(frozen=True)
class Kind:
    """One kind of record: its table, audit entity, display prefix and the validation of its entered fields."""

    table: str
    entity: str
    prefix: str  # CM or MH, as the SDTM domain codes: "S01-003-CM2"
    noun: str
    fields: tuple[str, ...]
    validate: Callable[[dict, date], dict]  # entered fields -> stored values; InvalidInput naming every bad one
    adjust: Callable[[dict, dict], dict] = lambda current, changes: changes  # amendment conveniences


def display_id(kind: Kind, r: dict) -> str:
    return f"{r['subject_id']}-{kind.prefix}{r['seq']}"


def public(kind: Kind, r: dict) -> dict:
    """A stored row as the API and the pages show it."""
    out = {k: r.get(k) for k in (*COLUMNS[:4], *kind.fields, *COLUMNS[4:])}
    out["ongoing"] = bool(out["ongoing"])
    out["display_id"] = display_id(kind, r)
    return out


def _id(record_id) -> int | None:
    text = str(record_id)
    return int(text) if text.isascii() and text.isdigit() else None


def get(db: Database, kind: Kind, record_id, *, user: dict | None) -> dict:
    """One record the user may see. Raises NotFound otherwise (another site's record does not exist for them)."""
    rid = _id(record_id)
    r = row(db, f"SELECT * FROM {kind.table} WHERE id = ?", (rid,)) if rid is not None else None
    if r is None or not may_see_site(user, r["site"]):
        raise NotFound(f"no {kind.noun} {record_id}")
    return public(kind, r)


def list_for(db: Database, kind: Kind, subject_id: str, *, user: dict | None,
             include_entered_in_error: bool = False) -> list[dict]:
    """A participant's records by sequence number. Raises NotFound for a participant the user may not see."""
    p = participants.get(db, subject_id, user=user)
    status = "" if include_entered_in_error else " AND status = 'active'"
    return [public(kind, r) for r in db.query(
        f"SELECT * FROM {kind.table} WHERE participant_id = ?{status} ORDER BY seq", [p["id"]])]


def list_all(db: Database, kind: Kind, *, user: dict | None, subject_ids: set[str] | None = None,
             include_entered_in_error: bool = False) -> list[dict]:
    """Every record the user may see (site scope), by subject and sequence (exports)."""
    clauses, params = [], []
    if not include_entered_in_error:
        clauses.append("status = 'active'")
    scope = site_scope(user)
    if scope:
        clauses.append("site = ?")
        params.append(scope)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    out = [public(kind, r) for r in db.query(f"SELECT * FROM {kind.table} {where} ORDER BY subject_id, seq", params)]
    return [r for r in out if subject_ids is None or r["subject_id"] in subject_ids]


def _unknown(kind: Kind, data: dict) -> dict:
    return {k: f"unknown field; fields are {', '.join(kind.fields)}" for k in data if k not in kind.fields}


def validate_new(kind: Kind, data: dict, *, today: date) -> dict:
    """The stored values of a new record, or InvalidInput naming every bad (or unknown) field."""
    errors = _unknown(kind, data)
    try:
        values = kind.validate({k: data.get(k) for k in kind.fields}, today)
    except InvalidInput as e:
        raise InvalidInput({**e.fields, **errors}) from None
    if errors:
        raise InvalidInput(errors)
    return values


def insert(db: Database, kind: Kind, p: dict, values: dict, *, actor: str, now: datetime,
           source: str | None = None) -> dict:
    """Store validated values for a participant with the next sequence number, audited. Call inside atomic()."""
    seq = db.execute(f"SELECT coalesce(max(seq), 0) + 1 FROM {kind.table} WHERE subject_id = ?",
                     [p["subject_id"]]).fetchone()[0]
    record = {**values, "participant_id": p["id"], "subject_id": p["subject_id"], "site": p["site"], "seq": seq,
              "ongoing": int(values["ongoing"]), "status": "active", "version": 1, "created_at": iso(now),
              "created_by": actor, "updated_at": iso(now), "updated_by": actor}
    rid = db[kind.table].insert(record).last_pk
    new = public(kind, row(db, f"SELECT * FROM {kind.table} WHERE id = ?", (rid,)))
    audit.record(db, actor=actor, action="create", entity=kind.entity, entity_id=rid, at=now,
                 changes={k: (None, new[k]) for k in ("subject_id", "seq", *kind.fields)
                          if new[k] not in (None, "")},
                 reason=f"imported from {source}" if source else None)
    return new


def create(db: Database, kind: Kind, subject_id: str, data: dict, *, actor: dict, tz: str, now: datetime) -> dict:
    """Record one for a participant of the actor's site.

    Raises NotFound (participant not visible) or InvalidInput naming every bad field; nothing is written then.
    """
    p = participants.get(db, subject_id, user=actor)
    values = validate_new(kind, data, today=local_date(now, tz))
    with atomic(db):
        return insert(db, kind, p, values, actor=actor["email"], now=now)


def _reason(reason) -> str | None:
    text = str(reason or "").strip()
    return text or None


def _editable(db: Database, kind: Kind, record_id, actor: dict, expected_version) -> dict:
    current = get(db, kind, record_id, user=actor)
    if current["status"] != "active":
        raise Conflict(f"{kind.noun} {current['display_id']} was entered in error and can no longer change")
    if expected_version not in (None, ""):
        try:
            expected = int(expected_version)
        except (TypeError, ValueError):
            raise InvalidInput({"version": "must be a whole number"}) from None
        if expected != current["version"]:
            raise Conflict(f"{kind.noun} {current['display_id']} changed meanwhile (now version {current['version']}, "
                           f"you edited version {expected}): reload it and amend again")
    return current


def amend(db: Database, kind: Kind, record_id, changes: dict, *, reason, actor: dict, tz: str, now: datetime,
          expected_version=None) -> dict:
    """Change fields of a record with a reason: a new version; the old values stay in the audit trail.

    Raises InvalidInput (fields, reason, nothing would change), NotFound, Conflict (entered in error, stale version).
    """
    errors = _unknown(kind, changes)
    text = _reason(reason)
    if text is None:
        errors["reason"] = "required: say why it changes (21 CFR 11.10(e))"
    with atomic(db):
        current = _editable(db, kind, record_id, actor, expected_version)
        merged = {k: current[k] for k in kind.fields}
        merged.update(kind.adjust(current, {k: v for k, v in changes.items() if k in kind.fields}))
        try:
            values = kind.validate(merged, local_date(now, tz))
        except InvalidInput as e:
            raise InvalidInput({**e.fields, **errors}) from None
        diff = audit.changes_between(current, values, kind.fields)
        if not diff and not errors:
            errors["changes"] = "nothing would change"
        if errors:
            raise InvalidInput(errors)
        update = {**values, "ongoing": int(values["ongoing"]), "version": current["version"] + 1,
                  "updated_at": iso(now), "updated_by": actor["email"]}
        db[kind.table].update(current["id"], update)
        audit.record(db, actor=actor["email"], action="amend", entity=kind.entity, entity_id=current["id"], at=now,
                     changes={**diff, "version": (current["version"], current["version"] + 1)}, reason=text)
        return get(db, kind, current["id"], user=None)


def mark_entered_in_error(db: Database, kind: Kind, record_id, *, reason, actor: dict, now: datetime,
                          expected_version=None) -> dict:
    """Withdraw a record made by mistake: kept and shown struck through, left out of listings and exports.

    Raises InvalidInput (reason), NotFound, Conflict (already entered in error, stale version).
    """
    text = _reason(reason)
    if text is None:
        raise InvalidInput({"reason": "required: say why it was entered in error"})
    with atomic(db):
        current = _editable(db, kind, record_id, actor, expected_version)
        db[kind.table].update(current["id"], {"status": "entered_in_error", "version": current["version"] + 1,
                                              "updated_at": iso(now), "updated_by": actor["email"]})
        audit.record(db, actor=actor["email"], action="entered_in_error", entity=kind.entity, entity_id=current["id"],
                     at=now, changes={"status": ("active", "entered_in_error"),
                                      "version": (current["version"], current["version"] + 1)}, reason=text)
        return get(db, kind, current["id"], user=None)


def history(db: Database, kind: Kind, record_id, *, user: dict | None) -> list[dict]:
    """The record's audit entries, oldest first."""
    current = get(db, kind, record_id, user=user)
    return audit.history(db, kind.entity, current["id"])


__all__ = ["Kind", "public", "get", "list_for", "list_all", "create", "insert", "amend", "mark_entered_in_error",
           "history", "display_id"]
