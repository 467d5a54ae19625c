"""The lab listing (values as entered and in canonical units, eGFR, CTCAE grades, KDIGO stage) and the visit
compliance listing, read for one user (site-scoped) and laid out as Tables for CSV and XLSX."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from sqlite_utils import Database

from ..clock import local_date, parse_datetime
from ..domain import participants
from ..domain.permissions import site_scope
from ..domain.study import Study
from ..domain.units import ANALYTES
from .columns import Column, Table
from .filters import add_date_range

LAB_COLUMNS: tuple[Column, ...] = (
    Column("id", "Result id", "Database identifier of the result (results are never changed).", "int", 9),
    Column("subject_id", "Subject", "Participant identifier.", "text", 10),
    Column("site", "Site", "Site identifier.", "text", 6),
    Column("visit", "Visit", "Visit code, if the sample belongs to a visit.", "text", 7),
    Column("analyte", "Analyte", "Analyte (its code in the labs API is in the analyte filter).", "text", 14,
           lambda r: ANALYTES[r["analyte"]].label if r.get("analyte") in ANALYTES else r.get("analyte")),
    Column("collected_at", "Collected at", "Sample collection time (ISO 8601 UTC).", "datetime", 20),
    Column("value", "Value", "Value as entered.", "number", 9),
    Column("unit", "Unit", "Unit as entered.", "text", 12),
    Column("value_si", "Value (canonical)", "Value in the study's canonical unit.", "number", 10),
    Column("unit_si", "Canonical unit", "The study's canonical unit for the analyte.", "text", 14),
    Column("lln", "LLN", "Lower limit of normal (canonical unit).", "number", 7),
    Column("uln", "ULN", "Upper limit of normal (canonical unit).", "number", 7),
    Column("range_source", "Range source", "lab (reported with the result) or study (rules/study.toml).", "text", 8),
    Column("egfr", "eGFR", "For creatinine: eGFR by CKD-EPI 2021 (mL/min/1.73 m2), race-free.", "number", 7),
    Column("kdigo_stage", "KDIGO stage", "KDIGO 2012 G stage (eGFR) or A stage (UACR).", "text", 8),
    Column("ctcae_term", "CTCAE term", "CTCAE v5.0 term the value is graded against, if any.", "text", 26),
    Column("ctcae_grade", "CTCAE grade", "CTCAE v5.0 grade 1-5; empty when within limits or not gradable.", "int", 7),
    Column("source", "Source", "form, api, csv import or demo.", "text", 7),
    Column("entered_at", "Entered at", "When the result was stored (ISO 8601 UTC).", "datetime", 20),
    Column("entered_by", "Entered by", "Who stored it.", "text", 22),
    Column("status", "Status", "Valid, or entered in error (listed only when asked for; never analysed).", "text", 9,
           vocabulary="status"),
    Column("error_reason", "Error reason", "Why the result was marked entered in error, by whom and when.", "text", 24),
)

VISIT_COLUMNS: tuple[Column, ...] = (
    Column("subject_id", "Subject", "Participant identifier.", "text", 10),
    Column("site", "Site", "Site identifier.", "text", 6),
    Column("injection_date", "Injection date", "Day of the injection (study day 1), site time zone.", "date", 12),
    Column("visit", "Visit", "Visit code (rules/study.toml).", "text", 6),
    Column("label", "Visit name", "Visit name.", "text", 10),
    Column("due_on", "Target date", "Injection date + the visit's target day.", "date", 11),
    Column("window_start", "Window start", "First day of the visit window.", "date", 11),
    Column("window_end", "Window end", "Last day of the visit window.", "date", 11),
    Column("visit_date", "Visit date", "Date the visit was done, if recorded.", "date", 11),
    Column("days_from_target", "Days from target", "Visit date - target date (negative: early).", "int", 8),
    Column("in_window", "In window", "Y if the visit was done within its window.", "bool", 8),
    Column("status", "Status", "upcoming / open / done / overdue / missed / not_expected (after leaving the "
           "study), as of the export time.", "text", 9),
)


def lab_rows(db: Database, user: dict | None, f: Mapping) -> list[dict]:
    """Lab results visible to the user (site scope), filtered, by subject, analyte and collection time.

    ``from``/``to`` bound the collection date (UTC date of ``collected_at``, both days included).
    """
    from ..domain import labs  # the labs engineer's public form (adds the KDIGO stage)

    clauses, params = [], []
    scope = site_scope(user)
    for key, value in (("site", scope), ("site", f.get("site")), ("subject_id", f.get("subject_id")),
                       ("analyte", f.get("analyte"))):
        if value:
            clauses.append(f"{key} = ?")
            params.append(value)
    add_date_range("collected_at", f, clauses, params)
    if not f.get("include_entered_in_error"):  # issue 12: a result entered in error leaves the default export
        clauses.append("status = 'valid'")
    clauses = [f"l.{c}" for c in clauses]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    out = []
    for r in db.query(f"{labs.CURRENT} {where} ORDER BY l.subject_id, l.analyte, l.collected_at, l.id", params):
        public = labs.public(r)
        public["site"] = r["site"]
        if r["status"] != "valid":
            public["error_reason"] = f"{r['error_reason']} ({r['error_by']}, {r['error_at']})"
        out.append(public)
    return out


def visit_rows(db: Database, user: dict | None, f: Mapping, study: Study, tz: str, now: datetime) -> tuple[list[dict], int]:
    """One row per scheduled visit of each injected participant visible to the user, and the number of
    participants without a schedule (not injected yet)."""
    out, not_injected = [], 0
    for p in participants.list_for(db, user, site=f.get("site")):
        if f.get("subject_id") and p["subject_id"] != f["subject_id"]:
            continue
        if not p["injection_at"]:
            not_injected += 1
            continue
        injection = local_date(parse_datetime(p["injection_at"]), tz)
        for v in participants.participant_schedule(db, p, study, tz, now):
            done = v.visit_date
            out.append({"subject_id": p["subject_id"], "site": p["site"], "injection_date": injection.isoformat(),
                        "visit": v.visit, "label": v.label, "due_on": v.due_on.isoformat(),
                        "window_start": v.window_start.isoformat(), "window_end": v.window_end.isoformat(),
                        "visit_date": done.isoformat() if done else None,
                        "days_from_target": (done - v.due_on).days if done else None,
                        "in_window": (v.window_start <= done <= v.window_end) if done else None,
                        "status": v.status})
    return out, not_injected


def lab_table(rows: list[dict]) -> Table:
    return Table("Lab listing", "Laboratory results", LAB_COLUMNS, rows)


def visit_table(rows: list[dict], not_injected: int) -> Table:
    note = f"{not_injected} participant(s) not injected yet have no visit schedule." if not_injected else ""
    return Table("Visit compliance", "Visit compliance", VISIT_COLUMNS, rows, note)
