"""Re-grading after a baseline is entered or corrected later, and alerts that follow the re-evaluation.

CTCAE v5.0 grades some labs against baseline ("Creatinine increased: >1.5-3.0 x baseline"; ALT/AST "if baseline
was abnormal") and the eGFR decline rules (Levey et al., AJKD 2014) compare with it. Result rows never change, so
a changed grade is an append-only ``lab_regrades`` record (the latest is the current grade, shown by the API and
the exports), audited with the reason; the AE offer follows (new, updated or withdrawn); the rules are evaluated
again: what now breaches is raised, and an open alert that no longer breaches is resolved with the reason.
"""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ...clock import iso, local_date, parse_datetime
from ...db import atomic, row
from .. import alerts, audit, lab_rules, labs
from . import resolution


def _baselines(db: Database, p: dict, rules, injection: datetime) -> dict[str, float]:
    """Every analyte's baseline (rules file policy) from the valid results on or before the injection."""
    pre = [labs._as_result(r) for r in labs.stored_series(db, p["id"])]
    return lab_rules.baseline_values(rules.baseline, lab_rules.series_by_analyte(pre, injection), injection)


def regrade(db: Database, p: dict, *, rules, study, tz: str, now: datetime, actor: str, why: str) -> list[dict]:
    """Grade every valid post-injection result against the current baselines; record each grade that changed.

    Returns [{"lab_id", "old", "new"}] for the results re-graded now.
    """
    if not p["injection_at"]:
        return []
    injection = parse_datetime(p["injection_at"])
    baselines = _baselines(db, p, rules, injection)
    egfr_range = study.reference_range("egfr", p["sex"])
    changed = []
    with atomic(db):
        for r in labs.stored_series(db, p["id"]):
            collected = parse_datetime(r["collected_at"])
            if collected <= injection:
                continue
            grade, base_grade = labs._worst(labs._grades(r, baselines, egfr_range.lln if egfr_range else None, True))
            new = (grade.term, grade.grade) if grade else (None, None)
            old = (r["ctcae_term"], r["ctcae_grade"])
            if new != old:
                basis = grade.basis if grade else "no grade"
                db.execute("INSERT INTO lab_regrades (lab_id, ctcae_term, ctcae_grade, basis, baseline, reason, at, by)"
                           " VALUES (?,?,?,?,?,?,?,?)", [r["id"], new[0], new[1], basis,
                                                         baselines.get(r["analyte"]), why, iso(now), actor])
                audit.record(db, actor=actor, action="regraded", entity="lab", entity_id=r["id"], at=now,
                             changes={"ctcae": (_shown(old), f"{_shown(new)} ({basis})")}, reason=why)
                changed.append({"lab_id": r["id"], "old": old, "new": new})
            _follow_offer(db, p, r, grade, base_grade, collected, tz=tz, now=now, actor=actor, why=why)
    return changed


def _shown(grade: tuple) -> str:
    return f"{grade[0]} grade {grade[1]}" if grade[0] else "no CTCAE grade"


def _follow_offer(db, p, r, grade, base_grade, collected, *, tz, now, actor, why) -> None:
    """The AE offer of a result follows its current grade (labs.store's rule: a grade new since baseline)."""
    wanted = grade is not None and (base_grade is None or grade.grade > base_grade.grade)
    offer = row(db, "SELECT * FROM lab_ae_offers WHERE lab_id = ?", (r["id"],))
    if offer is None and wanted:
        db["lab_ae_offers"].insert({
            "lab_id": r["id"], "subject_id": p["subject_id"], "site": p["site"], "term": grade.term,
            "grade": grade.grade, "onset": local_date(collected, tz).isoformat(), "created_at": iso(now)})
        audit.record(db, actor=actor, action="ae_offered", entity="lab", entity_id=r["id"], at=now,
                     changes={"ae_offer": (None, f"{grade.term} grade {grade.grade} ({grade.basis})")}, reason=why)
    elif offer is not None and offer["status"] == "open" and not wanted:
        db.execute("UPDATE lab_ae_offers SET status = 'withdrawn', withdrawn_at = ?, withdrawn_by = ?, "
                   "withdraw_reason = ? WHERE lab_id = ?", [iso(now), actor, why, r["id"]])
        audit.record(db, actor=actor, action="ae_offer_withdrawn", entity="lab", entity_id=r["id"], at=now,
                     changes={"ae_offer": ("open", "withdrawn")}, reason=why)
    elif offer is not None and offer["status"] == "open" and \
            (offer["term"], offer["grade"]) != (grade.term, grade.grade):
        db.execute("UPDATE lab_ae_offers SET term = ?, grade = ? WHERE lab_id = ?", [grade.term, grade.grade, r["id"]])
        audit.record(db, actor=actor, action="ae_offer_regraded", entity="lab", entity_id=r["id"], at=now,
                     changes={"ae_offer": (f"{offer['term']} grade {offer['grade']}",
                                           f"{grade.term} grade {grade.grade}")}, reason=why)


