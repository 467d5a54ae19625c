"""Participant status with its date and reason (issue 12): withdrawn, lost to follow-up, died, completed.

The foundation's CHECK allowed active / withdrawn / completed only: the table is rebuilt (m0080.rebuild keeps its
rows, indexes, triggers and the children's links) with the five statuses, and gains ``status_on`` (the date the
participant left: nothing is due or alerted after it), ``status_reason``, who recorded it and when, and for a
death the grade-5 AE that records it (``death_ae_id``) or why there is none (``death_no_ae_reason``).
"""
from __future__ import annotations

import re

from .m0080_lab_corrections import rebuild

STATUSES = "('active', 'withdrawn', 'lost_to_follow_up', 'died', 'completed')"


def up(db):
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'participants'").fetchone()[0]
    new, n = re.subn(r"CHECK\s*\(\s*status\s+IN\s*\([^)]*\)\s*\)", f"CHECK (status IN {STATUSES})", sql, count=1)
    if n != 1:
        raise RuntimeError("migration m0081: participants.status CHECK not found")
    rebuild(db, "participants", new)
    for col in ("status_on TEXT", "status_reason TEXT", "status_recorded_at TEXT", "status_recorded_by TEXT",
                "death_ae_id INTEGER", "death_no_ae_reason TEXT"):
        db.execute(f"ALTER TABLE participants ADD COLUMN {col}")
