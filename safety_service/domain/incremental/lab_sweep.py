"""The lab rules' scheduled sweep, incremental: evaluate again only what can breach anew since the last run.

A participant's breaches are a function of the rules, its row (injection, status), its valid results collected up
to ``now`` (domain/lab_rules.evaluate) and the alerts already raised. So a run after a completed one need only
evaluate participants whose results or row changed since (``lab_rule_dirty``, kept by SQLite triggers) and those
with a result collected between the last run's ``now`` and this one's; every participant when the rules changed
(their digest), on the first run, or when ``now`` goes back before the last run's. The participants it does
evaluate go through ``labs.raise_breaches``, the function the full sweep (``labs.check_all``) and the lab entry
path use: the same breaches, the same keys, raised once.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlite_utils import Database

from ...clock import iso
from ...db import atomic, rows
from .. import lab_rules, labs
from . import versions

CHECK = "lab_rules"
# Bumped when the evaluation code changes what it finds, so the first run after an upgrade evaluates everyone.
EVALUATOR = "lab_rules.evaluate/1"
CHUNK = 250  # participants per transaction: a long first run never holds the write lock for long


def rules_digest(rules: lab_rules.RuleSet) -> str:
    """The digest of the rules as loaded (not the file's bytes: a comment edited changes nothing evaluated)."""
    return hashlib.sha256(f"{EVALUATOR}\n{rules.model_dump_json()}".encode()).hexdigest()


def _to_evaluate(db: Database, mark: versions.Watermark | None, digest: str, as_of: str) -> tuple[list[dict], bool]:
    """(the injected participants to evaluate, by subject id; whether that is everyone)."""
    everyone = mark is None or mark.rules_digest != digest or as_of < mark.as_of
    if everyone:
        return rows(db, "SELECT * FROM participants WHERE injection_at IS NOT NULL ORDER BY subject_id"), True
    return rows(db, "SELECT * FROM participants WHERE injection_at IS NOT NULL AND id IN ("
                    " SELECT participant_id FROM lab_rule_dirty WHERE version > ?"
                    " UNION SELECT participant_id FROM labs WHERE collected_at > ? AND collected_at <= ?"
                    "  AND status = 'valid') ORDER BY subject_id", [mark.version, mark.as_of, as_of]), False


def sweep(db: Database, rules: lab_rules.RuleSet, now: datetime, *, full: bool = False) -> int:
    """Raise every lab-rule breach not yet alerted, as of ``now``; returns the number of alerts raised now.

    ``full``: evaluate every injected participant whatever the watermark says (the reference the tests compare
    with). The data version is read before the participants to evaluate: a change committed after it is seen by
    the next run, never lost.
    """
    before = db.execute("SELECT count(*) FROM alerts WHERE kind = ?", [labs.ALERT_KIND]).fetchone()[0]
    digest, as_of = rules_digest(rules), iso(now)
    version = versions.current(db, CHECK)
    mark = None if full else versions.watermark(db, CHECK)
    people, _everyone = _to_evaluate(db, mark, digest, as_of)
    reached = versions.Watermark(version, digest, as_of)
    chunks = [people[i:i + CHUNK] for i in range(0, len(people), CHUNK)] or [[]]
    for n, chunk in enumerate(chunks, 1):
        with atomic(db):
            for p in chunk:
                labs.raise_breaches(db, p, rules, now)
            if n == len(chunks):  # the watermark moves with the run's last alerts
                versions.save_watermark(db, CHECK, reached, now)
    return db.execute("SELECT count(*) FROM alerts WHERE kind = ?", [labs.ALERT_KIND]).fetchone()[0] - before
