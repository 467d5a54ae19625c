"""Demo step (issue 13): two participants screened against the protocol's criteria after the cohort: S01-011, a
screen failure (eGFR above 60 at screening: not CKD stage 3-4) who is never injected, and S01-012, whose UACR of
3400 mg/g is above the protocol's 3000, enrolled after the site investigator signed a protocol deviation."""
from __future__ import annotations

from datetime import timedelta

from ..clock import iso, local_date
from ..domain import eligibility, labs, participants, users
from ..domain.eligibility.screening import store_signed_deviation
from . import STEPS

NOTES = {"IN01": "GP letter: T2DM since 2009", "IN04": "renal biopsy report: diabetic nephropathy class III",
         "IN08": "medication history: ramipril 10 mg since 2024", "IN09": "signed consent form v2.1 on file",
         "EX01": "history and examination: no malignancy", "EX05": "cardiology review: stable",
         "EX06": "urine pregnancy test negative", "EX07": "medication history: no immunosuppressants",
         "EX08": "participant interview: no earlier cell therapy study"}


def screen_two(db, rulebook, config, now, rng, actors) -> None:
    study, tz, criteria = rulebook.study, config["TIMEZONE"], rulebook.eligibility
    nurse, investigator = actors["nurse:S01"], actors["investigator:S01"]
    consent = local_date(now, tz) - timedelta(days=12)
    screened_at = now - timedelta(days=10)
    for sid, sex, birth, weight, panel in (
        # Creatinine 0.7 mg/dL in a 50-year-old woman: CKD-EPI 2021 eGFR ~ 102, outside the protocol's 15-60.
        ("S01-011", "F", "1976-02-14", 68.0, {"creatinine": (0.7, "mg/dL"), "uacr": (420, "mg/g")}),
        # UACR 3400 mg/g: above the protocol's 30-3000 mg/g.
        ("S01-012", "M", "1969-09-30", 91.4, {"creatinine": (1.9, "mg/dL"), "uacr": (3400, "mg/g")}),
    ):
        p = participants.create(db, {"subject_id": sid, "site": "S01", "sex": sex, "birth_date": birth,
                                     "weight_kg": weight, "consent_on": consent.isoformat(),
                                     "enrolled_on": consent.isoformat()}, study=study, tz=tz, actor=nurse, now=now)
        panel = {**panel, "hba1c": (8.1, "%"), "sbp": (142, "mmHg"), "dbp": (84, "mmHg"), "alt": (24, "U/L"),
                 "ast": (27, "U/L"), "hemoglobin": (11.9, "g/dL"), "platelets": (236, "10^3/uL")}
        for analyte, (value, unit) in panel.items():
            labs.record(db, sid, {"analyte": analyte, "value": value, "unit": unit, "visit": "SCR",
                                  "collected_at": iso(screened_at)}, rules=rulebook.lab_rules, study=study, tz=tz,
                        user=nurse, source="demo", now=now)
        for cid, note in NOTES.items():
            c = criteria.get(cid)
            if c.sex and c.sex != sex:
                continue
            eligibility.answer(db, sid, cid, {"met": "met" if c.kind == "inclusion" else "not_met",
                                             "source_note": note}, criteria=criteria, actor=nurse, now=now)
    # S01-012: the investigator accepts the UACR above the limit and the nurse records the injection. The demo
    # cannot re-enter the demo investigator's password, so it stores the signature the form would have made.
    p = participants.get(db, "S01-012", user=None)
    store_signed_deviation(db, p, users.get(db, investigator["id"]),
                           "UACR 3400 mg/g at screening, above the 3000 mg/g limit: heavy proteinuria from diabetic "
                           "nephropathy; sponsor's medical monitor agreed to enrol (note to file 2026-06).",
                           criteria=criteria, now=now)
    eligibility.record_injection(db, "S01-012", {"injection_at": iso(now - timedelta(days=3))}, criteria=criteria,
                                 study=study, tz=tz, actor=nurse, now=now)


STEPS.append(screen_two)
