"""The numbered report series of a serious AE: report 0 is the initial report, 1.. the follow-ups.

Each report records when it was sent, by whom, to whom, what it says and which fields of the AE changed since
the report before; the due date that applied to it comes from its clocks (clocks.py). Recording a report meets
its clocks: their warning and missed alerts are resolved in the same transaction, with the reason.
"""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from ...clock import iso, parse_datetime, to_utc
from ...db import atomic, row, rows
from .. import adverse_events, alerts, audit
from ..ae_rules import _text
from ..errors import Conflict, NotFound, require
from . import clocks, susar

KINDS = ("initial", "follow_up")
RECIPIENT_MAX = 200
SUMMARY_MAX = 4000
# What a follow-up compares with the version the previous report described.
COMPARED = tuple(k for k in adverse_events.CONTENT if k not in ("report_due_at", "expedited_due_at"))


def sent(db: Database, ae_id: int) -> list[dict]:
    """The reports recorded for an AE, by number (no site check: callers have read the AE)."""
    out = []
    for r in rows(db, "SELECT * FROM sae_reports WHERE ae_id = ? ORDER BY number", (int(ae_id),)):
        out.append({**r, "changes": json.loads(r["changes"] or "[]")})
    return out


def series(db: Database, ae_id: int, *, user: dict | None, tz: str, now: datetime) -> list[dict]:
    """The SAE's reports, numbered: those sent, then those still due (``sent_at`` None), each with its due date
    and the clocks it meets. ``status``: sent, due or overdue (derived from the clock and ``now``).

    Raises NotFound (no AE the user may see).
    """
    ae = adverse_events.get(db, ae_id, user=user)
    done = sent(db, ae["id"])
    by_number: dict[int, list[clocks.Clock]] = {}
    for c in clocks.clocks(ae, tz, done):
        by_number.setdefault(c.number, []).append(c)
    out = []
    for r in done:
        out.append({**_public(r), "status": "sent",
                    "clocks": [c.as_dict() for c in by_number.pop(r["number"], [])]})
    for number in sorted(by_number):
        due = min(c.due_at for c in by_number[number])
        out.append({"id": None, "ae_id": ae["id"], "number": number,
                    "kind": "initial" if number == 0 else "follow_up", "due_at": iso(due), "sent_at": None,
                    "sent_by": None, "recipient": None, "summary": None, "changes": [], "ae_version": None,
                    "expedited": any(c.name != "initial_24h" for c in by_number[number]),
                    "status": "overdue" if to_utc(now) > due else "due",
                    "clocks": [c.as_dict() for c in by_number[number]]})
    return out


def _public(r: dict) -> dict:
    keys = ("id", "ae_id", "number", "kind", "due_at", "sent_at", "sent_by", "recipient", "summary", "changes",
            "ae_version", "created_at", "created_by")
    return {**{k: r.get(k) for k in keys}, "expedited": bool(r.get("expedited"))}


def latest_number(db: Database, ae_id: int) -> int | None:
    r = row(db, "SELECT max(number) AS n FROM sae_reports WHERE ae_id = ?", (int(ae_id),))
    return None if r is None else r["n"]


def _changed_since(db: Database, ae: dict, previous: dict | None) -> list[str]:
    """The AE fields that differ between the version the previous report described and the current one."""
    if previous is None or previous.get("ae_version") is None:
        return []
    before = row(db, "SELECT data FROM ae_versions WHERE ae_id = ? AND version = ?",
                 (ae["id"], previous["ae_version"]))
    if before is None:
        return []
    data = json.loads(before["data"])
    return sorted(audit.changes_between(data, ae, COMPARED))


def _sent_at(value, *, tz: str, now: datetime) -> datetime:
    if value in (None, ""):
        return to_utc(now)
    if isinstance(value, datetime):
        return to_utc(value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz)))
    return parse_datetime(str(value).strip(), default_tz=tz)


