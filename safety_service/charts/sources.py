"""Where the charts' records come from: the labs, AE and alerts domains' own functions, site-scoped by the user.

The labs and AE modules are imported when called, so the dashboard and the participant page still render (with
empty lab and AE charts) on a tree where those areas have not landed.
"""
from __future__ import annotations

from sqlite_utils import Database

from ..domain import alerts, checks
from ..domain.permissions import may_see_site


def _labs():
    try:
        from ..domain import labs
    except ImportError:
        return None
    return labs


def _ae_module():
    try:
        from ..domain import adverse_events
    except ImportError:
        return None
    return adverse_events


def as_egfr(rows: list[dict]) -> list[dict]:
    """The eGFR series of lab rows: eGFR results as entered, and the eGFR the labs domain derived from each
    creatinine at entry (CKD-EPI 2021, Inker NEJM 2021), as rows with analyte "egfr" and value_si the eGFR."""
    entered = {(r.get("subject_id"), r["collected_at"]) for r in rows if r["analyte"] == "egfr"}
    out = []
    for r in rows:
        if r["analyte"] == "egfr":
            out.append(r)
        elif (r["analyte"] == "creatinine" and r.get("egfr") is not None
              and (r.get("subject_id"), r["collected_at"]) not in entered):  # one eGFR per sample
            out.append({**r, "analyte": "egfr", "value_si": r["egfr"], "unit_si": "mL/min/1.73m2"})
    return sorted(out, key=lambda r: (r["collected_at"], r.get("id") or 0))


def lab_series(db: Database, subject_id: str, user: dict | None, analyte: str) -> list[dict]:
    """One participant's results of one analyte, oldest first, with subject_id; [] before the labs module lands.
    For "egfr": entered and creatinine-derived values together (``as_egfr``)."""
    labs = _labs()
    if labs is None:
        return []
    wanted = ("egfr", "creatinine") if analyte == "egfr" else (analyte,)
    found = [dict(r, subject_id=subject_id) for a in wanted for r in labs.series(db, subject_id, user=user, analyte=a)]
    return as_egfr(found) if analyte == "egfr" else found


def cohort_egfr(db: Database, participants: list[dict], user: dict | None) -> list[dict]:
    """The eGFR rows of every injected participant given (already scoped to the user).

    One query through the labs domain's ``all_for_analysis`` where it exists (the signal pages' source), kept to
    the participants given; otherwise one ``series`` call per participant.
    """
    labs = _labs()
    injected = {p["subject_id"] for p in participants if p.get("injection_at")}
    if labs is not None and hasattr(labs, "all_for_analysis"):
        return as_egfr([r for r in labs.all_for_analysis(db) if r["subject_id"] in injected])
    if labs is None:
        return []
    # One query for the cohort (issue 18: no query per participant), the rows ``lab_series`` gives, in its order
    # (participant by participant, oldest first); valid results only (entered in error leaves every chart).
    found = [labs.public(r) for r in db.query(f"{labs.CURRENT} WHERE l.analyte IN ('egfr', 'creatinine') "
                                              "AND l.status = 'valid' ORDER BY l.subject_id, l.collected_at, l.id")
             if r["subject_id"] in injected]
    return sorted(as_egfr(found), key=lambda r: r["subject_id"])


def cohort_schedules(db: Database, participants: list[dict], study, tz: str, now) -> dict[str, list]:
    """subject_id -> visit schedule of each participant given (one query for the cohort's visits)."""
    from ..domain.participants import schedules_for

    return schedules_for(db, participants, study, tz, now)


def adverse_events(db: Database, user: dict | None, subject_id: str | None = None) -> list[dict]:
    """Active AEs the user may see (entered-in-error ones are not drawn); [] before the AE module lands."""
    module = _ae_module()
    if module is None:
        return []
    return module.list_aes(db, user, {"subject_id": subject_id} if subject_id else None)


def ae_marks(db: Database, user: dict | None) -> list[dict]:
    """The active AEs the user may see, as the fields the swimmer plot draws; [] before the AE module lands."""
    module = _ae_module()
    return [] if module is None else module.chart_marks(db, user)


def sae_clocks(db: Database, user: dict | None) -> list[dict]:
    """The open SAE report clocks (the alerts area's own query) of the sites the user may see."""
    return [c for c in checks.open_sae_clocks(db) if user is None or may_see_site(user, c["site"])]


def lab_breaches(db: Database, subject_id: str, user: dict | None) -> dict[int, list[str]]:
    """lab id -> rule ids it breached, from the alerts the labs domain raised for the participant (kind lab_rule,
    ref_entity "lab"): the rule evaluation stays in domain/lab_rules, the chart only marks its outcome."""
    labs = _labs()
    if labs is None:
        return {}
    out: dict[int, list[str]] = {}
    for a in alerts.list_alerts(db, user, kind=labs.ALERT_KIND, subject_id=subject_id, limit=10_000):
        if a["ref_entity"] == "lab" and a["ref_id"] is not None:
            out.setdefault(int(a["ref_id"]), []).append(a["rule"] or a["key"])
    return out
