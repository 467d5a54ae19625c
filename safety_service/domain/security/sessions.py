"""Server-side sessions: the cookie carries a random id, this table says whether it still stands.

Why: a signed cookie alone cannot be taken back, so a copy made before sign-out kept reading pages. Here a
session ends at sign-out, after the idle timeout, when the account is deactivated or locked, and when its
password changes (21 CFR 11.10(d), 11.300); a replayed cookie then finds an ended session and goes to sign-in.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlite_utils import Database

from ...clock import iso, parse_datetime
from ...db import atomic, row

# last_seen_at is written at most this often: not a write on every request, and idle time stays exact enough.
TOUCH_EVERY = timedelta(seconds=30)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Database, user_id: int, *, client: str | None, now: datetime) -> str:
    """A new session for the user; returns its id for the cookie (only its SHA-256 is stored)."""
    token = secrets.token_urlsafe(32)
    with atomic(db):
        db.execute("INSERT INTO sessions (token_hash, user_id, client, created_at, last_seen_at) VALUES (?,?,?,?,?)",
                   [_digest(token), user_id, (client or "")[:64], iso(now), iso(now)])
    return token


def resume(db: Database, token: str | None, *, now: datetime, idle: timedelta) -> tuple[dict | None, str | None]:
    """(user, None) for a standing session, which counts as activity; else (None, why): "unknown", "ended",
    "idle" (ended now) or "inactive" (the account was deactivated: ended now)."""
    if not token:
        return None, "unknown"
    s = row(db, "SELECT s.id, s.user_id, s.last_seen_at, s.ended_at, u.active FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", (_digest(str(token)),))
    if s is None:
        return None, "unknown"
    if s["ended_at"]:
        return None, "ended"
    last = parse_datetime(s["last_seen_at"])
    if now - last > idle:
        _end(db, s["id"], "idle timeout", now)
        return None, "idle"
    if not s["active"]:
        _end(db, s["id"], "account deactivated", now)
        return None, "inactive"
    if now - last >= TOUCH_EVERY or now < last:  # also when the clock went back: idle counts from the new time
        db.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL", [iso(now), s["id"]])
    return row(db, "SELECT * FROM users WHERE id = ?", (s["user_id"],)), None


def _end(db: Database, session_id: int, reason: str, now: datetime) -> None:
    db.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
               [iso(now), reason, session_id])


def end(db: Database, token: str | None, *, reason: str, now: datetime) -> bool:
    """End one session (sign-out). Returns whether it was standing."""
    if not token:
        return False
    with atomic(db):
        return db.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE token_hash = ? AND ended_at IS NULL",
                          [iso(now), reason, _digest(str(token))]).rowcount > 0


def end_all(db: Database, user_id: int, *, reason: str, now: datetime, keep: str | None = None) -> int:
    """End every standing session of the user (but ``keep``'s); returns how many ended."""
    kept = _digest(keep) if keep else ""
    with atomic(db):
        return db.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL "
                          "AND token_hash != ?", [iso(now), reason, user_id, kept]).rowcount


def standing(db: Database, user_id: int) -> int:
    """How many sessions of the user stand (not ended; idle ones end when next used)."""
    return db.execute("SELECT count(*) FROM sessions WHERE user_id = ? AND ended_at IS NULL", [user_id]).fetchone()[0]