def reconcile(db: Database, p: dict, *, rules, study, tz: str, now: datetime, actor: str, why: str,
              regrade_results: bool = True, raise_alerts: bool = True) -> dict:
    """Re-grade (if asked), raise what now breaches, resolve the participant's open lab alerts that no longer do.

    Returns {"regraded": [...], "resolved": [alerts resolved now]}.
    """
    with atomic(db):
        changed = regrade(db, p, rules=rules, study=study, tz=tz, now=now, actor=actor, why=why) \
            if regrade_results else []
        if not raise_alerts:
            return {"regraded": changed, "resolved": []}
        found = labs.raise_breaches(db, p, rules, now)
        keys = {f"lab:{b.subject_id}:{b.rule_id}:{b.result_id}": b for b in found}
        _raise_again(db, p, keys, now=now, actor=actor, why=why)
        mine = resolution.open_alerts(db, "kind = ? AND subject_id = ?", [labs.ALERT_KIND, p["subject_id"]])
        stale = [a for a in mine if _base_key(a["key"]) not in keys]
        resolved = resolution.resolve(db, stale, why=f"{why}{NO_LONGER}", actor=actor, now=now)
    return {"regraded": changed, "resolved": resolved}


NO_LONGER = "; the rule no longer breaches on this result"


def _base_key(key: str) -> str:
    """An alert key without the suffix of a breach raised again (lab:<subject>:<rule>:<result>[:<earlier alert>])."""
    return ":".join(key.split(":")[:4])


def _raise_again(db: Database, p: dict, breaches: dict, *, now: datetime, actor: str, why: str) -> None:
    """A breach whose alert a correction resolved ("no longer breaches") and that a later correction brings back is
    raised again, under its key plus the resolved alert's id: the UNIQUE key would otherwise keep it silent."""
    for key, b in breaches.items():
        latest = row(db, "SELECT id, status, resolve_comment FROM alerts WHERE key = ? OR key LIKE ? "
                         "ORDER BY id DESC LIMIT 1", (key, key + ":%"))
        if latest and latest["status"] == "resolved" and (latest["resolve_comment"] or "").endswith(NO_LONGER):
            alerts.raise_alert(db, key=f"{key}:{latest['id']}", kind=labs.ALERT_KIND, severity=b.severity,
                               message=f"{b.message} (breaches again: {why})", now=now, subject_id=b.subject_id,
                               site=p["site"], rule=b.rule_id, ref_entity="lab", ref_id=b.result_id, actor=actor)


def after_baseline_change(db: Database, p: dict, *, rules, study, tz: str, now: datetime, actor: str, why: str,
                          raise_alerts: bool = True) -> dict:
    """Called by labs.store for a pre-injection result of an injected participant: a baseline entered late, if
    results after the injection exist (otherwise there is nothing graded against it yet)."""
    if row(db, "SELECT 1 AS x FROM labs WHERE participant_id = ? AND status = 'valid' AND collected_at > ? LIMIT 1",
           (p["id"], iso(parse_datetime(p["injection_at"])))) is None:
        return {"regraded": [], "resolved": []}
    result = reconcile(db, p, rules=rules, study=study, tz=tz, now=now, actor=actor, why=why,
                       raise_alerts=raise_alerts)
    resolution.notify(db, key="resolved:" + ",".join(str(a["id"]) for a in result["resolved"]),
                      subject_id=p["subject_id"], site=p["site"], summary=why, reason=why,
                      resolved=result["resolved"], now=now)
    return result
