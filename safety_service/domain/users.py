"""Users, argon2 password hashes, sign-in and e-signature lockout, and hashed API tokens that expire.

Lockout, two kinds (issue 15): failed sign-ins pause the pair (e-mail as typed, client address) with doubling
pauses, so an attacker from one address cannot lock a nurse out from hers; failed e-signatures (any caller of
``verify_signature``) count toward a lock of the account itself, since whoever fails them already holds its
session (21 CFR 11.300(d)). Every outcome of a sign-in costs one argon2 verification and gets one message.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from ..clock import iso, parse_datetime
from ..db import atomic, row, rows
from . import audit
from .permissions import ROLES
from .security import passwords, sessions

_hasher = PasswordHasher()
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = passwords.MIN_LENGTH
TOKEN_DAYS = 90  # API tokens expire after this many days unless created with another lifetime
MAX_PAUSE = timedelta(hours=24)
FORGET_AFTER = timedelta(days=2)  # a sign-in pause pair quiet this long is forgotten
# One message for every refused sign-in: unknown e-mail, wrong password, paused, locked or inactive account.
SIGN_IN_REFUSED = ("Sign-in failed: wrong e-mail or password, or too many failed attempts (then wait a few "
                   "minutes, or ask an administrator).")


@dataclass
class Lockout:
    """Failures in a row before a pause (sign-in) or lock (e-signature), and the first pause's length."""
    max_failed: int = 5
    minutes: int = 15


LOCKOUT = Lockout()


def configure_lockout(max_failed: int, minutes: int) -> None:
    """Set from SAFETY_MAX_FAILED_LOGINS / SAFETY_LOCKOUT_MINUTES when the app starts."""
    LOCKOUT.max_failed, LOCKOUT.minutes = max_failed, minutes


