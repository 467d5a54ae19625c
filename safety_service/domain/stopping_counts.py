"""The stopping rule's running counts: who has a counted event, kept current by every AE save (issue 18).

``stopping.position`` replays the whole trial and stays the reference (DSMB report, scheduled check); this module
answers the question an AE save asks — is the rule above its threshold now? — from a small table of each
participant's first counted AE, updated for that participant only, in the save's own transaction. The scheduled
check rebuilds the table from scratch and reports any difference, so a write that bypassed the app cannot leave it
wrong for long.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping

from sqlite_utils import Database

from ..clock import iso, to_utc
from . import stats
from .stopping import StoppingRule, counts

_AE_FIELDS = ("id", "subject_id", "onset", "status", "treatment_emergent", "serious", "grade",
              "relatedness_product", "relatedness_procedure", "phase")


@dataclass(frozen=True)
class Now:
    """The rule's standing now: n injected, x of them with a counted event by today, and the posterior."""

    n: int
    x: int
    posterior: float
    above: bool


def _first_counted(rule: StoppingRule, aes: Iterable[Mapping]) -> Mapping | None:
    """The participant's first counted AE by onset, then id (as ``stopping.position`` picks it)."""
    best = None
    for ae in aes:
        if counts(rule, ae) and (best is None or (str(ae["onset"])[:10], ae["id"]) < (str(best["onset"])[:10], best["id"])):
            best = ae
    return best


def _subject_aes(db: Database, subject_id: str) -> list[dict]:
    return list(db.query(f"SELECT {', '.join(_AE_FIELDS)} FROM adverse_events WHERE subject_id = ?", [subject_id]))


def update_subject(db: Database, rules: Iterable[StoppingRule], subject_id: str) -> None:
    """Refresh one participant's first counted AE for each rule; call it inside the AE change's transaction."""
    aes = _subject_aes(db, subject_id)
    for rule in rules:
        first = _first_counted(rule, aes)
        if first is None:
            db.execute("DELETE FROM stopping_firsts WHERE rule_id = ? AND subject_id = ?", [rule.id, subject_id])
        else:
            db.execute("INSERT INTO stopping_firsts (rule_id, subject_id, ae_id, onset) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (rule_id, subject_id) DO UPDATE SET ae_id = excluded.ae_id, onset = excluded.onset",
                       [rule.id, subject_id, first["id"], str(first["onset"])[:10]])


def standing(db: Database, rule: StoppingRule, now: datetime, today: str) -> Now:
    """n = participants injected by ``now``; x = those with a first counted AE on or before ``today`` (local)."""
    at = iso(to_utc(now))
    n = db.execute("SELECT COUNT(*) FROM participants WHERE injection_at IS NOT NULL AND injection_at <= ?",
                   [at]).fetchone()[0]
    x = db.execute("SELECT COUNT(*) FROM stopping_firsts f JOIN participants p ON p.subject_id = f.subject_id "
                   "WHERE f.rule_id = ? AND f.onset <= ? AND p.injection_at IS NOT NULL AND p.injection_at <= ?",
                   [rule.id, today, at]).fetchone()[0]
    post = stats.posterior_prob_above(x, n, rule.unacceptable_rate, rule.prior_a, rule.prior_b)
    return Now(n, x, post, post > rule.threshold)  # strictly above: equal does not cross (rules/stopping.toml)


def rebuild(db: Database, rules: Iterable[StoppingRule], aes: Iterable[Mapping]) -> int:
    """Recompute the table from every AE and make it so; returns how many rows were wrong (0 when it was right)."""
    by_subject: dict[str, list[Mapping]] = {}
    for ae in aes:
        by_subject.setdefault(ae["subject_id"], []).append(ae)
    fresh = {}
    for rule in rules:
        for sid, subject_aes in by_subject.items():
            first = _first_counted(rule, subject_aes)
            if first is not None:
                fresh[(rule.id, sid)] = (int(first["id"]), str(first["onset"])[:10])
    stored = {(r[0], r[1]): (r[2], r[3]) for r in db.execute("SELECT rule_id, subject_id, ae_id, onset FROM stopping_firsts")}
    wrong = {k for k in fresh.keys() | stored.keys() if fresh.get(k) != stored.get(k)}
    for rule_id, sid in wrong:
        if (rule_id, sid) in fresh:
            ae_id, onset = fresh[(rule_id, sid)]
            db.execute("INSERT INTO stopping_firsts (rule_id, subject_id, ae_id, onset) VALUES (?, ?, ?, ?) ON CONFLICT "
                       "(rule_id, subject_id) DO UPDATE SET ae_id = excluded.ae_id, onset = excluded.onset",
                       [rule_id, sid, ae_id, onset])
        else:
            db.execute("DELETE FROM stopping_firsts WHERE rule_id = ? AND subject_id = ?", [rule_id, sid])
    return len(wrong)
