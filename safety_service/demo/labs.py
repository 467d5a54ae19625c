"""Demo step: synthetic lab series for every demo participant, through the same path as the form.

Screening and day-0 values make the baseline; creatinine on days 1 and 3 after the injection and a panel at
each visit done follow. A few participants are given the courses the rules exist for (a sustained eGFR fall,
an AKI after the injection, a low hemoglobin), so the demo shows alerts and suggested AEs.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from ..clock import iso, parse_datetime
from ..db import atomic, rows
from ..domain import labs
from . import STEPS

# Site laboratory units, as a real feed would send them: some in SI, converted on entry.
UNITS = {"creatinine": "umol/L", "uacr": "mg/mmol", "alt": "U/L", "ast": "U/L", "hemoglobin": "g/L",
         "platelets": "10^9/L", "hba1c": "mmol/mol", "sbp": "mmHg", "dbp": "mmHg", "potassium": "mmol/L",
         "tnf_alpha": "pg/mL", "il10": "pg/mL"}
TO_ENTERED = {"creatinine": 88.4, "uacr": 1 / 8.84, "hemoglobin": 10}  # canonical -> the unit entered


def _entered(analyte: str, value_si: float) -> float:
    if analyte == "hba1c":
        return round((value_si - 2.152) / 0.09148)  # IFCC mmol/mol from NGSP %
    return round(value_si * TO_ENTERED.get(analyte, 1), 1)


def add_demo_labs(db, rulebook, config, now: datetime, rng, actors) -> None:
    tz, study, rules = config["TIMEZONE"], rulebook.study, rulebook.lab_rules
    for n, p in enumerate(rows(db, "SELECT * FROM participants WHERE injection_at IS NOT NULL ORDER BY id")):
        # One participant's series in one transaction, alerts raised once at its end (as the CSV import does).
        with atomic(db):
            _participant_labs(db, p, n, study, rules, tz, now, rng, actors)
            labs.raise_breaches(db, p, rules, now)


def _participant_labs(db, p, n, study, rules, tz, now, rng, actors) -> None:
    """One participant's baseline, early creatinines and visit panels, with the course ``n`` gives them."""
    nurse = actors.get(f"nurse:{p['site']}") or actors["nurse"]
    injected = parse_datetime(p["injection_at"])
    course = ("decline" if n % 10 == 3 else "aki" if n % 10 == 6 else "anemia" if n % 10 == 8 else "stable")
    base = {"creatinine": rng.uniform(1.3, 2.5) if p["sex"] == "M" else rng.uniform(1.1, 2.1),
            "uacr": rng.uniform(60, 1500), "alt": rng.uniform(14, 35), "ast": rng.uniform(15, 33),
            "hemoglobin": rng.uniform(11, 14), "platelets": rng.uniform(170, 320), "hba1c": rng.uniform(6.4, 9.2),
            "sbp": rng.uniform(120, 150), "dbp": rng.uniform(70, 90), "potassium": rng.uniform(4.0, 5.0),
            "tnf_alpha": rng.uniform(8, 20), "il10": rng.uniform(3, 9)}
    points = [(injected - timedelta(days=14), "SCR", 0.0), (injected - timedelta(hours=2), "D0", 0.0),
              (injected + timedelta(days=1), "UNS", 1.0), (injected + timedelta(days=3), "UNS", 3.0)]
    for v in rows(db, "SELECT visit, visit_date FROM visits WHERE participant_id = ? ORDER BY visit_date",
                  (p["id"],)):
        when = datetime.fromisoformat(v["visit_date"] + "T08:30:00").replace(tzinfo=injected.tzinfo)
        points.append((when, v["visit"], (when - injected).days))
    for when, visit, day in points:
        if when > now:
            continue
        panel = ["creatinine"] if visit == "UNS" else [a for a in base if visit in ("SCR", "D0") or
                                                        a not in ("ast", "hba1c", "potassium")]
        for analyte in panel:
            value = base[analyte] * rng.uniform(0.97, 1.03)
            if analyte == "creatinine" and day > 0:
                if course == "decline" and day >= 60:
                    value = base[analyte] * 1.6          # about a 35-40 % eGFR fall, sustained
                elif course == "aki" and day in (1.0, 3.0):
                    value = base[analyte] * (1.7 if day == 1.0 else 1.3)
            if analyte == "hemoglobin" and course == "anemia" and day >= 25:
                value = 7.6
            data = {"analyte": analyte, "value": _entered(analyte, value), "unit": UNITS[analyte],
                    "collected_at": iso(when), "visit": visit}
            rec = labs.validate(data, p, study, tz, now)
            labs.store(db, rec, p, rules=rules, study=study, tz=tz, actor=nurse["email"], source="demo", now=now,
                       raise_alerts=False)


STEPS.append(add_demo_labs)
