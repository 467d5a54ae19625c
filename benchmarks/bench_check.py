"""`safety check` over 10,000 participants against one SQL scan of the same tables: the ratio.

Plain script: `python benchmarks/bench_check.py [--participants 1000,10000] [--no-cli]`. Writes
benchmarks/results/check.json: the figures at each size (the study grows from one to the next) and the growth of
the steady state's cost per participant (linear in the cohort: about 1x).

The study is built through the domain functions (participants, visits, labs, AEs, with their audit trail), in
chunks of one transaction each so building it takes a minute, not an hour. The rules folder is a copy with
ten sites and four-digit participant numbers, since the trial's own pattern allows 999 per site.
Figures: every check once as of a fixed NOW, in process (the scheduler's cost) and as the `safety check`
command (with start-up); a second run (everything already raised: the steady state); and one full read of
the participants, visits, labs and adverse_events tables, the floor any check must pay.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safety_service import create_app  # noqa: E402
from safety_service.clock import FixedClock  # noqa: E402
from safety_service.db import atomic, connect  # noqa: E402
from safety_service.domain import adverse_events, labs, participants, users  # noqa: E402
from safety_service.jobs.checks import CHECK_JOB_IDS, check_once  # noqa: E402
from safety_service.jobs.scheduler import JOBS  # noqa: E402

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
SITES = [f"S{n:02d}" for n in range(1, 11)]
CHUNK = 250
TABLES = ("participants", "visits", "labs", "adverse_events")


def bench_rules(target: Path) -> Path:
    """A copy of rules/ with ten sites and room for 9,999 participants per site."""
    shutil.copytree(ROOT / "rules", target)
    study = target / "study.toml"
    text = study.read_text()
    text = re.sub(r"subject_id_pattern = .*", "subject_id_pattern = '^S\\\\d{2}-\\\\d{4}$'", text, count=1)
    known = set(re.findall(r'code = "(S\d\d)"', text))
    extra = "".join(f'\n[[sites]]\ncode = "{s}"\nname = "Benchmark site {s}"\ncountry = "DEU"\ncountry_name = "Germany"\n' for s in SITES if s not in known)
    first_visit = text.index("[[visits]]")
    study.write_text(text[:first_visit] + extra.lstrip("\n") + "\n" + text[first_visit:])
    return target


def build(app, n: int, rng: random.Random, first: int = 0, made: dict | None = None) -> dict:
    """Participants ``first`` to ``n`` - 1 with visits, labs and AEs, through the domain functions; returns the
    counts (added to ``made``: the study grows from one measured size to the next)."""
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    db = connect(app.config["DATABASE"])
    nurses = {s: users.by_email(db, f"nurse.{s.lower()}@bench.example")
              or users.create(db, email=f"nurse.{s.lower()}@bench.example", role="nurse", site=s,
                              password="bench-password-1", now=NOW - timedelta(days=500)) for s in SITES}
    made = made or {"participants": 0, "visits": 0, "labs": 0, "adverse_events": 0}
    # Set-up only, not measured: no fsync while building (the checks below run on ordinary connections).
    db.execute("PRAGMA synchronous = OFF")
    started = time.perf_counter()
    for start in range(first, n, CHUNK):
        with atomic(db):
            for i in range(start, min(n, start + CHUNK)):
                site = SITES[i % len(SITES)]
                nurse = nurses[site]
                injected = NOW - timedelta(days=20 + (i * 37) % 420, hours=i % 9)
                at = injected + timedelta(hours=1)
                p = participants.create(db, {
                    "subject_id": f"{site}-{i // len(SITES) + 1:04d}", "site": site, "sex": "FM"[i % 2],
                    "birth_date": f"{1962 + i % 20}-0{1 + i % 9}-1{i % 9}", "weight_kg": 55 + i % 50,
                    "consent_on": (injected - timedelta(days=14)).date().isoformat(),
                    "enrolled_on": (injected - timedelta(days=10)).date().isoformat(),
                    "injection_at": injected.isoformat()}, study=rb.study, tz=tz, actor=nurse, now=at)
                made["participants"] += 1
                stored = participants.get(db, p["subject_id"], user=nurse)
                scr = rng.uniform(1.3, 2.6)
                for day, visit in ((-7, "SCREENING"), *((v.day, v.code) for v in rb.study.visits)):
                    when = injected + timedelta(days=day)
                    if when > NOW - timedelta(days=1):
                        break
                    if visit != "SCREENING" and rng.random() < 0.85:  # 15 % of due visits are never recorded
                        participants.record_visit(db, p["subject_id"], visit, when.date().isoformat(),
                                                  study=rb.study, tz=tz, actor=nurse, now=when + timedelta(hours=2))
                        made["visits"] += 1
                    scr *= rng.uniform(0.9, 1.2)
                    for analyte, value, unit in (("creatinine", round(scr, 2), "mg/dL"),
                                                 ("alt", round(rng.uniform(12, 60)), "U/L"),
                                                 ("uacr", round(rng.uniform(40, 1500)), "mg/g")):
                        rec = labs.validate({"analyte": analyte, "value": value, "unit": unit,
                                             "collected_at": when.isoformat(),
                                             "visit": None if visit == "SCREENING" else visit},
                                            stored, rb.study, tz, when + timedelta(hours=3))
                        labs.store(db, rec, stored, rules=rb.lab_rules, study=rb.study, tz=tz, actor=nurse["email"],
                                   source="csv", now=when + timedelta(hours=3), raise_alerts=False)
                        made["labs"] += 1
                if i % 8 == 0:
                    onset = injected + timedelta(days=1 + i % 15)
                    serious = i % 24 == 0
                    adverse_events.create(db, {
                        "subject_id": p["subject_id"], "term": ("Nausea", "Back pain", "Fever", "Headache")[i % 4],
                        "verbatim": "benchmark event", "grade": 3 if serious else 1 + i % 2,
                        "onset": onset.date().isoformat(), "serious": serious,
                        "seriousness": ["hospitalization"] if serious else [],
                        "relatedness_product": "unlikely", "relatedness_procedure": "possible",
                        "expected": False, "action_taken": "not_applicable", "outcome": "recovering",
                        "awareness_at": (onset + timedelta(hours=5)).isoformat()},
                        catalogue=rb.ctcae, study=rb.study, tz=tz, actor=nurse, now=onset + timedelta(hours=6))
                    made["adverse_events"] += 1
        print(f"  built {made['participants']} participants ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
              flush=True)
    db.conn.close()
    return made


def scan(db_path: str) -> float:
    """One full read of every row of the tables the checks look at (the floor under any check)."""
    db = connect(db_path)
    t0 = time.perf_counter()
    for table in TABLES:
        for _ in db.conn.execute(f"SELECT * FROM {table}"):
            pass
    elapsed = time.perf_counter() - t0
    db.conn.close()
    return elapsed


def measure(app, config: dict, rules_dir: Path, made: dict, build_s: float, cli: bool) -> dict:
    """Every figure at the study's current size: the scan, the first and steady runs, per job, the command."""
    scan_s = min(scan(config["DATABASE"]) for _ in range(3))
    t0 = time.perf_counter()
    first = check_once(app, NOW)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    check_once(app, NOW)
    again_s = time.perf_counter() - t0
    per_job = {}
    db = connect(config["DATABASE"])
    for job in JOBS:  # steady state again, one job at a time: where the time goes
        if job.id in CHECK_JOB_IDS:
            t0 = time.perf_counter()
            job.func(db, app.extensions["rulebook"], app.config, NOW)
            per_job[job.id] = round(time.perf_counter() - t0, 3)
    db.conn.close()
    raised = int(re.search(r"(\d+) alerts? raised", first[0]).group(1))
    figures = {
        **made, "build_s": round(build_s, 1), "sql_scan_s": round(scan_s, 4),
        "check_first_run_s": round(first_s, 2), "alerts_raised_first_run": raised,
        "check_steady_state_s": round(again_s, 3), "steady_state_s_per_job": per_job,
        "ratio_first_run_vs_scan": round(first_s / scan_s, 1),
        "ratio_steady_state_vs_scan": round(again_s / scan_s, 2),
        "ms_per_participant_steady_state": round(again_s / made["participants"] * 1000, 4),
        "load_average": os.getloadavg()[0],
    }
    n = made["participants"]
    print(f"study: {n} participants, {made['visits']} visits, {made['labs']} labs, "
          f"{made['adverse_events']} AEs (built in {build_s:.0f} s); load average {figures['load_average']:.2f}")
    print(f"  one SQL scan of {', '.join(TABLES)}: {scan_s * 1000:.1f} ms")
    print(f"  every check, first run ({raised} alerts raised): {first_s:.2f} s  ratio "
          f"{figures['ratio_first_run_vs_scan']}x")
    print(f"  every check, steady state (nothing new):       {again_s:.3f} s  ratio "
          f"{figures['ratio_steady_state_vs_scan']}x (target under 5x)  {figures['ms_per_participant_steady_state']} "
          "ms per participant")
    print("  steady state by job: " + ", ".join(f"{k} {v} s" for k, v in per_job.items()), flush=True)
    if cli:  # after the in-process figures are printed: a failing command does not lose them
        env = {**os.environ, "SAFETY_DATABASE": config["DATABASE"], "SAFETY_RULES_DIR": str(rules_dir),
               "SAFETY_SECRET_KEY": "bench", "SAFETY_INSTANCE_PATH": config["INSTANCE_PATH"]}
        t0 = time.perf_counter()
        done = subprocess.run([str(Path(sys.executable).with_name("safety")), "check", "--now", NOW.isoformat()],
                              env=env, capture_output=True, text=True, timeout=1800)
        cli_s = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"safety check failed: {done.stderr[-2000:]}")
        figures.update(safety_check_cli_s=round(cli_s, 2), ratio_cli_vs_scan=round(cli_s / scan_s, 1))
        print(f"  `safety check` command (with start-up):         {figures['safety_check_cli_s']:.2f} s  ratio "
              f"{figures['ratio_cli_vs_scan']}x", flush=True)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", default="1000,10000",
                    help="study sizes, smallest first (the study grows from one to the next): e.g. 1000,10000")
    ap.add_argument("--no-cli", action="store_true", help="skip the `safety check` command's run")
    args = ap.parse_args()
    sizes = sorted(int(x) for x in str(args.participants).split(","))
    workdir = Path(tempfile.mkdtemp(prefix="bench-check-"))
    rules_dir = bench_rules(workdir / "rules")
    config = {"DATABASE": str(workdir / "safety.db"), "RULES_DIR": str(rules_dir), "SECRET_KEY": "bench",
              "INSTANCE_PATH": str(workdir / "instance"), "SCHEDULER_ENABLED": False, "CLOCK": FixedClock(NOW)}
    app = create_app(config)
    rng, made, built, build_s, at = random.Random(20270301), None, 0, 0.0, {}
    for n in sizes:
        t0 = time.perf_counter()
        made = build(app, n, rng, first=built, made=made)
        build_s, built = build_s + time.perf_counter() - t0, n
        at[n] = measure(app, config, rules_dir, dict(made), build_s, cli=not args.no_cli)
    # The largest size's figures at the top (run_all's targets read them), every size under "sizes".
    figures = {**at[sizes[-1]], "sizes": at, "python": platform.python_version(), "machine": platform.machine()}
    if len(sizes) > 1:  # linear: the steady state's cost per participant stays flat as the cohort grows
        small, large = at[sizes[0]], at[sizes[-1]]
        figures["growth_per_participant_cost"] = round(
            large["ms_per_participant_steady_state"] / small["ms_per_participant_steady_state"], 2)
        print(f"steady state per participant, {sizes[-1]} vs {sizes[0]}: {figures['growth_per_participant_cost']}x "
              "(linear: about 1x or less)")
    out = ROOT / "benchmarks" / "results" / "check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
