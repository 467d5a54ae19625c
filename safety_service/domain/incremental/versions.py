"""Data versions (counters the m0155 triggers bump in the transaction of each change) and checks' watermarks.

A watermark says what a check has already seen: the data version, the digest of the rules it evaluated with, and
the ``now`` it evaluated as of. It is written in the same transaction as the last alerts of the run that reached
it, so a run that stops half-way leaves the old watermark and the next run does the work again (alerts have
unique keys: nothing is raised twice).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from ...clock import iso
from ...db import row


@dataclass(frozen=True)
class Watermark:
    version: int
    rules_digest: str
    as_of: str  # ISO UTC, the storage form (sorts as time)


def current(db: Database, name: str) -> int:
    """The data version ``name`` (``lab_rules`` or ``figures``) as committed; 0 before the first change."""
    found = db.execute("SELECT version FROM data_versions WHERE name = ?", [name]).fetchone()
    return found[0] if found else 0


def watermark(db: Database, check: str) -> Watermark | None:
    """What ``check`` saw when it last completed, or None if it never ran (or ran before the watermarks)."""
    r = row(db, "SELECT version, rules_digest, as_of FROM check_state WHERE name = ?", (check,))
    return Watermark(r["version"], r["rules_digest"], r["as_of"]) if r else None


def save_watermark(db: Database, check: str, mark: Watermark, now: datetime) -> None:
    """Record what ``check`` has seen; call inside the transaction that raises the run's last alerts."""
    db.execute("INSERT INTO check_state (name, version, rules_digest, as_of, updated_at) VALUES (?,?,?,?,?) "
               "ON CONFLICT (name) DO UPDATE SET version = excluded.version, rules_digest = excluded.rules_digest, "
               "as_of = excluded.as_of, updated_at = excluded.updated_at",
               [check, mark.version, mark.rules_digest, mark.as_of, iso(now)])