def record(db: Database, ae_id: int, data: dict, *, actor: dict, tz: str, now: datetime) -> dict:
    """Record a report of the series as sent: ``kind`` (initial/follow_up), ``sent_at`` (default now; local time
    without an offset), ``recipient``, ``summary`` (required for a follow-up: what is new), ``expedited`` (true:
    the sponsor's expedited report to the competent authority and ethics committee, ICH E2A III.A).

    Raises InvalidInput naming every bad field, NotFound, Conflict (not serious, entered in error, the initial
    report already recorded). Returns the report as ``series`` lists it.
    """
    allowed = {"kind", "sent_at", "recipient", "summary", "expedited"}
    errors = {k: "unknown field" for k in data if k not in allowed}
    kind = str(data.get("kind") or "").strip()
    if kind not in KINDS:
        errors["kind"] = "must be initial or follow_up"
    try:
        recipient = _text(data.get("recipient"))
    except ValueError as e:
        errors["recipient"], recipient = str(e), ""
    if not recipient:
        errors.setdefault("recipient", "required: to whom the report went (e.g. the sponsor's safety desk)")
    elif len(recipient) > RECIPIENT_MAX:
        errors["recipient"] = f"at most {RECIPIENT_MAX} characters"
    try:
        summary = _text(data.get("summary")) or None
    except ValueError as e:
        errors["summary"], summary = str(e), None
    if summary and len(summary) > SUMMARY_MAX:
        errors["summary"] = f"at most {SUMMARY_MAX} characters"
    if kind == "follow_up" and not summary and "summary" not in errors:
        errors["summary"] = "required for a follow-up: say what is new"
    flag = data.get("expedited", False)
    if isinstance(flag, str) and flag.strip().lower() in ("true", "on", "1", "yes", "false", "off", "0", "no", ""):
        flag = flag.strip().lower() in ("true", "on", "1", "yes")
    if not isinstance(flag, bool):
        errors["expedited"], flag = "must be true or false", False
    try:
        when = _sent_at(data.get("sent_at"), tz=tz, now=now)
    except (ValueError, TypeError):
        errors["sent_at"], when = "must be a date and time (ISO 8601)", None
    with atomic(db):
        ae = adverse_events.get(db, ae_id, user=actor)
        if ae["status"] != "active":
            raise Conflict(f"adverse event {ae['id']} was entered in error: no report to record")
        if not ae["serious"]:
            raise Conflict(f"adverse event {ae['id']} is not serious: no SAE report to record")
        reports = sent(db, ae["id"])
        if kind == "initial" and reports:
            raise Conflict(f"the initial report of {adverse_events.display_id(ae)} was recorded as sent at "
                           f"{reports[0]['sent_at']}: record a follow-up instead")
        if kind == "follow_up" and not reports:
            errors["kind"] = "the initial report (0) is not recorded yet: record it first"
        if when is not None:
            if when > to_utc(now):
                errors["sent_at"] = "is in the future"
            elif when < parse_datetime(ae["awareness_at"]):
                errors["sent_at"] = "is before the site learned of the event"
            elif reports and when < parse_datetime(reports[-1]["sent_at"]):
                errors["sent_at"] = f"is before report {reports[-1]['number']} was sent"
        require(errors)
        number = 0 if kind == "initial" else reports[-1]["number"] + 1
        meets = clocks.met_by(ae, reports, {"number": number, "expedited": flag}, tz)
        due = min((c.due_at for c in meets), default=None)
        changed = _changed_since(db, ae, reports[-1] if reports else None)
        report_id = db["sae_reports"].insert({
            "ae_id": ae["id"], "number": number, "kind": kind, "due_at": iso(due) if due else None,
            "sent_at": iso(when), "sent_by": actor["email"], "recipient": recipient, "summary": summary,
            "changes": json.dumps(changed), "ae_version": ae["version"], "expedited": int(flag),
            "created_at": iso(now), "created_by": actor["email"]}).last_pk
        if number == 0:
            # The first round's columns stay true for every reader of the AE (pages, exports, the index).
            db["adverse_events"].update(ae["id"], {"report_sent_at": iso(when), "report_sent_by": actor["email"]})
        # Fields named sae_report_* so they never read as the AE's own columns (report_due_at is the AE's
        # 24-hour clock); report_sent_at is the AE column report 0 sets.
        changes = {"sae_report_number": (None, number), "sae_report_kind": (None, kind),
                   "sae_report_sent_at": (None, iso(when)), "sae_report_recipient": (None, recipient),
                   "sae_report_due_at": (None, iso(due) if due else None),
                   "sae_report_changes": (None, changed or None), "sae_report_expedited": (None, flag)}
        if number == 0:
            changes["report_sent_at"] = (None, iso(when))
        audit.record(db, actor=actor["email"], action="sae_report_sent", entity=adverse_events.ENTITY,
                     entity_id=ae["id"], at=now, reason=summary, changes=changes)
        _resolve_met(db, ae, number, meets, actor=actor, now=now)
    return next(r for r in series(db, ae["id"], user=actor, tz=tz, now=now) if r["id"] == report_id)


def _resolve_met(db: Database, ae: dict, number: int, meets: list, *, actor: dict, now: datetime) -> None:
    """Resolve the warning and missed alerts of the clocks report ``number`` meets."""
    keys = [k for c in meets for k in clocks.alert_keys(ae["id"], c)]
    if not keys:
        return
    marks = ",".join("?" * len(keys))
    for a in rows(db, f"SELECT id FROM alerts WHERE key IN ({marks}) AND status != 'resolved'", keys):
        alerts.resolve(db, a["id"], user={**susar.SYSTEM, "email": actor["email"]}, now=now,
                       comment=f"report {number} of {adverse_events.display_id(ae)} recorded as sent")


def for_cioms(db: Database, ae_id: int, number: int | None, *, user: dict | None) -> dict:
    """The sent report ``number`` (default: the latest). Raises NotFound when there is none."""
    ae = adverse_events.get(db, ae_id, user=user)
    reports = sent(db, ae["id"])
    if not reports:
        raise NotFound(f"{adverse_events.display_id(ae)} has no report recorded as sent yet")
    if number is None:
        return reports[-1]
    found = next((r for r in reports if r["number"] == number), None)
    if found is None:
        raise NotFound(f"{adverse_events.display_id(ae)} has no report {number}")
    return found
