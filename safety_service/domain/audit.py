"""The append-only audit trail (21 CFR 11.10(e)): who, when (UTC), what entity and field, old and new value, why.

Each entry carries a hash of the previous entry's hash and its own content, so an entry changed or
removed afterwards breaks the chain and `verify` names the first broken entry. Nothing here updates or
deletes a row, and database triggers refuse it for everyone else.

The hash is an HMAC-SHA256 with a key kept outside the database (SAFETY_AUDIT_KEY or instance/audit_key), so
someone who can write the file cannot rebuild the chain after an edit. Each entry names its key (``key_id``);
entries written before keying (``key_id`` NULL) keep their plain SHA-256 and still verify, but none may follow
a keyed one. Retired keys stay in the keyring to verify what they chained (rotation: docs/DEPLOYMENT.md).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlite_utils import Database

from ..clock import iso
from ..db import atomic

GENESIS = "0" * 64
_FIELDS = ("at", "actor", "action", "entity", "entity_id", "field", "old_value", "new_value", "reason")


class AuditKeyError(RuntimeError):
    """No audit key is configured for this database, or an entry names a key the keyring lacks."""


@dataclass(frozen=True)
class Keyring:
    """The current key (chains new entries) and retired ones (verify what they chained), by key id."""
    current_id: str
    keys: dict

    @classmethod
    def of(cls, secrets_: list[str]) -> "Keyring":
        keys = {key_id(k): k.encode("utf-8") for k in secrets_ if k}
        if not keys:
            raise AuditKeyError("an audit key is required")
        return cls(key_id(secrets_[0]), keys)


def key_id(secret: str) -> str:
    """A short public name of a key (not the key): 12 hex digits of a SHA-256 of it."""
    return hashlib.sha256(b"safety-audit-key-id:" + secret.encode("utf-8")).hexdigest()[:12]


# Keyrings by database file: create_app configures the one for its database (use_keys). Keyed by file so that
# two apps in one process (tests) each chain with their own key; another file (a backup, a copy) opened in the
# process gets the keyring configured last.
_KEYRINGS: dict[str, Keyring] = {}
_LAST: list[Keyring] = []


def _db_file(db: Database) -> str:
    path = db.conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:"
    return os.path.realpath(path) if path != ":memory:" else path


def use_keys(database: str, secrets_: list[str]) -> Keyring:
    """Chain entries of this database file with the first key; verify with any of them."""
    ring = Keyring.of(secrets_)
    path = os.path.realpath(database) if database != ":memory:" else database
    _KEYRINGS[path] = ring
    _LAST[:] = [ring]
    return ring


def current_keyring() -> Keyring | None:
    """The keyring configured last in this process (to verify an exported file), or None."""
    return _LAST[0] if _LAST else None


def keyring(db: Database) -> Keyring:
    """The keyring configured for this database. Raises AuditKeyError when none is."""
    ring = _KEYRINGS.get(_db_file(db)) or (_LAST[0] if _LAST else None)
    if ring is None:
        raise AuditKeyError(f"no audit key configured for {_db_file(db)}: create the app (create_app) first")
    return ring


def as_text(value: Any) -> str | None:
    """Stored form of a value: text as is, everything else as canonical JSON (None stays NULL)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, entry: Mapping[str, Any], key: bytes | None = None) -> str:
    """SHA-256 of the entry and its predecessor's hash (legacy, ``key`` None), else HMAC-SHA256 with the key over
    the same and the key id."""
    values = [prev_hash] + [entry.get(f) for f in _FIELDS]
    if key is None:
        payload = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
    payload = json.dumps(values + [entry.get("key_id")], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def changes_between(old: Mapping[str, Any] | None, new: Mapping[str, Any], fields: Iterable[str] | None = None) -> dict:
    """{field: (old, new)} for the fields whose stored text differs."""
    old = old or {}
    keys = list(fields) if fields is not None else sorted(set(old) | set(new))
    return {k: (old.get(k), new.get(k)) for k in keys if as_text(old.get(k)) != as_text(new.get(k))}


def record(
    db: Database,
    *,
    actor: str,
    action: str,
    entity: str,
    at: datetime,
    entity_id: Any = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    reason: str | None = None,
) -> int:
    """Append one entry per changed field (or one entry for an action without fields). Returns the count.

    Call it inside the same ``atomic()`` as the change it records; alone it opens its own transaction.
    """
    items = list((changes or {}).items()) or [(None, (None, None))]
    ring = keyring(db)
    key = ring.keys[ring.current_id]
    with atomic(db):
        last = db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev = last[0] if last else GENESIS
        for field, (old, new) in items:
            entry = {
                "at": iso(at), "actor": actor, "action": action, "entity": entity,
                "entity_id": None if entity_id is None else str(entity_id), "field": field,
                "old_value": as_text(old), "new_value": as_text(new), "reason": reason, "key_id": ring.current_id,
            }
            digest = entry_hash(prev, entry, key)
            db.execute(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, field, old_value, new_value, reason,"
                " key_id, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [*(entry[f] for f in _FIELDS), ring.current_id, prev, digest],
            )
            prev = digest
    return len(items)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    head: str
    broken_id: int | None = None
    problem: str | None = None
    legacy: int = 0  # entries chained with plain SHA-256 before the chain was keyed

    def describe(self) -> str:
        if self.ok:
            keyed = f" ({self.legacy} unkeyed entries from before keying)" if self.legacy else ""
            return f"audit trail intact: {self.checked} entries, head {self.head}{keyed}"
        if self.broken_id is None:
            return f"audit trail check failed: {self.problem}"
        return f"audit trail broken at entry {self.broken_id}: {self.problem}"


def parse_anchor(text: str) -> tuple[int, str]:
    """``ID:HASH`` as printed by ``anchor``. Raises ValueError."""
    ident, sep, digest = (text or "").strip().partition(":")
    if not sep or not ident.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("an anchor is ID:HASH, as `safety audit anchor` prints it (64 hex digits)")
    return int(ident), digest


def verify(db: Database, anchor: str | None = None, *, current_rows: bool = True) -> Verification:
    """Walk the chain in order; the first entry whose links, key or content do not match is named.

    A removed entry shows as a gap in the ids and a prev_hash that no longer matches; an edited one as a
    hash that no longer matches its content; a chain rebuilt without the key as hashes that do not match.
    With ``anchor`` (an earlier ``anchor(db)``), a trail that ends before the anchor's entry or holds another
    hash there fails. With ``current_rows``, each current AE and lab row is compared with its last audited
    version (domain/security/rows.py). Raises ValueError for a malformed anchor.
    """
    anchor_id, anchor_hash = parse_anchor(anchor) if anchor else (None, None)
    ring = _KEYRINGS.get(_db_file(db)) or (_LAST[0] if _LAST else None)
    prev, expected_id, checked, legacy, keyed, last_id = GENESIS, None, 0, 0, False, 0
    cur = db.execute(f"SELECT id, {', '.join(_FIELDS)}, key_id, prev_hash, hash FROM audit_log ORDER BY id")
    cols = [d[0] for d in cur.description]
    for values in cur:
        r = dict(zip(cols, values))

        def broken(problem: str) -> Verification:
            return Verification(False, checked, prev, r["id"], problem, legacy)
        if expected_id is not None and r["id"] != expected_id:
            return broken(f"entries {expected_id}..{r['id'] - 1} are missing")
        if r["prev_hash"] != prev:
            return broken("does not link to the entry before it")
        key = None
        if r["key_id"] is None:
            if keyed:
                return broken("is chained without the audit key after keyed entries (written around the service)")
            legacy += 1
        else:
            key = ring.keys.get(r["key_id"]) if ring else None
            if key is None:
                return broken(f"was chained with audit key {r['key_id']}, which this service does not hold "
                              "(SAFETY_AUDIT_KEY or instance/audit_key)")
            keyed = True
        if entry_hash(prev, r, key) != r["hash"]:
            return broken("content does not match its hash (changed)")
        if anchor_id == r["id"] and r["hash"] != anchor_hash:
            return broken(f"differs from the anchor {anchor_id}:{anchor_hash[:12]}…: the trail was rebuilt after it")
        prev, expected_id, checked, last_id = r["hash"], r["id"] + 1, checked + 1, r["id"]
    if legacy and not keyed:
        return Verification(False, checked, prev, last_id, "ends without a keyed entry: the chain was rebuilt without "
                            "the audit key (a keyed start seals the entries written before keying)", legacy)
    if anchor_id is not None:
        if anchor_id == 0 and anchor_hash != GENESIS:
            return Verification(False, checked, prev, None, "anchor 0 must carry the genesis hash", legacy)
        if anchor_id > last_id:
            return Verification(False, checked, prev, None, f"the trail ends at entry {last_id}, before the anchor's "
                                f"entry {anchor_id}: it was cut short", legacy)
    if current_rows:
        from .security.rows import first_difference  # here: that module reads AEs and labs, which import this one
        difference = first_difference(db)
        if difference:
            return Verification(False, checked, prev, None, difference, legacy)
    return Verification(True, checked, prev, legacy=legacy)


def seal_legacy(db: Database, now: datetime) -> bool:
    """At start-up: if the last entry predates keying, append a keyed entry after it. From then on every trail
    ends keyed, so one rebuilt without the key (all plain SHA-256) fails ``verify``. Returns whether it sealed."""
    with atomic(db):
        last = db.execute("SELECT id, key_id FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        if last is None or last[1] is not None:
            return False
        record(db, actor="system", action="audit_keyed", entity="audit_log", entity_id=last[0], at=now,
               reason=f"entries 1..{last[0]} were chained with SHA-256 before the chain was keyed (HMAC-SHA256)")
    return True


def anchor(db: Database) -> str:
    """The chain's head as ``ID:HASH`` ("0:" + genesis when empty): printed in exports and digests so an auditor
    can later prove the trail was neither cut short nor rebuilt after that point."""
    last = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return f"{last[0]}:{last[1]}" if last else f"0:{GENESIS}"


def history(db: Database, entity: str, entity_id: Any) -> list[dict]:
    """An entity's audit entries, oldest first."""
    return list(db.query(
        "SELECT * FROM audit_log WHERE entity = ? AND entity_id = ? ORDER BY id", [entity, str(entity_id)]))