class UserError(ValueError):
    """Bad user data; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_hash(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: dict, password: str) -> bool:
    """The password alone, counting nothing: for a signature use ``verify_signature``."""
    return _verify_hash(user["password_hash"], password)


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash with the current hasher's cost, verified for an unknown e-mail so it takes as long as a real one."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash(secrets.token_hex(16))
    return _dummy_hashes[key]


def _locked(user: dict, now: datetime) -> bool:
    return bool(user["locked_until"]) and parse_datetime(user["locked_until"]) > now


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
    problem = passwords.problem(password or "", email)
    if problem:
        raise UserError("password", problem)
    with atomic(db):
        if by_email(db, email):
            raise UserError("email", "already has an account")
        record = {"email": email, "name": name or email.split("@")[0], "role": role, "site": site,
                  "password_hash": hash_password(password), "created_at": iso(now)}
        user_id = db["users"].insert(record).last_pk
        audit.record(db, actor=actor, action="create", entity="user", entity_id=user_id, at=now,
                     changes={"email": (None, email), "role": (None, role), "site": (None, site)})
    return get(db, user_id)


def authenticate(db: Database, email: str, password: str, *, now: datetime, client: str = "unknown",
                 max_failed: int | None = None, lockout_minutes: int | None = None) -> tuple[dict | None, str | None]:
    """Check a sign-in from a client address; returns (user, None) or (None, SIGN_IN_REFUSED). Every attempt is
    audited with the address.

    ``max_failed`` failures in a row for one (e-mail as typed, client address) pause that pair for
    ``lockout_minutes``, doubled at each further pause (at most a day); the same e-mail from another address is
    not paused. An account locked by failed e-signatures (or inactive) is refused from everywhere. The counters
    live in the database, so they hold across processes.
    """
    max_failed = max_failed or LOCKOUT.max_failed
    lockout_minutes = lockout_minutes or LOCKOUT.minutes
    typed = (email or "").strip()[:254]
    client = (client or "unknown")[:64]
    with atomic(db):
        user = by_email(db, typed)
        pair = row(db, "SELECT * FROM sign_in_throttle WHERE email = ? AND client = ?", (typed, client))
        paused = bool(pair and pair["paused_until"] and parse_datetime(pair["paused_until"]) > now)
        # One argon2 verification whatever follows (unknown e-mail, paused, locked): equal time, no hint.
        password_ok = _verify_hash(user["password_hash"] if user else _dummy_hash(), password or "")
        if user and user["active"] and password_ok and not paused and not _locked(user, now):
            db.execute("DELETE FROM sign_in_throttle WHERE email = ? AND client = ?", [typed, client])
            audit.record(db, actor=user["email"], action="sign_in", entity="user", entity_id=user["id"], at=now,
                         reason=f"from {client}")
            return get(db, user["id"]), None
        if paused:
            why = f"paused for this e-mail from {client} until {pair['paused_until']}"
        elif user is None or not user["active"]:
            why = "unknown or inactive account"
        elif _locked(user, now):
            why = f"account locked until {user['locked_until']}"
        else:
            why = "wrong password"
        if not paused:
            why += _count_failure(db, typed, client, pair, now, max_failed, lockout_minutes)
        audit.record(db, actor=(user["email"] if user else typed or "?")[:200],
                     action="sign_in_refused" if paused else "sign_in_failed", entity="user",
                     entity_id=user["id"] if user else None, at=now, reason=f"{why}; from {client}")
    return None, SIGN_IN_REFUSED


def _count_failure(db: Database, typed: str, client: str, pair: dict | None, now: datetime, max_failed: int,
                   lockout_minutes: int) -> str:
    """One more failure for the pair; at ``max_failed`` a pause, twice as long as the pair's previous one."""
    # Forget pairs quiet for two days (their pause long over), so guessed e-mails do not pile up forever; the
    # doubling starts again for them.
    db.execute("DELETE FROM sign_in_throttle WHERE last_failed_at < ? AND (paused_until IS NULL OR paused_until < ?)",
               [iso(now - FORGET_AFTER), iso(now)])
    failures, pauses = (pair["failures"] if pair else 0) + 1, pair["pauses"] if pair else 0
    until = None
    if failures >= max_failed:
        pauses += 1
        pause = min(timedelta(minutes=lockout_minutes) * 2 ** min(pauses - 1, 16), MAX_PAUSE)
        until, failures = iso(now + pause), 0
    db.execute("INSERT INTO sign_in_throttle (email, client, failures, pauses, paused_until, last_failed_at) "
               "VALUES (?,?,?,?,?,?) ON CONFLICT (email, client) DO UPDATE SET failures = excluded.failures, "
               "pauses = excluded.pauses, paused_until = excluded.paused_until, "
               "last_failed_at = excluded.last_failed_at", [typed, client, failures, pauses, until, iso(now)])
    return f"; paused until {until}" if until else ""


def verify_signature(db: Database, user_id: int, password: str, *, now: datetime, meaning: str = "e-signature") -> bool:
    """An electronic signature's password (SAE sign-off, or any other), counted like a sign-in: ``max_failed``
    wrong ones in a row lock the account for ``LOCKOUT.minutes`` and end its sessions (21 CFR 11.300(d)).

    A locked or inactive account's signature fails even with the right password. Every failure is audited.
    Raises RuntimeError when called inside a transaction: the caller's rollback of a refused signature would
    undo the count, so call it first and act on its answer in your own ``atomic``.
    """
    if db.conn.in_transaction:
        raise RuntimeError("verify_signature must run outside a transaction (its failure count must commit)")
    with atomic(db):
        user = get(db, user_id)
        if user is None:
            return False
        ok = _verify_hash(user["password_hash"], password or "")
        if ok and user["active"] and not _locked(user, now):
            if user["failed_logins"]:
                db.execute("UPDATE users SET failed_logins = 0 WHERE id = ?", [user_id])
            return True
        if not ok:
            failed = user["failed_logins"] + 1
            locked = iso(now + timedelta(minutes=LOCKOUT.minutes)) if failed >= LOCKOUT.max_failed else None
            db.execute("UPDATE users SET failed_logins = ?, locked_until = coalesce(?, locked_until) WHERE id = ?",
                       [0 if locked else failed, locked, user_id])
            changes = {"failed_signatures": (user["failed_logins"], 0 if locked else failed)}
            if locked:
                changes["locked_until"] = (user["locked_until"], locked)
                sessions.end_all(db, user_id, reason="account locked after failed e-signatures", now=now)
            audit.record(db, actor=user["email"], action="e_signature_failed", entity="user", entity_id=user_id,
                         at=now, changes=changes, reason=f"{meaning}: wrong password" + ("; account locked" if locked else ""))
        else:
            audit.record(db, actor=user["email"], action="e_signature_refused", entity="user", entity_id=user_id,
                         at=now, reason=f"{meaning}: account locked or inactive")
    return False


