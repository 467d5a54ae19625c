"""The append-only audit trail (21 CFR 11.10(e)): who, when (UTC), what entity and field, old and new value, why.

Each entry carries the SHA-256 of the previous entry's hash and its own content, so an entry changed or
removed afterwards breaks the chain and `verify` names the first broken entry. Nothing here updates or
deletes a row, and database triggers refuse it for everyone else.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlite_utils import Database

from ..clock import iso
from ..db import atomic

GENESIS = "0" * 64
_FIELDS = ("at", "actor", "action", "entity", "entity_id", "field", "old_value", "new_value", "reason")


def as_text(value: Any) -> str | None:
    """Stored form of a value: text as is, everything else as canonical JSON (None stays NULL)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    payload = json.dumps([prev_hash] + [entry.get(f) for f in _FIELDS], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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
    with atomic(db):
        last = db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev = last[0] if last else GENESIS
        for field, (old, new) in items:
            entry = {
                "at": iso(at), "actor": actor, "action": action, "entity": entity,
                "entity_id": None if entity_id is None else str(entity_id), "field": field,
                "old_value": as_text(old), "new_value": as_text(new), "reason": reason,
            }
            digest = entry_hash(prev, entry)
            db.execute(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, field, old_value, new_value, reason,"
                " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [*(entry[f] for f in _FIELDS), prev, digest],
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

    def describe(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.checked} entries, head {self.head}"
        return f"audit trail broken at entry {self.broken_id}: {self.problem}"


def verify(db: Database) -> Verification:
    """Walk the chain in order; the first entry whose links or content do not match is named.

    A removed entry shows as a gap in the ids and a prev_hash that no longer matches; an edited one as a
    hash that no longer matches its content.
    """
    prev, expected_id, checked = GENESIS, None, 0
    cur = db.execute(f"SELECT id, {', '.join(_FIELDS)}, prev_hash, hash FROM audit_log ORDER BY id")
    cols = [d[0] for d in cur.description]
    for values in cur:
        r = dict(zip(cols, values))
        if expected_id is not None and r["id"] != expected_id:
            return Verification(False, checked, prev, r["id"], f"entries {expected_id}..{r['id'] - 1} are missing")
        if r["prev_hash"] != prev:
            return Verification(False, checked, prev, r["id"], "does not link to the entry before it")
        if entry_hash(prev, r) != r["hash"]:
            return Verification(False, checked, prev, r["id"], "content does not match its hash (changed)")
        prev, expected_id, checked = r["hash"], r["id"] + 1, checked + 1
    return Verification(True, checked, prev)


def anchor(db: Database) -> str:
    """The chain's head as ``ID:HASH`` ("0:" + genesis when empty): printed in exports and digests so an auditor
    can later prove the trail was neither cut short nor rebuilt after that point."""
    last = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return f"{last[0]}:{last[1]}" if last else f"0:{GENESIS}"


def history(db: Database, entity: str, entity_id: Any) -> list[dict]:
    """An entity's audit entries, oldest first."""
    return list(db.query(
        "SELECT * FROM audit_log WHERE entity = ? AND entity_id = ? ORDER BY id", [entity, str(entity_id)]))
