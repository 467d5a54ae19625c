"""How long the stopping position, rates, clusters and the DSMB PDF take for a synthetic cohort (plain script).

`python benchmarks/bench_signals.py [--participants 300] [--aes-per-participant 4] [--repeat 3]`
Prints the figures and writes benchmarks/results/signals.json. Pure functions only (no database), so the figure
is the computation the stopping check repeats after every SAE save and every 15 minutes.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def cohort(n: int, per: int, seed: int = 7):
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, tzinfo=timezone.utc)
    people, aes, labs = [], [], []
    for i in range(n):
        inj = start + timedelta(days=i * 400 // max(n, 1))
        sid = f"S0{i % 3 + 1}-{i:03d}"
        people.append({"id": i + 1, "subject_id": sid, "site": sid[:3], "injection_at": inj.isoformat(),
                       "status": "active"})
        for k in range(per):
            onset = (inj + timedelta(days=rng.randint(0, 300))).date()
            aes.append({"id": len(aes) + 1, "subject_id": sid, "seq": k + 1, "term": rng.choice(
                ["Flank pain", "Fever", "Hematuria", "Nausea", "Renal hemorrhage"]), "soc": "x",
                "grade": rng.choice([1, 1, 2, 3]), "serious": rng.random() < 0.05, "seriousness": [],
                "relatedness_product": "not_related", "relatedness_procedure": rng.choice(["possible", "unlikely"]),
                "related": False, "phase": "early" if (onset - inj.date()).days < 30 else "late",
                "treatment_emergent": True, "status": "active", "onset": onset.isoformat(), "onset_day": 1,
                "outcome": "recovered", "description": ""})
        for v, d in (("M1", 30), ("M3", 91), ("M6", 182)):
            labs.append({"subject_id": sid, "analyte": "egfr", "value_si": rng.uniform(20, 60),
                         "collected_at": (inj + timedelta(days=d)).isoformat(), "visit": v})
        labs.append({"subject_id": sid, "analyte": "egfr", "value_si": rng.uniform(20, 60),
                     "collected_at": (inj - timedelta(days=2)).isoformat(), "visit": None})
    return people, aes, labs


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(runs), 1)


def main() -> None:
    import sys
    sys.path.insert(0, str(ROOT))
    from safety_service.domain.stopping import load_safety_rules, position
    from safety_service.domain.signals import event_rates, find_clusters
    from safety_service.domain.study import load_study, schedule
    from safety_service.reports import dsmb, pdf
    from safety_service.reports.datacut import DataCut

    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=300)
    ap.add_argument("--aes-per-participant", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rules = load_safety_rules(ROOT / "rules" / "stopping.toml")
    study = load_study(ROOT / "rules" / "study.toml")
    people, aes, labs = cohort(args.participants, args.aes_per_participant)
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    rule = rules.rules[0]
    scheds = {p["subject_id"]: [v.as_dict() for v in schedule(
        study, datetime.fromisoformat(p["injection_at"]).date(), {}, now.date())] for p in people}
    cut = DataCut(now, date(2026, 6, 1), "UTC", people, scheds, aes, labs, [], now)
    figures = {
        "participants": args.participants, "aes": len(aes),
        "position_ms": timed(lambda: position(rule, people, aes, now), args.repeat),
        "rates_ms": timed(lambda: event_rates(people, aes, now, 30), args.repeat),
        "clusters_ms": timed(lambda: find_clusters(rules.clusters, people, aes, now), args.repeat),
        "report_data_ms": timed(lambda: dsmb.build(cut, rules, study, early_days=30, image=None), args.repeat),
        # the first PDF of a process also imports matplotlib and loads the fonts: reported apart, as the web app
        # and the scheduler pay it once, not per report
        "dsmb_pdf_cold_ms": timed(lambda: pdf.write_dsmb_pdf(dsmb.build(cut, rules, study, early_days=30,
                                                                       image="png")), 1),
        "dsmb_pdf_ms": timed(lambda: pdf.write_dsmb_pdf(dsmb.build(cut, rules, study, early_days=30, image="png")),
                             args.repeat),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "signals.json").write_text(json.dumps(figures, indent=2))
    for k, v in figures.items():
        print(f"{k:20} {v}")


if __name__ == "__main__":
    main()
