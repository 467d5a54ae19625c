"""Automatic queries: data checks that ask the site instead of raising an alert, once per record, and close the
query themselves when the data are put right.

Which checks run, and the question each asks, is rules/queries.toml; the checks are here, each a function of the
database returning the records that fail it. Each query has the natural key ``auto:<rule id>:<entity>:<id>``
(UNIQUE), so a check that runs twice, or in two processes, asks once. A query a person closed stays closed even if
the data still fail (the safety officer accepted the record as it is); an open or answered one whose record now
passes is closed by the system with the reason.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Callable, Iterator

from sqlite_utils import Database

from ...db import rows
from ..adverse_events import display_id
from .targets import Target
from .workflow import SYSTEM, _close, _insert

Found = list[tuple[Target, str | None]]  # (the failing record, the field the query names)


def _aes(db: Database, where: str, field: str) -> Found:
    return [(Target("ae", str(r["id"]), r["subject_id"], r["site"], display_id(r)), field)
            for r in rows(db, "SELECT id, subject_id, site, seq FROM adverse_events WHERE status = 'active' AND "
                              + where + " ORDER BY id")]


def sae_without_seriousness(db: Database) -> Found:
    """ICH E2A II.B: a serious AE meets at least one seriousness criterion; none is recorded."""
    return _aes(db, "serious = 1 AND coalesce(seriousness, '[]') IN ('[]', '')", "seriousness")


def recovered_without_end_date(db: Database) -> Found:
    """CDISC SDTMIG AE: AEOUT 'RECOVERED/RESOLVED' (with or without sequelae) implies an end date (AEENDTC)."""
    return _aes(db, "outcome IN ('recovered', 'recovered_with_sequelae') AND end_date IS NULL", "end_date")


def end_before_onset(db: Database) -> Found:
    """CDISC SDTMIG AE: AEENDTC is not before AESTDTC (ISO dates compare as text)."""
    return _aes(db, "end_date IS NOT NULL AND end_date < onset", "end_date")


def grade5_not_died(db: Database) -> Found:
    """CTCAE v5.0: grade 5 is death related to the AE, so the participant's status should be 'died'."""
    return [(Target("participant", r["subject_id"], r["subject_id"], r["site"], r["subject_id"]), "status")
            for r in rows(db, "SELECT DISTINCT p.subject_id, p.site FROM adverse_events ae JOIN participants p"
                              " ON p.subject_id = ae.subject_id WHERE ae.status = 'active' AND ae.grade = 5"
                              " AND p.status != 'died' ORDER BY p.subject_id")]


CHECKS: dict[str, Callable[[Database], Found]] = {
    "sae_without_seriousness": sae_without_seriousness,
    "recovered_without_end_date": recovered_without_end_date,
    "end_before_onset": end_before_onset,
    "grade5_not_died": grade5_not_died,
}


# Called with (step, query) for each automatic query opened ("opened") or closed ("closed"), e.g. so that
# `safety check` can print them (``collect``).
ON_CHANGE: list[Callable[[str, dict], None]] = []


@contextmanager
def collect() -> Iterator[list[tuple[str, dict]]]:
    """Every automatic query opened or closed in this process while the block runs."""
    seen: list[tuple[str, dict]] = []

    def hook(step: str, q: dict) -> None:
        seen.append((step, q))

    ON_CHANGE.append(hook)
    try:
        yield seen
    finally:
        ON_CHANGE.remove(hook)


def auto_key(rule_id: str, target: Target) -> str:
    return f"auto:{rule_id}:{target.entity}:{target.entity_id}"


def run(db: Database, rules, now: datetime) -> dict[str, int]:
    """Run every enabled rule as of ``now``: open the queries for records failing it (once), close those whose
    record passes now. Returns {"opened": n, "closed": n}."""
    opened = closed = 0
    for rule in rules.auto:
        if not rule.enabled:
            continue
        failing = {auto_key(rule.id, t): (t, field) for t, field in CHECKS[rule.check](db)}
        known = {q["key"] for q in rows(db, "SELECT key FROM queries WHERE rule = ? AND origin = 'auto'", [rule.id])}
        for key, (target, field) in failing.items():
            q = None if key in known else _insert(db, target, field=field, text=rule.text, actor=SYSTEM, now=now,
                                                  rule=rule.id, key=key)
            if q:
                opened += 1
                for hook in ON_CHANGE:
                    hook("opened", q)
        for q in rows(db, "SELECT * FROM queries WHERE rule = ? AND origin = 'auto' AND status != 'closed'",
                      [rule.id]):
            if q["key"] not in failing:
                _auto_close(db, q, now)
                closed += 1
                for hook in ON_CHANGE:
                    hook("closed", q)
    return {"opened": opened, "closed": closed}


def recheck(db: Database, rules, *, entity: str, entity_id, subject_id: str, now: datetime,
            skip: int | None = None) -> int:
    """Close at once the automatic queries on a record (and on its participant) that the record no longer fails,
    so a query closes in the transaction that puts the data right, not only at the next scheduled check.
    ``skip``: a query being answered in this transaction (``workflow.answer`` rechecks it after the answer).
    Returns how many closed."""
    found = rows(db, "SELECT * FROM queries WHERE origin = 'auto' AND status != 'closed' AND ((entity = ? AND"
                     " entity_id = ?) OR (entity = 'participant' AND entity_id = ?))",
                 [entity, str(entity_id), subject_id])
    by_id = {r.id: r for r in rules.auto}
    closed = 0
    for q in found:
        rule = by_id.get(q["rule"])
        if q["id"] == skip or rule is None or not rule.enabled:
            continue
        if q["key"] not in {auto_key(rule.id, t) for t, _ in CHECKS[rule.check](db)}:
            _auto_close(db, q, now)
            closed += 1
            for hook in ON_CHANGE:
                hook("closed", q)
    return closed


def install(rules) -> None:
    """Recheck an AE's automatic queries inside every AE create, amendment and entered-in-error (an
    adverse_events.ON_CHANGED hook bound to these rules; one installed by an earlier app is replaced)."""
    from .. import adverse_events
    from .workflow import answering

    def hook(db: Database, ae: dict, now: datetime) -> None:
        recheck(db, rules, entity="ae", entity_id=ae["id"], subject_id=ae["subject_id"], now=now, skip=answering())

    hook.safety_auto_queries = True
    adverse_events.ON_CHANGED[:] = [h for h in adverse_events.ON_CHANGED
                                    if not getattr(h, "safety_auto_queries", False)]
    adverse_events.ON_CHANGED.append(hook)


def _auto_close(db: Database, q: dict, now: datetime) -> None:
    from ...db import atomic
    from .workflow import _resolve_overdue_alerts

    with atomic(db):
        _close(db, q, text="closed automatically: the record now passes the check", actor=SYSTEM, now=now)
        _resolve_overdue_alerts(db, q, actor={"email": SYSTEM, "role": "safety_officer", "site": None},
                                why=f"query Q{q['id']} closed: the record was put right", now=now)
