"""The mail outbox: enqueue once per natural key, claim with a conditional UPDATE, then sent / retry / failed.

A message is rendered and stored (in the same transaction as the alert it is about) before anyone tries to
send it, so a mail server that is down loses nothing. Claiming is one ``UPDATE ... WHERE id = (SELECT ...)
RETURNING``: two senders never get the same message. A sender that dies after claiming leaves a stale
``sending`` row that is claimed again after ``claim_timeout_seconds``: at-least-once, with a stable Message-ID
so the receiver can drop a duplicate. Every change is audited in the transaction that makes it.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlite_utils import Database

from ..clock import iso
from ..db import atomic, row, rows
from . import audit
from .alerts import raise_alert
from .errors import NotFound

STATUSES = ("pending", "sending", "sent", "failed")
LAST_ERROR_MAX = 500


def message_id(key: str, mail_from: str) -> str:
    """A Message-ID fixed by the message's key: every retry of a message carries the same one (RFC 5322 3.6.4)."""
    domain = mail_from.rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def enqueue(db: Database, *, key: str, kind: str, template: str, recipient: str, subject: str, text: str, html: str,
            mail_from: str, now: datetime, alert_id: int | None = None, period_start: datetime | None = None,
            period_end: datetime | None = None) -> int | None:
    """Store a rendered message unless one with this key exists. Returns its id, or None if it was already queued."""
    with atomic(db):
        cur = db.execute(
            "INSERT OR IGNORE INTO outbox (key, kind, template, recipient, subject, body_text, body_html, message_id,"
            " alert_id, status, attempts, due_at, period_start, period_end, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,'pending',0,?,?,?,?)",
            [key, kind, template, recipient, subject, text, html, message_id(key, mail_from), alert_id, iso(now),
             iso(period_start), iso(period_end), iso(now)])
        if cur.rowcount == 0:
            return None
        outbox_id = cur.lastrowid
        audit.record(db, actor="system", action="mail_queued", entity="outbox", entity_id=outbox_id, at=now,
                     changes={"key": (None, key), "recipient": (None, recipient), "subject": (None, subject)})
    return outbox_id


def claim(db: Database, now: datetime, claim_timeout_seconds: int) -> dict | None:
    """Take the next due message for sending (attempts + 1), or None. Safe with several senders at once.

    Due: pending with due_at <= now, or claimed longer ago than the timeout by a sender that never reported back.
    """
    stale = iso(now - timedelta(seconds=claim_timeout_seconds))
    # One statement: SQLite runs the sub-select and the update under the same write lock; the repeated
    # condition in the outer WHERE keeps the claim correct even if that ever changed.
    cur = db.execute(
        "UPDATE outbox SET status = 'sending', claimed_at = :now, attempts = attempts + 1"
        " WHERE id = (SELECT id FROM outbox WHERE (status = 'pending' AND due_at <= :now)"
        "             OR (status = 'sending' AND claimed_at <= :stale) ORDER BY due_at, id LIMIT 1)"
        " AND ((status = 'pending' AND due_at <= :now) OR (status = 'sending' AND claimed_at <= :stale))"
        " RETURNING *", {"now": iso(now), "stale": stale})
    found = cur.fetchall()  # drain it: the statement (and its write lock) ends when its rows are read
    if not found:
        return None
    return dict(zip([d[0] for d in cur.description], found[0]))


def _finish(db: Database, msg: dict, now: datetime, sets: str, params: list, action: str, changes: dict,
            reason: str | None = None) -> bool:
    # Only the claim that took the message may finish it: a stale claim taken over by another sender loses.
    cur = db.execute(f"UPDATE outbox SET {sets} WHERE id = ? AND status = 'sending' AND claimed_at = ?",
                     [*params, msg["id"], msg["claimed_at"]])
    if cur.rowcount == 0:
        return False
    audit.record(db, actor="system", action=action, entity="outbox", entity_id=msg["id"], at=now, changes=changes,
                 reason=reason)
    return True


def mark_sent(db: Database, msg: dict, now: datetime) -> bool:
    """Record the delivery of a claimed message. False if the claim was lost meanwhile."""
    with atomic(db):
        return _finish(db, msg, now, "status = 'sent', sent_at = ?, last_error = NULL", [iso(now)], "mail_sent",
                       {"status": ("sending", "sent")})


def mark_retry(db: Database, msg: dict, now: datetime, error: str, *, max_attempts: int,
               backoff_seconds: int) -> str:
    """After a retryable failure: pending again after the backoff, or failed once ``max_attempts`` are spent.

    Returns the new status ('pending' or 'failed'); 'lost' if another sender had taken the claim over.
    """
    if msg["attempts"] >= max_attempts:
        return mark_failed(db, msg, now, f"{error} (gave up after {msg['attempts']} attempts)")
    error = error[:LAST_ERROR_MAX]
    due = now + timedelta(seconds=backoff_seconds)
    with atomic(db):
        done = _finish(db, msg, now, "status = 'pending', due_at = ?, last_error = ?", [iso(due), error],
                       "mail_retry", {"status": ("sending", "pending"), "due_at": (msg["due_at"], iso(due))},
                       reason=error)
    return "pending" if done else "lost"


def mark_failed(db: Database, msg: dict, now: datetime, error: str) -> str:
    """Give up on a message and raise an alert in the UI, both in one transaction. Returns 'failed' or 'lost'."""
    error = error[:LAST_ERROR_MAX]
    with atomic(db):
        if not _finish(db, msg, now, "status = 'failed', last_error = ?", [error], "mail_failed",
                       {"status": ("sending", "failed")}, reason=error):
            return "lost"
        about = row(db, "SELECT subject_id, site FROM alerts WHERE id = ?", (msg["alert_id"],)) \
            if msg.get("alert_id") else None
        raise_alert(db, key=f"mail_failed:{msg['id']}", kind="mail_failed", severity="high", now=now,
                    message=f"Mail to {msg['recipient']} not delivered ({msg['subject']}): {error}",
                    subject_id=about["subject_id"] if about else None, site=about["site"] if about else None,
                    ref_entity="outbox", ref_id=msg["id"])
    return "failed"


def get(db: Database, outbox_id: int) -> dict:
    """Raises NotFound."""
    found = row(db, "SELECT * FROM outbox WHERE id = ?", (outbox_id,))
    if found is None:
        raise NotFound(f"no message {outbox_id}")
    return found


def list_messages(db: Database, *, status: str | None = None, recipient: str | None = None,
                  limit: int = 200) -> list[dict]:
    """Messages newest first (without their bodies). Raises InvalidInput for an unknown status."""
    from .errors import InvalidInput

    if status and status not in STATUSES:
        raise InvalidInput({"status": f"must be one of {', '.join(STATUSES)}"})
    clauses, params = [], []
    for col, value in (("status", status), ("recipient", recipient)):
        if value:
            clauses.append(f"{col} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return rows(db, "SELECT id, key, kind, template, recipient, subject, status, attempts, due_at, sent_at,"
                    f" last_error, alert_id, created_at FROM outbox {where} ORDER BY id DESC LIMIT ?",
                [*params, limit])


def status_counts(db: Database) -> dict[str, int]:
    return {r["status"]: r["n"] for r in db.query("SELECT status, count(*) AS n FROM outbox GROUP BY status")}
