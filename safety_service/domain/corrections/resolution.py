"""Alerts that no longer hold are resolved with the reason, and whoever was mailed about them is told once.

Used when a source result is entered in error, when a late baseline re-grades results, and when a late visit is
recorded. The resolution is audited in the caller's transaction. ``ON_CORRECTED`` hooks (the mail module's
correction notice) run in that same transaction, like alerts.ON_RAISED, so the notice commits with the change.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlite_utils import Database

from ...clock import iso
from ...db import atomic, rows
from .. import audit

OPEN = ("open", "acknowledged")

# (db, notice, now): notice = {"key", "subject_id", "site", "summary", "reason", "alerts": [alert rows resolved]}.
ON_CORRECTED: list[Callable[[Database, dict, datetime], None]] = []


def resolve(db: Database, found: list[dict], *, why: str, actor: str, now: datetime) -> list[dict]:
    """Resolve each open or acknowledged alert of ``found`` with ``why``; returns those resolved now."""
    done = []
    with atomic(db):
        for a in found:
            cur = db.execute("UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ?, "
                             "resolve_comment = ? WHERE id = ? AND status IN ('open', 'acknowledged')",
                             [iso(now), actor, why, a["id"]])
            if cur.rowcount:
                audit.record(db, actor=actor, action="resolved", entity="alert", entity_id=a["id"], at=now,
                             changes={"status": (a["status"], "resolved")}, reason=why)
                done.append({**a, "status": "resolved", "resolve_comment": why})
    return done


def open_alerts(db: Database, where: str, params: list) -> list[dict]:
    return rows(db, f"SELECT * FROM alerts WHERE status IN ('open', 'acknowledged') AND {where} ORDER BY id", params)


def notify(db: Database, *, key: str, subject_id: str, site: str, summary: str, reason: str, resolved: list[dict],
           now: datetime) -> None:
    """Tell, once per ``key`` and person, whoever was mailed about the ``resolved`` alerts (ON_CORRECTED hooks)."""
    if not resolved:
        return
    notice = {"key": key, "subject_id": subject_id, "site": site, "summary": summary, "reason": reason,
              "alerts": resolved}
    for hook in ON_CORRECTED:
        hook(db, notice, now)
