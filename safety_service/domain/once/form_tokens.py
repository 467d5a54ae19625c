"""One-time form tokens: a double click or a re-submitted page form never makes a second record.

The page puts a fresh random token in the form. Submitting claims it (INSERT into ``form_tokens``, PRIMARY KEY)
in the same transaction as the record it makes; a second submit finds it claimed and lands on the first record.
A submit refused for bad input rolls back with its record, so the corrected form may be sent with the same token.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Callable

from sqlite_utils import Database

from ...clock import iso
from ...db import atomic, row
from ..errors import InvalidInput

FIELD = "form_token"
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def new() -> str:
    """A fresh token for a form being shown (nothing is stored until the form is submitted)."""
    return secrets.token_urlsafe(24)


def submit_once(db: Database, token, *, user: dict, purpose: str, now: datetime,
                make: Callable[[], dict], entity: str) -> tuple[dict | None, str | None]:
    """Run ``make`` (which returns the record made) unless this token was submitted before.

    Returns (record, None) the first time, (None, entity_id of the first record) on a repeat by the same user.
    Raises InvalidInput ({"form_token"}) for a missing or malformed token, or one another user or form claimed;
    and whatever ``make`` raises (then the token stays unclaimed).
    """
    text = str(token or "")
    if not _SHAPE.match(text):
        raise InvalidInput({FIELD: "missing or malformed: reload the form and submit it again"})
    with atomic(db):
        seen = row(db, "SELECT * FROM form_tokens WHERE token = ?", (text,))
        if seen is not None:
            if seen["user_id"] != user["id"] or seen["purpose"] != purpose:
                raise InvalidInput({FIELD: "belongs to another form: reload the form and submit it again"})
            return None, seen["entity_id"]
        record = make()
        db.execute("INSERT INTO form_tokens (token, user_id, purpose, entity, entity_id, used_at) VALUES (?,?,?,?,?,?)",
                   [text, user["id"], purpose, entity, str(record["id"]), iso(now)])
    return record, None
