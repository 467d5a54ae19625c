"""Demo step: synthetic adverse events, recorded through the same domain path as the nurse's form.

What a trial of an intra-renal injection meets: peri-procedural flank pain, hematuria and fever in the first
days, a few later events, one amended AE, one entered in error, and SAEs (one reported, one SUSAR still open),
so the timeline, the SAE clocks and the alerts all have something to show.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..clock import iso, parse_datetime
from ..db import rows
from ..domain import adverse_events
from . import STEPS

# (term, grade, verbatim, day after injection (0 = injection day), outcome, days to resolve, product, procedure)
EARLY = [
    ("Flank pain", 1, "sore at the puncture side", 0, "recovered", 2, "not_related", "definite"),
    ("Hematuria", 1, "pink urine the morning after", 1, "recovered", 1, "unlikely", "probable"),
    ("Fever", 1, "38.3 C in the evening", 0, "recovered", 1, "possible", "possible"),
    ("Injection site reaction", 1, "tender bruised puncture site", 0, "recovered", 4, "unlikely", "definite"),
    ("Nausea", 1, "queasy after sedation", 0, "recovered", 1, "not_related", "probable"),
    ("Headache", 1, "headache after the procedure", 0, "recovered", 1, "not_related", "possible"),
]
LATE = [
    ("Hypertension", 2, "BP 152/94 on two visits", 40, "not_recovered", None, "unlikely", "not_related"),
    ("Urinary tract infection", 2, "dysuria, E. coli in urine culture", 75, "recovered", 7, "not_related",
     "unlikely"),
    ("Hyperkalemia", 1, "K 5.3 mmol/L", 120, "recovered", 10, "not_related", "not_related"),
    ("Fatigue", 1, "tired afternoons", 60, "recovering", None, "unlikely", "not_related"),
]


def _payload(p: dict, injected: datetime, tz: ZoneInfo, now: datetime, term, grade, verbatim, day, outcome,
             resolve, product, procedure) -> dict | None:
    onset = injected.astimezone(tz).date() + timedelta(days=day)
    aware = datetime.combine(onset, datetime.min.time(), tz) + timedelta(hours=17)
    if aware > now:
        return None
    end = onset + timedelta(days=resolve) if resolve is not None else None
    if end and end > now.astimezone(tz).date():
        end, outcome = None, "recovering"
    return {"subject_id": p["subject_id"], "term": term, "grade": grade, "verbatim": verbatim,
            "onset": onset.isoformat(), "end_date": end.isoformat() if end else None, "outcome": outcome,
            "relatedness_product": product, "relatedness_procedure": procedure, "expected": True,
            "awareness_at": iso(aware)}


def add_demo_aes(db, rulebook, config, now: datetime, rng, actors) -> None:
    tz = ZoneInfo(config["TIMEZONE"])
    ctx = {"catalogue": rulebook.ctcae, "study": rulebook.study, "tz": config["TIMEZONE"]}
    people = rows(db, "SELECT * FROM participants WHERE injection_at IS NOT NULL ORDER BY id")
    for n, p in enumerate(people):
        nurse = actors.get(f"nurse:{p['site']}") or actors["nurse"]
        injected = parse_datetime(p["injection_at"])
        picks = rng.sample(EARLY, rng.randint(0, 2)) + ([rng.choice(LATE)] if rng.random() < 0.45 else [])
        for spec in picks:
            data = _payload(p, injected, tz, now, *spec)
            if data:
                adverse_events.create(db, data, actor=nurse, now=now, **ctx)
        if n == 4:  # a grade that turned out worse: amended with its reason
            data = _payload(p, injected, tz, now, "Hematuria", 1, "blood in urine", 2, "recovered", 5,
                            "unlikely", "probable")
            if data:
                ae = adverse_events.create(db, data, actor=nurse, now=now, **ctx)
                adverse_events.amend(db, ae["id"], {"grade": 2, "description": "bladder irrigation for clots"},
                                     reason="urology note received: irrigation needed", actor=nurse, now=now, **ctx)
        if n == 7:  # recorded for the wrong participant: kept, marked entered in error
            data = _payload(p, injected, tz, now, "Back pain", 1, "back pain (wrong chart)", 3, "recovered", 2,
                            "not_related", "unlikely")
            if data:
                ae = adverse_events.create(db, data, actor=nurse, now=now, **ctx)
                adverse_events.mark_entered_in_error(db, ae["id"], reason="entered in the wrong participant's chart",
                                                     actor=nurse, now=now)
        if n == 2:  # an SAE after the injection, reported to the sponsor within 24 hours
            data = _payload(p, injected, tz, now, "Renal hemorrhage", 3, "perirenal hematoma on ultrasound", 1,
                            "recovered", 9, "not_related", "probable")
            if data:
                data.update(serious=True, seriousness=["hospitalization"])
                ae = adverse_events.create(db, data, actor=nurse, now=now, **ctx)
                sent = parse_datetime(data["awareness_at"]) + timedelta(hours=20)
                if sent <= now:
                    adverse_events.record_report_sent(db, ae["id"], actor=nurse, now=now, tz=config["TIMEZONE"],
                                                      sent_at=sent)
    # The latest injected participant: a suspected unexpected serious reaction whose clocks are still running.
    if people:
        p = max(people, key=lambda r: r["injection_at"])
        injected = parse_datetime(p["injection_at"])
        data = _payload(p, injected, tz, now, "Kidney infection", 3, "fever and flank pain, pyelonephritis", 2,
                        "recovering", None, "possible", "probable")
        if data:
            data.update(serious=True, seriousness=["hospitalization"], expected=False,
                        awareness_at=iso(max(parse_datetime(data["awareness_at"]), now - timedelta(hours=6))))
            adverse_events.create(db, data, actor=actors.get(f"nurse:{p['site']}") or actors["nurse"], now=now,
                                  **ctx)


STEPS.append(add_demo_aes)