def _token_digest(token: str) -> str:
    # API tokens are 256-bit random values, so a plain SHA-256 (not a slow password hash) suffices.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, email: str, *, now: datetime, actor: str = "system", days: int = TOKEN_DAYS) -> str:
    """A new API token for the user, valid ``days`` days, returned once; only its hash is stored.
    Raises UserError (email, days)."""
    user = by_email(db, email)
    if user is None:
        raise UserError("email", "no such user")
    if not 1 <= int(days) <= 3650:
        raise UserError("days", "must be between 1 and 3650")
    token = "sst_" + secrets.token_urlsafe(32)
    expires = iso(now + timedelta(days=int(days)))
    with atomic(db):
        tid = db["api_tokens"].insert({"user_id": user["id"], "token_hash": _token_digest(token),
                                       "prefix": token[:8], "created_at": iso(now), "expires_at": expires}).last_pk
        audit.record(db, actor=actor, action="token_create", entity="api_token", entity_id=tid, at=now,
                     changes={"user": (None, user["email"]), "expires_at": (None, expires)})
    return token


def user_for_token(db: Database, token: str, *, now: datetime) -> dict | None:
    """The active user of a token that is neither revoked nor expired, else None."""
    found = row(db, "SELECT u.*, t.expires_at AS token_expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id "
                    "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.active = 1", (_token_digest(token),))
    if found is None or not found["token_expires_at"] or parse_datetime(found["token_expires_at"]) <= now:
        return None
    found.pop("token_expires_at")
    return found


def tokens_of(db: Database, user_id: int, *, now: datetime) -> list[dict]:
    """A user's tokens, newest first, with ``state`` active/expired/revoked (never the token or its hash)."""
    out = []
    for t in rows(db, "SELECT id, prefix, created_at, expires_at, revoked_at, revoked_by FROM api_tokens "
                      "WHERE user_id = ? ORDER BY id DESC", (user_id,)):
        t["state"] = ("revoked" if t["revoked_at"] else
                      "expired" if not t["expires_at"] or parse_datetime(t["expires_at"]) <= now else "active")
        out.append(t)
    return out


def revoke_token(db: Database, token_id: int, *, actor: str, now: datetime, reason: str = "") -> dict:
    """Revoke a token at once (audited). Raises UserError (token) when unknown or already revoked."""
    with atomic(db):
        t = row(db, "SELECT t.*, u.email FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?",
                (token_id,))
        if t is None:
            raise UserError("token", f"no token {token_id}")
        if t["revoked_at"]:
            raise UserError("token", f"token {token_id} was revoked at {t['revoked_at']}")
        db.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?", [iso(now), actor, token_id])
        audit.record(db, actor=actor, action="token_revoke", entity="api_token", entity_id=token_id, at=now,
                     changes={"revoked_at": (None, iso(now))}, reason=(reason or "").strip() or f"token of {t['email']}")
    return row(db, "SELECT id, user_id, prefix, created_at, expires_at, revoked_at, revoked_by FROM api_tokens "
                   "WHERE id = ?", (token_id,))


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
        if not active:
            sessions.end_all(db, user_id, reason="account deactivated", now=now)
        audit.record(db, actor=actor["email"], action="activate" if active else "deactivate", entity="user",
                     entity_id=user_id, at=now, changes={"active": (bool(user["active"]), active)}, reason=reason.strip())
    return get(db, user_id)


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise UserError("reason", "is required")
    return text


def _target(db: Database, user_id: int) -> dict:
    user = get(db, user_id)
    if user is None:
        raise UserError("user", "no such user")
    return user


