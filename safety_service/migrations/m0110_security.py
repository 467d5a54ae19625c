"""Security, round two (issue 15): server-side sessions, sign-in throttling per account and client address,
forced password change, token expiry, and the audit chain's key id.

Existing API tokens get 90 days from now, not from their creation: an integration's old token keeps working
until its operator issues a new one, instead of failing the moment this migration runs.
"""
from datetime import datetime, timedelta, timezone

TOKEN_DAYS = 90


def up(db):
    # A session is a random id in the (signed) cookie and its SHA-256 here: ending it here ends it everywhere,
    # so a cookie copied before sign-out no longer reads anything.
    db.execute("""
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users(id),
            client TEXT,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT
        )""")
    db.execute("CREATE INDEX sessions_user ON sessions(user_id, ended_at)")
    # Failed sign-ins per (e-mail as typed, client address): an attacker's address is paused, never the nurse's.
    db.execute("""
        CREATE TABLE sign_in_throttle (
            email TEXT NOT NULL COLLATE NOCASE,
            client TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            pauses INTEGER NOT NULL DEFAULT 0,
            paused_until TEXT,
            last_failed_at TEXT NOT NULL,
            PRIMARY KEY (email, client)
        )""")
    db.execute("ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE users ADD COLUMN password_changed_at TEXT")
    db.execute("ALTER TABLE api_tokens ADD COLUMN expires_at TEXT")
    db.execute("ALTER TABLE api_tokens ADD COLUMN revoked_by TEXT")
    db.execute("CREATE INDEX api_tokens_user ON api_tokens(user_id)")
    grace = (datetime.now(timezone.utc) + timedelta(days=TOKEN_DAYS)).isoformat(timespec="seconds")
    db.execute("UPDATE api_tokens SET expires_at = ? WHERE expires_at IS NULL", [grace])
    # NULL: an entry chained with plain SHA-256 before keying; else the id of the HMAC key that chained it.
    db.execute("ALTER TABLE audit_log ADD COLUMN key_id TEXT")
