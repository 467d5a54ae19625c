"""Evaluate every lab safety rule for 10,000 participants x 50 lab results each; print the time per participant.

Plain script: `python benchmarks/bench_rules.py [--participants N]`. Writes benchmarks/results/rules.json.
The data are synthetic and seeded (the same series every run); a share of them cross the rules' limits so the
breach path is exercised as well as the quiet one.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safety_service.domain.egfr import ckd_epi_2021  # noqa: E402
from safety_service.domain.lab_rules import LabResult, ParticipantFacts, evaluate, load_rules  # noqa: E402

NOW = datetime(2027, 6, 1, tzinfo=timezone.utc)
FIRST_INJECTION = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
DAYS = (-14, 0, 1, 2, 7, 30, 90, 180, 270, 365)   # screening, day 0, then follow-up: 10 time points x 5 analytes


def participant_series(i: int, rng: random.Random) -> tuple[ParticipantFacts, list[LabResult]]:
    injection = FIRST_INJECTION + timedelta(hours=i)
    sex = "F" if i % 2 else "M"
    age = 40 + i % 26
    scr, uacr, alt, hgb, sbp = rng.uniform(1.2, 2.8), rng.uniform(30, 3000), rng.uniform(15, 45), \
        rng.uniform(9, 15), rng.uniform(105, 158)
    results, rid = [], i * 100
    for day in DAYS:
        when = injection + timedelta(days=day, hours=-2 if day == 0 else 0)
        scr = max(0.4, scr * rng.uniform(0.9, 1.15))
        uacr, alt = uacr * rng.uniform(0.8, 1.25), alt * rng.uniform(0.8, 1.3)
        hgb, sbp = hgb * rng.uniform(0.94, 1.05), sbp + rng.uniform(-10, 10)
        rows = [("creatinine", round(scr, 2), 1.04 if sex == "F" else 1.35), ("uacr", round(uacr, 1), 30),
                ("alt", round(alt), 40), ("hemoglobin", round(hgb, 1), None), ("sbp", round(sbp), None)]
        for analyte, value, uln in rows:
            rid += 1
            egfr = round(ckd_epi_2021(value, age, sex), 1) if analyte == "creatinine" else None
            results.append(LabResult(rid, analyte, value, when, uln, None, egfr))
    return ParticipantFacts(f"S{1 + i % 9:02d}-{i:05d}", injection), results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=10_000)
    args = ap.parse_args()
    rules = load_rules(ROOT / "rules" / "safety_rules.toml")
    rng = random.Random(20260105)
    data = [participant_series(i, rng) for i in range(args.participants)]
    n_results = sum(len(r) for _, r in data)

    start = time.perf_counter()
    breaches = pending = 0
    for facts, results in data:
        ev = evaluate(rules, facts, results, NOW)
        breaches += len(ev.breaches)
        pending += len(ev.pending)
    elapsed = time.perf_counter() - start

    figures = {
        "participants": args.participants,
        "results_per_participant": n_results // max(1, args.participants),
        "rules": len(rules.rules),
        "breaches": breaches,
        "pending_confirmations": pending,
        "total_seconds": round(elapsed, 3),
        "ms_per_participant": round(elapsed / args.participants * 1000, 3),
        "us_per_result": round(elapsed / n_results * 1e6, 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = ROOT / "benchmarks" / "results" / "rules.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{args.participants} participants x {figures['results_per_participant']} results, "
          f"{len(rules.rules)} rules: {elapsed:.2f} s, {figures['ms_per_participant']} ms per participant, "
          f"{breaches} breaches, {pending} pending confirmations -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
