"""``Idempotency-Key``: a client's retry of a create returns the first result and stores nothing new.

The key is stored per user with a UNIQUE (user_id, key) constraint in the SAME transaction as the record it made
(an IMMEDIATE transaction, db.atomic), so two concurrent identical requests serialise: the second finds the key
and replays the first answer, and if anything slipped past the lookup the constraint refuses the second row and
its record rolls back with it. A key reused for a different request is a conflict, never a silent replay.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlite_utils import Database

from ...clock import iso
from ...db import atomic, row
from ..errors import Conflict, InvalidInput

KEY_MAX = 200


@dataclass(frozen=True)
class Outcome:
    """What to answer: the body, its HTTP status, and whether it is a replay of an earlier request."""

    body: dict
    status: int
    replayed: bool


def fingerprint(scope: str, payload) -> str:
    """The request's identity: its scope (method and path) and its JSON body in canonical form."""
    text = json.dumps([scope, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_key(key: str) -> str:
    """A usable key: 1..200 visible ASCII characters. Raises InvalidInput naming the header."""
    text = (key or "").strip()
    if not text or len(text) > KEY_MAX or not all(33 <= ord(c) < 127 for c in text):
        raise InvalidInput({"Idempotency-Key": f"must be 1 to {KEY_MAX} visible ASCII characters (e.g. a UUID)"})
    return text


def run_once(db: Database, *, user: dict, key: str, scope: str, payload, entity: str, now: datetime,
             make: Callable[[], tuple[dict, int]]) -> Outcome:
    """Run ``make`` (which returns (body, status) and writes through the domain) once per (user, key).

    A repeat with the same key and the same request returns the first body and status with ``replayed`` True.
    Raises Conflict when the key was used for another request, and whatever ``make`` raises (then nothing is
    stored, the key included, so a corrected retry may use it).
    """
    key = check_key(key)
    print_ = fingerprint(scope, payload)
    with atomic(db):
        seen = row(db, "SELECT * FROM idempotency_keys WHERE user_id = ? AND key = ?", (user["id"], key))
        if seen is not None:
            if seen["fingerprint"] != print_:
                raise Conflict(f"Idempotency-Key {key!r} was used for a different request: use a new key")
            return Outcome(json.loads(seen["response"]), seen["status"], True)
        body, status = make()
        db.execute("INSERT INTO idempotency_keys (user_id, key, scope, fingerprint, status, entity, entity_id,"
                   " response, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                   [user["id"], key, scope, print_, status, entity, str(body.get("id")),
                    json.dumps(body, sort_keys=True, default=str), iso(now)])
    return Outcome(body, status, False)
