"""Alerts: raised once per natural key, acknowledged with a comment, resolved; every step audited.

``raise_alert`` is what every check calls (lab rules, AE save, overdue visits, SAE clocks, stopping rule).
Uniqueness lives in the database (alerts.key UNIQUE + INSERT OR IGNORE), so a check that runs twice, or in two
processes at once, raises an alert once.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlite_utils import Database

from ..clock import iso
from ..db import atomic, row, rows
from . import audit
from .errors import Conflict, InvalidInput, NotFound
from .permissions import site_scope

SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("open", "acknowledged", "resolved")

# Called inside the raising transaction with (db, alert, now) for each newly raised alert, e.g. to queue mail.
ON_RAISED: list[Callable[[Database, dict, datetime], None]] = []


def raise_alert(db: Database, *, key: str, kind: str, severity: str, message: str, now: datetime,
                subject_id: str | None = None, site: str | None = None, rule: str | None = None,
                ref_entity: str | None = None, ref_id: str | int | None = None, actor: str = "system") -> dict | None:
    """Raise an alert unless one with this key exists. Returns the new alert, or None if it was already raised."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}")
    with atomic(db):
        cur = db.execute(
            "INSERT OR IGNORE INTO alerts (key, kind, severity, subject_id, site, rule, message, ref_entity, ref_id,"
            " raised_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [key, kind, severity, subject_id, site, rule, message, ref_entity,
             None if ref_id is None else str(ref_id), iso(now)])
        if cur.rowcount == 0:
            return None
        alert = get(db, cur.lastrowid)
        audit.record(db, actor=actor, action="alert_raised", entity="alert", entity_id=alert["id"], at=now,
                     changes={"key": (None, key), "message": (None, message)})
        for hook in ON_RAISED:
            hook(db, alert, now)
    return alert


def get(db: Database, alert_id: int, user: dict | None = None) -> dict:
    a = row(db, "SELECT * FROM alerts WHERE id = ?", (alert_id,))
    scope = site_scope(user)
    if a is None or (scope and a["site"] != scope):
        raise NotFound(f"no alert {alert_id}")
    return a


def list_alerts(db: Database, user: dict | None, *, status: str | None = None, kind: str | None = None,
                severity: str | None = None, subject_id: str | None = None, limit: int = 500) -> list[dict]:
    """Alerts the user may see, most severe and newest first. Raises InvalidInput for an unknown filter value."""
    errors = {}
    if status and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    if severity and severity not in SEVERITIES:
        errors["severity"] = f"must be one of {', '.join(SEVERITIES)}"
    if errors:
        raise InvalidInput(errors)
    clauses, params = [], []
    for col, value in (("status", status), ("kind", kind), ("severity", severity), ("subject_id", subject_id),
                       ("site", site_scope(user))):
        if value:
            clauses.append(f"{col} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, raised_at DESC"
    return rows(db, f"SELECT * FROM alerts {where} ORDER BY {order} LIMIT ?", [*params, limit])


def _transition(db, alert_id, user, now, *, to: str, allowed_from: tuple, comment: str, fields: tuple[str, str, str]):
    if not (comment or "").strip():
        raise InvalidInput({"comment": "is required"})
    at_col, by_col, comment_col = fields
    with atomic(db):
        a = get(db, alert_id, user)
        if a["status"] not in allowed_from:
            raise Conflict(f"alert {alert_id} is {a['status']}")
        db.execute(f"UPDATE alerts SET status = ?, {at_col} = ?, {by_col} = ?, {comment_col} = ? WHERE id = ?",
                   [to, iso(now), user["email"], comment.strip(), alert_id])
        audit.record(db, actor=user["email"], action=to, entity="alert", entity_id=alert_id, at=now,
                     changes={"status": (a["status"], to)}, reason=comment.strip())
    return get(db, alert_id)


def acknowledge(db: Database, alert_id: int, *, user: dict, comment: str, now: datetime) -> dict:
    """Raises NotFound, InvalidInput (comment), Conflict if not open."""
    return _transition(db, alert_id, user, now, to="acknowledged", allowed_from=("open",), comment=comment,
                       fields=("acknowledged_at", "acknowledged_by", "ack_comment"))


def resolve(db: Database, alert_id: int, *, user: dict, comment: str, now: datetime) -> dict:
    """Raises NotFound, InvalidInput (comment), Conflict if already resolved."""
    return _transition(db, alert_id, user, now, to="resolved", allowed_from=("open", "acknowledged"),
                       comment=comment, fields=("resolved_at", "resolved_by", "resolve_comment"))


def counts(db: Database, user: dict | None) -> dict[str, int]:
    """Open alerts by severity for the badge in the navigation."""
    scope = site_scope(user)
    sql = "SELECT severity, count(*) AS n FROM alerts WHERE status = 'open'" + (" AND site = ?" if scope else "")
    return {r["severity"]: r["n"] for r in db.query(sql + " GROUP BY severity", [scope] if scope else [])}
