"""Lab results: validated, stored with their canonical value, eGFR and CTCAE grade, checked against the rules.

One path for the form, the API and the CSV import: ``validate`` names every bad field, ``store`` writes the
result, its audit entries, its AE offer and the alerts of any rule breach in one transaction. A result is
never changed or deleted; a second result for the same participant, analyte and instant is either the same
value (skipped, reported) or refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from ..clock import iso, local_date, parse_datetime
from ..db import atomic, row, rows
from . import alerts, audit, lab_rules, participants
from .egfr import a_stage, age_on, ckd_epi_2021, g_stage
from .errors import Conflict, InvalidInput, NotFound, require
from .lab_grading import LabGrade, grade_lab
from .study import Study
from .units import ANALYTES, LabValueError, analyte as find_analyte, find_unit, to_canonical

# Visit codes besides the study's follow-up visits: screening, day 0 before the injection, unscheduled.
EXTRA_VISITS = ("SCR", "D0", "UNS")
ALERT_KIND = "lab_rule"
AUDITED = ("subject_id", "analyte", "value", "unit", "value_si", "unit_si", "egfr", "ctcae_term", "ctcae_grade",
           "uln", "lln", "range_source", "visit", "collected_at", "source")
PUBLIC_FIELDS = ("id", "subject_id", "analyte", "value", "unit", "value_si", "unit_si", "egfr", "ctcae_term",
                 "ctcae_grade", "uln", "lln", "range_source", "visit", "collected_at", "source", "entered_at",
                 "entered_by")
# Issue 12: a result entered in error keeps its row (and its page line) but leaves every analysis; its CTCAE grade
# is the latest re-grade record's when a baseline entered or corrected later changed it (lab_regrades).
ERROR_FIELDS = ("status", "error_reason", "error_at", "error_by", "confirmed_checks")
CURRENT = ("SELECT l.*, g.id AS regrade_id, g.ctcae_term AS regrade_term, g.ctcae_grade AS regrade_grade, "
           "g.reason AS regrade_reason, g.at AS regraded_at FROM labs l LEFT JOIN lab_regrades g "
           "ON g.id = (SELECT max(r.id) FROM lab_regrades r WHERE r.lab_id = l.id)")


def current(r: dict) -> dict:
    """A row of ``CURRENT`` with its current CTCAE term and grade (the latest re-grade's, if any)."""
    if r.get("regrade_id"):
        r = {**r, "ctcae_term": r["regrade_term"], "ctcae_grade": r["regrade_grade"]}
    return r


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording one result: the stored row, whether it was already there, the rules it breached."""

    lab: dict
    duplicate: bool
    breaches: tuple[str, ...] = ()


def _number(value, field: str, errors: dict) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        errors[field] = "must be a number"
        return None
    if number != number or number in (float("inf"), float("-inf")):
        errors[field] = "must be a finite number"
        return None
    return number


def validate(data: dict, participant: dict, study: Study, tz: str, now: datetime) -> dict:
    """The result as it will be stored (before grading), or InvalidInput naming every bad field.

    ``collected_at`` without an offset is read in the study's time zone; ``uln``/``lln`` are in the unit
    entered, and the study's reference range fills a limit not given.
    """
    errors: dict[str, str] = {}
    name = str(data.get("analyte") or "").strip().lower()
    unit = str(data.get("unit") or "").strip()
    value_si = unit_si = None
    try:
        find_analyte(name)
        if data.get("value") in (None, ""):
            errors["value"] = "is required"
            find_unit(name, unit)  # the unit is still checked, so every bad field is named at once
        else:
            value_si, unit_si = to_canonical(name, data.get("value"), unit)
    except LabValueError as e:
        errors[e.field] = e.message
    collected = None
    text = str(data.get("collected_at") or "").strip()
    if not text:
        errors["collected_at"] = "is required"
    else:
        try:
            collected = parse_datetime(text, default_tz=tz)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range by its offset
            errors["collected_at"] = "must be a date and time (ISO 8601, e.g. 2026-03-02T08:30:00+01:00)"
    if collected is not None:
        if collected > now:
            errors["collected_at"] = "is in the future"
        elif local_date(collected, tz).isoformat() < participant["birth_date"]:
            errors["collected_at"] = "is before the participant's birth"
    visit = str(data.get("visit") or "").strip().upper() or None
    codes = [*EXTRA_VISITS, *(v.code for v in study.visits)]
    if visit and visit not in codes:
        errors["visit"] = f"must be one of {', '.join(codes)}"
    limits = {}
    for field in ("uln", "lln"):
        raw = _number(data.get(field), field, errors)
        if raw is not None and "unit" not in errors and "analyte" not in errors:
            try:
                limits[field] = to_canonical(name, raw, unit, field=field, check_plausible=False)[0]
            except LabValueError as e:
                errors[e.field] = e.message
    if limits.get("uln") is not None and limits["uln"] <= 0:
        errors["uln"] = "must be above 0"
    if limits.get("lln") is not None and limits["lln"] < 0:
        errors["lln"] = "must not be negative"
    if limits.get("uln") is not None and limits.get("lln") is not None and limits["lln"] >= limits["uln"]:
        errors["lln"] = "must be below uln"
    require(errors)
    study_range = study.reference_range(name, participant["sex"])
    uln = limits.get("uln", study_range.uln if study_range else None)
    lln = limits.get("lln", study_range.lln if study_range else None)
    return {"participant_id": participant["id"], "subject_id": participant["subject_id"], "site": participant["site"],
            "analyte": name, "value": float(str(data["value"]).strip()), "unit": unit, "value_si": value_si,
            "unit_si": unit_si, "uln": uln, "lln": lln,
            "range_source": "lab" if limits else ("study" if study_range else None),
            "visit": visit, "collected_at": iso(collected)}


# --- reading --------------------------------------------------------------------------------------------------

def _as_result(r: dict) -> lab_rules.LabResult:
    return lab_rules.LabResult(r["id"], r["analyte"], r["value_si"], parse_datetime(r["collected_at"]),
                               r["uln"], r["lln"], r["egfr"], entered=(r["value"], r["unit"]))


def _facts(p: dict) -> lab_rules.ParticipantFacts:
    return lab_rules.ParticipantFacts(p["subject_id"], parse_datetime(p["injection_at"]) if p["injection_at"] else None)


def stored_series(db: Database, participant_id: int, *, include_errors: bool = False) -> list[dict]:
    """The participant's valid results (with results entered in error too if asked), current grades, oldest first."""
    valid = "" if include_errors else " AND l.status = 'valid'"
    return [current(r) for r in rows(db, f"{CURRENT} WHERE l.participant_id = ?{valid} ORDER BY l.collected_at, l.id",
                                      (participant_id,))]


def public(r: dict) -> dict:
    """The API's form of a stored result, with the KDIGO stage where one applies."""
    r = current(r)
    out = {k: r[k] for k in PUBLIC_FIELDS}
    out.update({k: r.get(k) for k in ERROR_FIELDS})
    out["status"] = out["status"] or "valid"
    out["regrade_reason"] = r.get("regrade_reason")
    out["kdigo_stage"] = (g_stage(r["egfr"]) if r["egfr"] is not None else
                          g_stage(r["value_si"]) if r["analyte"] == "egfr" else
                          uacr_stage(r) if r["analyte"] == "uacr" else None)
    return out


def uacr_stage(r: dict) -> str:
    """KDIGO A category with the column of the unit as reported (3 mg/mmol is A2, although 26.5 mg/g is A1)."""
    unit = find_unit("uacr", r["unit"]).name
    return a_stage(r["value"], unit) if unit == "mg/mmol" else a_stage(r["value_si"])


def series(db: Database, subject_id: str, *, user: dict | None, analyte: str | None = None,
           include_errors: bool = False) -> list[dict]:
    """A participant's valid results (and those entered in error if asked), oldest first, optionally of one analyte.

    Raises NotFound (participant not visible to the user) or InvalidInput (unknown analyte).
    """
    p = participants.get(db, subject_id, user=user)
    if analyte:
        try:
            analyte = find_analyte(analyte).name
        except LabValueError as e:
            raise InvalidInput({"analyte": e.message}) from None
        found = [r for r in stored_series(db, p["id"], include_errors=include_errors) if r["analyte"] == analyte]
    else:
        found = stored_series(db, p["id"], include_errors=include_errors)
    return [public(r) for r in found]


# --- grading --------------------------------------------------------------------------------------------------

def _grades(rec: dict, baselines: dict[str, float], egfr_lln: float | None, with_baseline: bool):
    """[(grade now, grade of the baseline value)] for the analyte and, for a creatinine, its eGFR."""
    out = []
    # The value as reported goes with it: CTCAE's own column for a unit grades it (CTCAE v5.0 Anemia mmol/L).
    candidates = [(rec["analyte"], rec["value_si"], rec["uln"], rec["lln"], (rec["value"], rec["unit"]))]
    if rec.get("egfr") is not None:
        candidates.append(("egfr", rec["egfr"], None, egfr_lln, None))
    for analyte, value, uln, lln, entered in candidates:
        base = baselines.get(analyte) if with_baseline else None
        now_grade = grade_lab(analyte, value, uln=uln, lln=lln, baseline=base, entered=entered)
        if now_grade is not None:
            base_grade = grade_lab(analyte, base, uln=uln, lln=lln) if base is not None else None
            out.append((now_grade, base_grade))
    return out


def _worst(grades) -> tuple[LabGrade | None, LabGrade | None]:
    """The highest grade; between equal grades, one that is new since baseline (so it is offered as an AE)."""
    if not grades:
        return None, None
    return max(grades, key=lambda g: (g[0].grade, g[1] is None or g[0].grade > g[1].grade))


def _baselines(db: Database, p: dict, analyte: str, injection: datetime, rules: lab_rules.RuleSet) -> dict:
    """Baseline values (rules file policy) of the analyte, and of eGFR for a creatinine, from stored results."""
    wanted = ["creatinine", "egfr"] if analyte in ("creatinine", "egfr") else [analyte]
    pre = rows(db, f"SELECT * FROM labs WHERE participant_id = ? AND analyte IN ({', '.join('?' * len(wanted))}) "
                   "AND collected_at <= ? AND status = 'valid' ORDER BY collected_at, id", (p["id"], *wanted, iso(injection)))
    return lab_rules.baseline_values(rules.baseline, lab_rules.series_by_analyte([_as_result(r) for r in pre],
                                                                                 injection), injection)


# --- writing --------------------------------------------------------------------------------------------------

def store(db: Database, rec: dict, p: dict, *, rules: lab_rules.RuleSet, study: Study, tz: str, actor: str,
          source: str, now: datetime, raise_alerts: bool = True) -> Recorded:
    """Write one validated result with its derived values, audit entries, AE offer and rule alerts.

    Call inside ``atomic(db)`` when several results must commit together (the import, which raises the alerts
    once per participant at the end: ``raise_alerts=False``). Raises Conflict when a different value exists for
    the same participant, analyte and instant.
    """
    with atomic(db):
        existing = row(db, "SELECT * FROM labs WHERE participant_id = ? AND analyte = ? AND collected_at = ? "
                           "AND status = 'valid'",
                       (rec["participant_id"], rec["analyte"], rec["collected_at"]))
        if existing:
            if round(existing["value_si"], 9) == round(rec["value_si"], 9):
                return Recorded(existing, duplicate=True)
            raise Conflict(
                f"{rec['subject_id']} already has {rec['analyte']} {existing['value']} {existing['unit']} collected at "
                f"{rec['collected_at']}; a different value for the same sample is refused",
                {"value": f"differs from the stored {existing['value']} {existing['unit']}"})
        rec = dict(rec)
        collected = parse_datetime(rec["collected_at"])
        if rec["analyte"] == "creatinine":
            age = age_on(datetime.fromisoformat(p["birth_date"]).date(), local_date(collected, tz))
            # CKD-EPI 2021 race-free (Inker, NEJM 2021), stored rounded to 0.1 as reported.
            rec["egfr"] = round(ckd_epi_2021(rec["value_si"], age, p["sex"]), 1)
        else:
            rec["egfr"] = None
        injection = parse_datetime(p["injection_at"]) if p["injection_at"] else None
        post = injection is not None and collected > injection
        baselines = _baselines(db, p, rec["analyte"], injection, rules) if post else {}
        egfr_range = study.reference_range("egfr", p["sex"])
        grade, base_grade = _worst(_grades(rec, baselines, egfr_range.lln if egfr_range else None, post))
        rec.update(ctcae_term=grade.term if grade else None, ctcae_grade=grade.grade if grade else None,
                   source=source, entered_at=iso(now), entered_by=actor)
        cols = list(rec)
        lab_id = db.execute(f"INSERT INTO labs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            [rec[c] for c in cols]).lastrowid
        # One entry holding the whole result (not one per field): a result is created once and never changed,
        # and an import of thousands of rows must not write fourteen chained entries per row.
        audit.record(db, actor=actor, action="create", entity="lab", entity_id=lab_id, at=now,
                     changes={"result": (None, {k: rec[k] for k in AUDITED})})
        # Offer an AE only for a grade that is new since baseline: participants enter with CKD 3-4 (CTCAE CKD
        # grade 2-3) and treated hypertension, and a pre-existing grade is not an adverse event (ICH E2A).
        if grade and post and (base_grade is None or grade.grade > base_grade.grade):
            db["lab_ae_offers"].insert({
                "lab_id": lab_id, "subject_id": p["subject_id"], "site": p["site"], "term": grade.term,
                "grade": grade.grade, "onset": local_date(collected, tz).isoformat(), "created_at": iso(now)})
            audit.record(db, actor=actor, action="ae_offered", entity="lab", entity_id=lab_id, at=now,
                         changes={"ae_offer": (None, f"{grade.term} grade {grade.grade} ({grade.basis})")})
        if rec.get("confirmed_checks"):  # issue 12: a value that failed a plausibility check, kept on purpose
            audit.record(db, actor=actor, action="plausibility_confirmed", entity="lab", entity_id=lab_id, at=now,
                         changes={"confirmed_checks": (None, rec["confirmed_checks"])},
                         reason="the value failed these checks and was confirmed by the person entering it")
        stored = row(db, "SELECT * FROM labs WHERE id = ?", (lab_id,))
        if injection is not None and not post:  # a baseline entered late re-grades what was graded against it
            from .corrections import regrade
            regrade.after_baseline_change(db, p, rules=rules, study=study, tz=tz, now=now, actor=actor,
                                          why=f"baseline {rec['analyte']} of {rec['collected_at'][:10]} entered "
                                              f"by {actor}", raise_alerts=raise_alerts)
        raised = raise_breaches(db, p, rules, now) if raise_alerts else []
    return Recorded(stored, duplicate=False, breaches=tuple(b.rule_id for b in raised if b.result_id == lab_id))


def record(db: Database, subject_id: str, data: dict, *, rules: lab_rules.RuleSet, study: Study, tz: str,
           user: dict, source: str, now: datetime, plausibility=None) -> Recorded:
    """Validate and store one result for a participant the user may see.

    ``plausibility``: the study's delta and plausibility checks (rules/plausibility.toml); a value failing one is
    refused with NeedsConfirmation (an InvalidInput naming ``value``) unless ``data["confirmed"]`` is true.
    Raises NotFound (participant), InvalidInput (fields named: analyte, value, unit, collected_at, visit, uln,
    lln, confirmed) or Conflict (a different value for the same sample).
    """
    p = participants.get(db, subject_id, user=user)
    rec = validate(data, p, study, tz, now)
    if plausibility is not None:
        from .corrections import plausibility as checks
        rec = checks.screen(db, rec, p, plausibility, confirmed=data.get("confirmed"))
    corrects = str(data.get("corrects") or "").strip()
    if not corrects:
        return store(db, rec, p, rules=rules, study=study, tz=tz, actor=user["email"], source=source, now=now)
    # "Correct this value" (issue 12): the new result names the one entered in error that it replaces.
    wrong = row(db, "SELECT id FROM labs WHERE id = ? AND participant_id = ? AND analyte = ? AND "
                    "status = 'entered_in_error'", (corrects, p["id"], rec["analyte"])) if corrects.isdigit() else None
    if wrong is None:
        raise InvalidInput({"corrects": f"is not a {rec['analyte']} result of {p['subject_id']} entered in error"})
    with atomic(db):
        done = store(db, rec, p, rules=rules, study=study, tz=tz, actor=user["email"], source=source, now=now)
        if not done.duplicate:
            audit.record(db, actor=user["email"], action="corrects", entity="lab", entity_id=done.lab["id"], at=now,
                         changes={"corrects": (None, wrong["id"])}, reason=f"replaces result {wrong['id']}, "
                                                                          "entered in error")
    return done


def raise_breaches(db: Database, p: dict, rules: lab_rules.RuleSet, now: datetime) -> list[lab_rules.Breach]:
    """Evaluate the participant's whole series and raise one alert per breach; a breach raised before stays one
    alert (the key is participant, rule and triggering result, UNIQUE in the alerts table). Returns every breach."""
    found = lab_rules.evaluate(rules, _facts(p), [_as_result(r) for r in stored_series(db, p["id"])], now).breaches
    # Issue 12: nothing is alerted after the participant left the study (withdrawn, lost, died, completed).
    ended = p.get("status_on") if p.get("status", "active") != "active" else None
    # Known keys are skipped before raise_alert only to save work; the UNIQUE key is what guarantees one alert.
    known = {r[0] for r in db.execute("SELECT key FROM alerts WHERE subject_id = ? AND kind = ?",
                                      [p["subject_id"], ALERT_KIND]).fetchall()}
    for b in found:
        key = f"lab:{b.subject_id}:{b.rule_id}:{b.result_id}"
        if key not in known and not (ended and b.collected_at.date().isoformat() > ended):
            alerts.raise_alert(db, key=key, kind=ALERT_KIND, severity=b.severity, message=b.message, now=now,
                               subject_id=b.subject_id, site=p["site"], rule=b.rule_id, ref_entity="lab",
                               ref_id=b.result_id)
    return found


def pending_confirmations(db: Database, p: dict, rules: lab_rules.RuleSet, now: datetime) -> list[dict]:
    """Sustained rules met once and awaiting a confirming result: the rule, when first met, from when to repeat."""
    ev = lab_rules.evaluate(rules, _facts(p), [_as_result(r) for r in stored_series(db, p["id"])], now)
    return [{"rule_id": x.rule_id, "description": rules.rule(x.rule_id).description, "result_id": x.result_id,
             "confirm_from": x.confirm_from} for x in ev.pending]


def check_all(db: Database, rules: lab_rules.RuleSet, now: datetime) -> int:
    """The scheduled safety net: evaluate every injected participant; returns the number of alerts newly raised
    (a rules file edited since the results were entered can breach on results already stored)."""
    before = db.execute("SELECT count(*) FROM alerts WHERE kind = ?", [ALERT_KIND]).fetchone()[0]
    for p in rows(db, "SELECT * FROM participants WHERE injection_at IS NOT NULL ORDER BY subject_id"):
        with atomic(db):
            raise_breaches(db, p, rules, now)
    return db.execute("SELECT count(*) FROM alerts WHERE kind = ?", [ALERT_KIND]).fetchone()[0] - before


# --- AE offers ------------------------------------------------------------------------------------------------

def open_offers(db: Database, subject_id: str) -> list[dict]:
    """The participant's open AE offers, newest first, each marked ``recorded`` if an AE with the same term and
    onset already exists (the AE form is another module's: we only look)."""
    offers = rows(db, "SELECT o.*, l.analyte, l.value, l.unit FROM lab_ae_offers o JOIN labs l ON l.id = o.lab_id "
                      "WHERE o.subject_id = ? AND o.status = 'open' ORDER BY o.onset DESC, o.lab_id DESC",
                  (subject_id,))
    cols = {c.name for c in db["adverse_events"].columns} if db["adverse_events"].exists() else set()
    for o in offers:
        o["recorded"] = False
        if {"subject_id", "term", "onset"} <= cols:
            status = " AND status = 'active'" if "status" in cols else ""
            o["recorded"] = row(db, f"SELECT 1 AS x FROM adverse_events WHERE subject_id = ? AND term = ? "
                                    f"AND substr(onset, 1, 10) = ?{status}",
                                (subject_id, o["term"], o["onset"])) is not None
    return offers


def dismiss_offer(db: Database, lab_id: int, *, reason: str, user: dict, now: datetime) -> dict:
    """Dismiss an AE offer with a reason (audited). Raises InvalidInput (reason), NotFound, Conflict (not open)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": "is required to dismiss a suggested AE"})
    with atomic(db):
        offer = row(db, "SELECT * FROM lab_ae_offers WHERE lab_id = ?", (lab_id,))
        if offer is None:
            raise NotFound(f"no AE offer for lab result {lab_id}")
        participants.get(db, offer["subject_id"], user=user)  # NotFound outside the user's site
        if offer["status"] != "open":
            raise Conflict(f"the AE offer for lab result {lab_id} is already {offer['status']}")
        db.execute("UPDATE lab_ae_offers SET status = 'dismissed', dismissed_at = ?, dismissed_by = ?, "
                   "dismiss_reason = ? WHERE lab_id = ?", [iso(now), user["email"], reason, lab_id])
        audit.record(db, actor=user["email"], action="ae_offer_dismissed", entity="lab", entity_id=lab_id, at=now,
                     changes={"ae_offer": ("open", "dismissed")}, reason=reason)
        return row(db, "SELECT * FROM lab_ae_offers WHERE lab_id = ?", (lab_id,))


def analyte_choices() -> list[tuple[str, str, list[str]]]:
    """(analyte, label, its units with the default first) for forms and the import help; other spellings of
    these units are accepted too but not offered (they made a list of 120 with duplicates)."""
    return [(a.name, a.label, [u.name for u in a.units]) for a in ANALYTES.values()]
