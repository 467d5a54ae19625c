"""Demo step: con-meds and medical history for every demo participant, and treatment given for some AEs.

The protocol enrols on a stable ACE inhibitor or ARB (>= 12 weeks before consent), so everyone has one; all have
type 2 diabetes (the trial's population) and most hypertension. Synthetic, seeded, through the domain functions.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from ..db import rows
from ..domain.history import conmeds, medical_history, treatments
from . import STEPS

# (name, dose mg) of ACE inhibitors and ARBs at usual maintenance doses
RAS_BLOCKERS = [("Ramipril", 5), ("Ramipril", 10), ("Lisinopril", 20), ("Losartan", 100), ("Irbesartan", 300),
                ("Valsartan", 160)]
DIABETES_DRUGS = [("Insulin glargine", 20, "U", "subcutaneous"), ("Linagliptin", 5, "mg", "oral"),
                  ("Empagliflozin", 10, "mg", "oral")]
# AE term -> the symptomatic treatment a site would give (name, dose, unit, route)
AE_TREATMENT = {"Fever": ("Paracetamol", 1000, "mg", "oral"), "Flank pain": ("Paracetamol", 1000, "mg", "oral"),
                "Nausea": ("Ondansetron", 4, "mg", "intravenous"),
                "Urinary tract infection": ("Nitrofurantoin", 100, "mg", "oral"),
                "Hypertension": ("Amlodipine", 5, "mg", "oral")}


def add_demo_history(db, rulebook, config, now: datetime, rng, actors) -> None:
    tz = config["TIMEZONE"]
    for p in rows(db, "SELECT * FROM participants ORDER BY id"):
        nurse = actors.get(f"nurse:{p['site']}") or actors["nurse"]
        consent = date.fromisoformat(p["consent_on"])
        dm_year = consent.year - rng.randint(8, 20)

        def add(name, dose, unit, route, indication, start, _p=p, _nurse=nurse):
            return conmeds.create(db, _p["subject_id"], {
                "name": name, "dose": dose, "unit": unit, "route": route, "indication": indication,
                "start_date": start, "ongoing": True}, actor=_nurse, tz=tz, now=now)

        name, dose = rng.choice(RAS_BLOCKERS)
        started = consent - timedelta(weeks=rng.randint(13, 200))  # stable for >= 12 weeks (protocol)
        add(name, dose, "mg", "oral", "Diabetic nephropathy", started.isoformat())
        drug, ddose, unit, route = rng.choice(DIABETES_DRUGS)
        add(drug, ddose, unit, route, "Type 2 diabetes mellitus", str(rng.randint(dm_year, consent.year - 1)))
        history = [("Type 2 diabetes mellitus", str(dm_year)),
                   ("Diabetic nephropathy", str(consent.year - rng.randint(1, 6)))]
        if rng.random() < 0.8:
            history.append(("Hypertension", f"{consent.year - rng.randint(3, 15)}-{rng.randint(1, 12):02d}"))
        if rng.random() < 0.3:
            history.append(("Diabetic retinopathy", str(consent.year - rng.randint(1, 5))))
        for condition, onset in history:
            medical_history.create(db, p["subject_id"], {"condition": condition, "onset": onset, "ongoing": True},
                                   actor=nurse, tz=tz, now=now)
    for ae in rows(db, "SELECT * FROM adverse_events WHERE status = 'active' ORDER BY id"):
        given = AE_TREATMENT.get(ae["term"])
        if given is None or rng.random() < 0.4:
            continue
        nurse = actors.get(f"nurse:{ae['site']}") or actors["nurse"]
        name, dose, unit, route = given
        stop = ae["end_date"] if ae["end_date"] and ae["end_date"] <= now.date().isoformat() else None
        cm = conmeds.create(db, ae["subject_id"], {
            "name": name, "dose": dose, "unit": unit, "route": route, "indication": ae["term"],
            "start_date": ae["onset"], "stop_date": stop, "ongoing": stop is None}, actor=nurse, tz=tz, now=now)
        treatments.set_for_ae(db, ae["id"], [cm["id"]], actor=nurse, now=now)


STEPS.append(add_demo_history)
