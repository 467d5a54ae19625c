"""Users, argon2 password hashes, sign-in with lockout, and hashed API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from ..clock import iso, parse_datetime
from ..db import atomic, row
from . import audit
from .permissions import ROLES

_hasher = PasswordHasher()
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 10


class UserError(ValueError):
    """Bad user data; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: dict, password: str) -> bool:
    try:
        return _hasher.verify(user["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return False


def public(user: dict | None) -> dict | None:
    """The user without secrets."""
    if user is None:
        return None
    return {k: v for k, v in user.items() if k not in {"password_hash"}}


def get(db: Database, user_id: int) -> dict | None:
    return row(db, "SELECT * FROM users WHERE id = ?", (user_id,))


def by_email(db: Database, email: str) -> dict | None:
    return row(db, "SELECT * FROM users WHERE email = ?", (email.strip(),))


def create(db: Database, *, email: str, role: str, password: str, now: datetime, site: str | None = None,
           name: str = "", actor: str = "system") -> dict:
    """Create a user. Raises UserError naming the field."""
    email = (email or "").strip()
    if not EMAIL_RE.match(email):
        raise UserError("email", "is not an e-mail address")
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}")
    if role in {"nurse", "investigator"} and not site:
        raise UserError("site", f"a {role} belongs to a site")
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password", f"must have at least {MIN_PASSWORD} characters")
    with atomic(db):
        if by_email(db, email):
            raise UserError("email", "already has an account")
        record = {"email": email, "name": name or email.split("@")[0], "role": role, "site": site,
                  "password_hash": hash_password(password), "created_at": iso(now)}
        user_id = db["users"].insert(record).last_pk
        audit.record(db, actor=actor, action="create", entity="user", entity_id=user_id, at=now,
                     changes={"email": (None, email), "role": (None, role), "site": (None, site)})
    return get(db, user_id)


def authenticate(db: Database, email: str, password: str, *, now: datetime, max_failed: int = 5,
                 lockout_minutes: int = 15) -> tuple[dict | None, str | None]:
    """Check a sign-in; returns (user, None) or (None, reason). Every attempt is audited.

    The failed-attempt counter and lock live in the database, so they hold across processes.
    """
    with atomic(db):
        user = by_email(db, email or "")
        if user is None or not user["active"]:
            audit.record(db, actor=(email or "?")[:200], action="sign_in_failed", entity="user", at=now,
                         reason="unknown or inactive account")
            return None, "Wrong e-mail or password."
        if user["locked_until"] and parse_datetime(user["locked_until"]) > now:
            audit.record(db, actor=user["email"], action="sign_in_refused", entity="user", entity_id=user["id"],
                         at=now, reason="account locked")
            return None, "This account is locked after repeated failed sign-ins. Try again later."
        if not check_password(user, password or ""):
            failed = user["failed_logins"] + 1
            locked = iso(now + timedelta(minutes=lockout_minutes)) if failed >= max_failed else None
            db.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                       [0 if locked else failed, locked, user["id"]])
            audit.record(db, actor=user["email"], action="sign_in_failed", entity="user", entity_id=user["id"],
                         at=now, reason="wrong password" + (f"; locked until {locked}" if locked else ""))
            return None, "Wrong e-mail or password."
        db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [user["id"]])
        audit.record(db, actor=user["email"], action="sign_in", entity="user", entity_id=user["id"], at=now)
    return get(db, user["id"]), None


def _token_digest(token: str) -> str:
    # API tokens are 256-bit random values, so a plain SHA-256 (not a slow password hash) suffices.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, email: str, *, now: datetime, actor: str = "system") -> str:
    """A new API token for the user, returned once; only its hash is stored. Raises UserError."""
    user = by_email(db, email)
    if user is None:
        raise UserError("email", "no such user")
    token = "sst_" + secrets.token_urlsafe(32)
    with atomic(db):
        tid = db["api_tokens"].insert({"user_id": user["id"], "token_hash": _token_digest(token),
                                       "prefix": token[:8], "created_at": iso(now)}).last_pk
        audit.record(db, actor=actor, action="token_create", entity="api_token", entity_id=tid, at=now,
                     changes={"user": (None, user["email"])})
    return token


def user_for_token(db: Database, token: str) -> dict | None:
    found = row(db, "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id "
                    "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.active = 1", (_token_digest(token),))
    return found


def list_users(db: Database) -> list[dict]:
    return [public(u) for u in db.query("SELECT * FROM users ORDER BY role, email")]


def set_active(db: Database, user_id: int, active: bool, *, actor: dict, reason: str, now: datetime) -> dict:
    """Deactivate (never delete: the audit trail names this account) or reactivate an account.

    Raises UserError (reason, user) when the reason is missing, the user unknown, or admins lock themselves out.
    """
    if not (reason or "").strip():
        raise UserError("reason", "is required")
    with atomic(db):
        user = get(db, user_id)
        if user is None:
            raise UserError("user", "no such user")
        if user["id"] == actor["id"] and not active:
            raise UserError("user", "you cannot deactivate your own account")
        db.execute("UPDATE users SET active = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
                   [int(active), user_id])
        audit.record(db, actor=actor["email"], action="activate" if active else "deactivate", entity="user",
                     entity_id=user_id, at=now, changes={"active": (bool(user["active"]), active)}, reason=reason.strip())
    return get(db, user_id)