def change_password(db: Database, user_id: int, current: str, new: str, *, now: datetime,
                    keep_session: str | None = None) -> dict:
    """The user's own change (also the forced one after an admin reset): the current password counts like an
    e-signature, the new one must pass the policy; every other session of the account ends.

    Raises UserError (current, password).
    """
    if not verify_signature(db, user_id, current, now=now, meaning="password change"):
        raise UserError("current", "does not match your password")
    with atomic(db):
        user = _target(db, user_id)
        problem = passwords.problem(new or "", user["email"])
        if problem:
            raise UserError("password", problem)
        if _verify_hash(user["password_hash"], new):
            raise UserError("password", "must differ from the current password")
        db.execute("UPDATE users SET password_hash = ?, must_change_password = 0, password_changed_at = ? "
                   "WHERE id = ?", [hash_password(new), iso(now), user_id])
        sessions.end_all(db, user_id, reason="password changed", now=now, keep=keep_session)
        audit.record(db, actor=user["email"], action="password_change", entity="user", entity_id=user_id, at=now,
                     changes={"password_changed_at": (user["password_changed_at"], iso(now))}
                     | ({"must_change_password": (True, False)} if user["must_change_password"] else {}))
    return get(db, user_id)


def reset_password(db: Database, user_id: int, temporary: str, *, actor: dict, reason: str, now: datetime) -> dict:
    """An admin sets a temporary password: the user must change it at the next sign-in; sessions end, locks clear.

    Raises UserError (reason, user, password).
    """
    why = _reason(reason)
    with atomic(db):
        user = _target(db, user_id)
        problem = passwords.problem(temporary or "", user["email"])
        if problem:
            raise UserError("password", problem)
        db.execute("UPDATE users SET password_hash = ?, must_change_password = 1, password_changed_at = ?, "
                   "failed_logins = 0, locked_until = NULL WHERE id = ?", [hash_password(temporary), iso(now), user_id])
        db.execute("DELETE FROM sign_in_throttle WHERE email = ?", [user["email"]])
        sessions.end_all(db, user_id, reason="password reset by an administrator", now=now)
        audit.record(db, actor=actor["email"], action="password_reset", entity="user", entity_id=user_id, at=now,
                     changes={"must_change_password": (bool(user["must_change_password"]), True)}, reason=why)
    return get(db, user_id)


def unlock(db: Database, user_id: int, *, actor: dict, reason: str, now: datetime) -> dict:
    """Lift the account lock (failed e-signatures) and every sign-in pause of its e-mail. Raises UserError."""
    why = _reason(reason)
    with atomic(db):
        user = _target(db, user_id)
        paused = db.execute("DELETE FROM sign_in_throttle WHERE email = ?", [user["email"]]).rowcount
        db.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", [user_id])
        audit.record(db, actor=actor["email"], action="unlock", entity="user", entity_id=user_id, at=now,
                     changes={"locked_until": (user["locked_until"], None), "sign_in_pauses": (paused, 0)}, reason=why)
    return get(db, user_id)


def change_role(db: Database, user_id: int, role: str, site: str | None, *, actor: dict, reason: str, now: datetime,
                sites: tuple[str, ...] | list[str] = ()) -> dict:
    """Give an account another role (and site). Site-bound roles need one of ``sites``; study-wide roles have
    none. An admin cannot change their own role (no lock-out of the last admin by mistake).

    Raises UserError (reason, user, role, site).
    """
    why = _reason(reason)
    site = (site or "").strip() or None
    if role not in ROLES:
        raise UserError("role", f"must be one of {', '.join(ROLES)}")
    if role in {"nurse", "investigator"}:
        if not site:
            raise UserError("site", f"a {role} belongs to a site")
        if sites and site not in sites:
            raise UserError("site", f"unknown site {site}")
    else:
        site = None
    with atomic(db):
        user = _target(db, user_id)
        if user["id"] == actor["id"]:
            raise UserError("user", "you cannot change your own role")
        changes = audit.changes_between(user, {"role": role, "site": site}, ("role", "site"))
        if not changes:
            raise UserError("role", "is already the account's role and site")
        db.execute("UPDATE users SET role = ?, site = ? WHERE id = ?", [role, site, user_id])
        audit.record(db, actor=actor["email"], action="role_change", entity="user", entity_id=user_id, at=now,
                     changes=changes, reason=why)
    return get(db, user_id)
