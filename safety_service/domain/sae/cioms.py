"""The fields of the CIOMS I form (CIOMS Working Group I, "Suspect adverse reaction report") for one report of a
serious AE, gathered from the AE version the report described, the participant, their labs, con-meds and
medical history, and the study's product and sponsor (rules/cioms.toml). Plain data: the PDF is reports/cioms.py.

The form identifies the patient by study code and subject ID only (no initials: the trial's pseudonym).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlite_utils import Database

from ...clock import local_date, parse_datetime
from ...db import row, rows
from .. import adverse_events
from . import reports
from .cioms_rules import CiomsRules

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# How far before the onset a lab result counts as a "relevant test" of the reaction (fields 7+13).
LAB_DAYS_BEFORE_ONSET = 14
LAB_LIMIT = 12


@dataclass(frozen=True)
class CiomsForm:
    """Every field of the form, by its CIOMS number, as the text printed (check boxes as booleans)."""

    study_id: str
    mfr_control_no: str                      # 24b
    report_number: int
    patient: str                             # 1
    country: str                             # 1a
    birth_date: str                          # 2
    age: str                                 # 2a
    sex: str                                 # 3
    onset: str                               # 4-6
    reaction: list[str]                      # 7 + 13
    died: bool                               # 8-12
    hospitalisation: bool
    disability: bool
    life_threatening: bool
    other_serious: list[str]                 # congenital anomaly / important medical event, printed beside
    suspect_drug: str                        # 14
    daily_dose: str                          # 15
    route: str                               # 16
    indication: str                          # 17
    therapy_dates: str                       # 18
    therapy_duration: str                    # 19
    abate: str                               # 20: YES / NO / NA
    reappear: str                            # 21
    concomitant: list[str]                   # 22
    history: list[str]                       # 23
    sponsor: list[str]                       # 24a
    date_received: str                       # 24c
    source: str                              # 24d: STUDY
    report_type: str                         # 25a: INITIAL / FOLLOWUP
    follow_up_number: int | None
    date_of_report: str                      # 25a
    extras: dict = field(default_factory=dict)


def day_month_year(d: date | str | None) -> str:
    """CIOMS dates as day, month, year ("05 JUN 2026"): unambiguous in every country. Partial ISO dates
    (YYYY, YYYY-MM, as SDTM allows) print what is known."""
    if d in (None, ""):
        return "UNK"
    text = d.isoformat() if isinstance(d, date) else str(d)
    parts = text[:10].split("-")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return f"{MONTHS[int(parts[1]) - 1]} {parts[0]}"
    return f"{int(parts[2]):02d} {MONTHS[int(parts[1]) - 1]} {parts[0]}"


def _cells(n: float) -> str:
    """A cell count as the protocol writes doses: 7.25 x 10^7."""
    mantissa, exponent = f"{n:.2e}".split("e")
    return f"{float(mantissa):g} x 10^{int(exponent)}"


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _ae_as_reported(db: Database, ae: dict, report: dict) -> dict:
    """The AE version the report described: the one recorded with it, or for a report carried over from the
    first round, the last version saved before it was sent."""
    if report.get("ae_version"):
        found = row(db, "SELECT data FROM ae_versions WHERE ae_id = ? AND version = ?", (ae["id"], report["ae_version"]))
    else:
        found = row(db, "SELECT data FROM ae_versions WHERE ae_id = ? AND changed_at <= ? ORDER BY version DESC "
                        "LIMIT 1", (ae["id"], report["sent_at"]))
    return {**ae, **json.loads(found["data"])} if found else ae


def _has_table(db: Database, name: str) -> bool:
    return db[name].exists()


def _labs(db: Database, p: dict, ae: dict, report: dict, tz: str) -> list[str]:
    """Relevant tests: valid results from two weeks before the onset up to the report, newest first."""
    start = date.fromisoformat(ae["onset"]).toordinal() - LAB_DAYS_BEFORE_ONSET
    valid = " AND status = 'valid'" if "status" in db["labs"].columns_dict else ""
    found = rows(db, f"SELECT analyte, value, unit, ctcae_term, ctcae_grade, collected_at FROM labs "
                     f"WHERE participant_id = ? AND collected_at <= ?{valid} ORDER BY collected_at DESC, analyte",
                 (p["id"], report["sent_at"]))
    out = []
    for r in found:
        on = local_date(parse_datetime(r["collected_at"]), tz)
        if on.toordinal() < start:
            continue
        graded = f" (CTCAE {r['ctcae_term']} grade {r['ctcae_grade']})" if r["ctcae_grade"] else ""
        out.append(f"{day_month_year(on)}: {r['analyte']} {r['value']:g} {r['unit']}{graded}")
        if len(out) == LAB_LIMIT:
            break
    return out


def _conmeds(db: Database, p: dict, ae: dict) -> tuple[list[str], list[str]]:
    """(field 22: concomitant drugs taken at the onset, excluding those given to treat the reaction;
    the treatments given for this AE, printed with the reaction)."""
    if not _has_table(db, "conmeds"):
        return [], []
    treating = {r["conmed_id"] for r in db.query("SELECT conmed_id FROM ae_conmeds WHERE ae_id = ?", [ae["id"]])}
    concomitant, treatment = [], []
    for c in rows(db, "SELECT * FROM conmeds WHERE participant_id = ? AND status = 'active' ORDER BY seq", (p["id"],)):
        dose = " ".join(x for x in (f"{c['dose']:g}" if c["dose"] is not None else "", c["unit"] or "") if x)
        what = ", ".join(x for x in (c["name"], dose, c["route"] or "") if x)
        dates = f"{day_month_year(c['start_date'])} to " + ("ongoing" if c["ongoing"] else day_month_year(c["stop_date"]))
        text = f"{what} ({dates})" + (f"; for {c['indication']}" if c["indication"] else "")
        if c["id"] in treating:
            treatment.append(text)
        elif (c["start_date"] or "") <= ae["onset"] and (c["ongoing"] or not c["stop_date"]
                                                        or c["stop_date"] >= ae["onset"][:len(c["stop_date"])]):
            concomitant.append(text)
    return concomitant, treatment


def _history(db: Database, p: dict) -> list[str]:
    if not _has_table(db, "medical_history"):
        return []
    out = []
    for h in rows(db, "SELECT * FROM medical_history WHERE participant_id = ? AND status = 'active' ORDER BY seq",
                  (p["id"],)):
        out.append(f"{h['condition']} (since {day_month_year(h['onset'])}{', ongoing' if h['ongoing'] else ''})")
    return out


def gather(db: Database, ae_id: int, number: int | None, *, user: dict | None, rules: CiomsRules, study,
           tz: str) -> CiomsForm:
    """The CIOMS I fields of report ``number`` (default: the latest sent) of a serious AE.

    Raises NotFound (no AE the user may see, or no such report sent).
    """
    current = adverse_events.get(db, ae_id, user=user)
    report = reports.for_cioms(db, ae_id, number, user=user)
    ae = _ae_as_reported(db, current, report)
    p = row(db, "SELECT * FROM participants WHERE subject_id = ?", (ae["subject_id"],))
    onset = date.fromisoformat(ae["onset"])
    birth = date.fromisoformat(p["birth_date"])
    injected = local_date(parse_datetime(p["injection_at"]), tz) if p.get("injection_at") else None
    concomitant, treatment = _conmeds(db, p, ae)
    criteria = ae["seriousness"]
    relatedness = (f"cells {ae['relatedness_product'].replace('_', ' ')}, injection procedure "
                   f"{ae['relatedness_procedure'].replace('_', ' ')}")
    expected = {None: "not yet assessed", True: "expected", False: "unexpected"}[ae["expected"]]
    reaction = [
        f"{ae['term']} (CTCAE v{ae['ctcae_version']} grade {ae['grade']}; MedDRA {ae['meddra_code']}, {ae['soc']})",
        f"Verbatim: {ae['verbatim']}",
        f"Onset study day {ae['onset_day'] if ae['onset_day'] is not None else 'n/a'}"
        + (f" at {ae['onset_time']}" if ae["onset_time"] else "")
        + (f"; ended {day_month_year(ae['end_date'])}" if ae["end_date"] else "; ongoing")
        + f"; outcome: {ae['outcome'].replace('_', ' ')}",
        f"Relatedness: {relatedness}; expectedness: {expected}",
        f"Action taken with the cells: {ae['action_taken'].replace('_', ' ')}"
        + (f"; {ae['other_action']}" if ae.get("other_action") else ""),
    ]
    if ae.get("description"):
        reaction.append(f"Narrative: {ae['description']}")
    if treatment:
        reaction.append("Treatment of the reaction: " + "; ".join(treatment))
    if report["summary"]:
        reaction.append(f"This report ({'initial' if report['number'] == 0 else 'follow-up ' + str(report['number'])}"
                        f"): {report['summary']}")
    if report["changes"]:
        reaction.append("Changed since the previous report: " + ", ".join(c.replace("_", " ") for c in report["changes"]))
    labs = _labs(db, p, ae, report, tz)
    reaction.append("Relevant tests/lab data: " + ("; ".join(labs) if labs else "none recorded"))
    sent_on = local_date(parse_datetime(report["sent_at"]), tz)
    dose_text = rules.product.dose
    if p.get("dose_cells"):
        dose_text += f"; this patient: {_cells(p['dose_cells'])} cells ({p['weight_kg']:g} kg)"
    other = [c.replace("_", " ") for c in criteria if c in ("congenital_anomaly", "important_medical_event")]
    return CiomsForm(
        study_id=study.study_id,
        mfr_control_no=f"{adverse_events.display_id(ae)}/{report['number']}",
        report_number=report["number"],
        patient=f"{study.study_id} / {ae['subject_id']}",
        country=next(s.country_name for s in study.sites if s.code == ae["site"]),
        birth_date=day_month_year(birth),
        age=str(_age(birth, onset)),
        sex={"F": "F", "M": "M"}.get(p["sex"], "UNK"),
        onset=day_month_year(onset),
        reaction=reaction,
        died="death" in criteria or ae["outcome"] == "fatal",
        hospitalisation="hospitalization" in criteria,
        disability="disability" in criteria,
        life_threatening="life_threatening" in criteria,
        other_serious=other,
        suspect_drug=rules.product.name,
        daily_dose=dose_text,
        route=rules.product.route,
        indication=rules.product.indication,
        therapy_dates=f"{day_month_year(injected)} to {day_month_year(injected)}" if injected else "not given",
        therapy_duration=rules.product.duration,
        # A single dose: it cannot be stopped or reintroduced (CIOMS I fields 20-21 "NA").
        abate="NA",
        reappear="NA",
        concomitant=concomitant,
        history=_history(db, p),
        sponsor=[rules.sponsor.name, *rules.sponsor.address],
        date_received=day_month_year(sent_on),
        source="STUDY",
        report_type="INITIAL" if report["number"] == 0 else "FOLLOWUP",
        follow_up_number=None if report["number"] == 0 else report["number"],
        date_of_report=day_month_year(sent_on),
        extras={"sent_at": report["sent_at"], "recipient": report["recipient"]},
    )
