"""AE area speed: CTCAE search per keystroke, AE creation in the domain (row, version, audit, alert in one
transaction), and the AE list with filters.

Plain script: `python benchmarks/bench_ae.py [--aes 2000]`; prints the figures and writes
benchmarks/results/ae.json. Creation goes through adverse_events.create on a real SQLite file (WAL), as the form
and the API do, so the figure includes validation, the audit chain and alerts; the bare INSERT of the same rows
is timed beside it as the floor.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safety_service import create_app  # noqa: E402
from safety_service.clock import FixedClock  # noqa: E402
from safety_service.db import connect  # noqa: E402
from safety_service.domain import adverse_events, participants, users  # noqa: E402

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
TERMS = [("Hematuria", 2), ("Flank pain", 1), ("Fever", 1), ("Nausea", 1), ("Hypertension", 2),
         ("Urinary tract infection", 2), ("Fatigue", 1), ("Hematuria", 3)]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_search(catalogue) -> dict:
    """Every prefix of every term name, as typed letter by letter."""
    queries = [t.term[:i] for t in catalogue.terms for i in range(1, len(t.term) + 1)]
    start = time.perf_counter()
    for q in queries:
        catalogue.search(q, 12)
    elapsed = time.perf_counter() - start
    return {"search_queries": len(queries), "search_mean_us": round(elapsed / len(queries) * 1e6, 1)}


def bench_create(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "DATABASE": f"{tmp}/s.db", "INSTANCE_PATH": f"{tmp}/i",
                          "SECRET_KEY": "bench", "CLOCK": FixedClock(NOW)})
        rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
        db = connect(app.config["DATABASE"])
        nurse = users.create(db, email="nurse@bench.example", role="nurse", site="S01", password="bench-password-1",
                             now=NOW)
        subjects = []
        for i in range(50):
            p = participants.create(db, {"subject_id": f"S01-{i + 1:03d}", "site": "S01", "sex": "FM"[i % 2],
                                         "birth_date": "1968-03-02", "weight_kg": 75, "consent_on": "2026-01-05",
                                         "enrolled_on": "2026-01-06", "injection_at": "2026-01-12T09:30:00+00:00"},
                                    study=rb.study, tz=tz, actor=nurse, now=NOW)
            subjects.append(p["subject_id"])
        rng = random.Random(7)
        latencies = []
        for i in range(n):
            term, grade = TERMS[i % len(TERMS)]
            onset = (datetime(2026, 1, 12) + timedelta(days=rng.randint(0, 150))).date().isoformat()
            data = {"subject_id": subjects[i % len(subjects)], "term": term, "grade": grade,
                    "verbatim": f"bench {i}", "onset": onset, "relatedness_product": "unlikely",
                    "relatedness_procedure": "possible", "outcome": "recovering"}
            if i % 40 == 0:
                data.update(serious=True, seriousness=["hospitalization"], grade=3)
            start = time.perf_counter()
            adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=tz, actor=nurse, now=NOW)
            latencies.append(time.perf_counter() - start)
        # The floor: the same rows inserted bare in one transaction.
        cols = [r[1] for r in db.execute("PRAGMA table_info(adverse_events)")]
        stored = db.execute("SELECT * FROM adverse_events").fetchall()
        db.execute("CREATE TABLE bare AS SELECT * FROM adverse_events WHERE 0")
        start = time.perf_counter()
        db.conn.execute("BEGIN")
        db.conn.executemany(f"INSERT INTO bare VALUES ({','.join('?' * len(cols))})", stored)
        db.conn.execute("COMMIT")
        bare = time.perf_counter() - start
        start = time.perf_counter()
        severe = adverse_events.list_aes(db, None, {"min_grade": "3"})
        listed = adverse_events.list_aes(db, None)
        list_s = time.perf_counter() - start
        db.conn.close()
    return {"aes": n, "create_p50_ms": round(pct(latencies, 50) * 1000, 2),
            "create_p99_ms": round(pct(latencies, 99) * 1000, 2),
            "create_mean_ms": round(statistics.mean(latencies) * 1000, 2),
            "bare_insert_per_row_ms": round(bare / n * 1000, 4),
            "list_all_and_min_grade_3_ms": round(list_s * 1000, 1), "listed": len(listed), "severe": len(severe)}


def bench_serious_growth(sizes: list[int], saves: int = 20) -> dict:
    """A serious grade-3 save (the stopping-rule and cluster checks run inside it, as through the web app) as the
    AE table grows: the median of ``saves`` saves at each size. Issue 18: within 1.5x from 20 to 10,000 AEs."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "DATABASE": f"{tmp}/s.db", "INSTANCE_PATH": f"{tmp}/i",
                          "SECRET_KEY": "bench", "CLOCK": FixedClock(NOW)})
        rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
        db = connect(app.config["DATABASE"])
        nurse = users.create(db, email="nurse@bench.example", role="nurse", site="S01", password="bench-password-1",
                             now=NOW)
        subjects = [participants.create(db, {"subject_id": f"S01-{i + 1:03d}", "site": "S01", "sex": "FM"[i % 2],
                                             "birth_date": "1968-03-02", "weight_kg": 75, "consent_on": "2026-01-05",
                                             "enrolled_on": "2026-01-06",
                                             "injection_at": "2026-01-12T09:30:00+00:00"},
                                        study=rb.study, tz=tz, actor=nurse, now=NOW)["subject_id"] for i in range(200)]
        rng, made = random.Random(11), 0
        for size in sizes:
            while made < size:  # filler: ordinary AEs saved through the domain (no app context: no checks)
                term, grade = TERMS[made % len(TERMS)]
                adverse_events.create(db, {"subject_id": subjects[made % len(subjects)], "term": term, "grade": grade,
                                           "verbatim": f"filler {made}", "relatedness_product": "unlikely",
                                           "relatedness_procedure": "unlikely", "outcome": "recovering",
                                           "onset": (datetime(2026, 1, 12) + timedelta(days=rng.randint(0, 150)))
                                           .date().isoformat()}, catalogue=rb.ctcae, study=rb.study, tz=tz,
                                      actor=nurse, now=NOW)
                made += 1
            times = []
            with app.app_context():
                for k in range(saves):
                    data = {"subject_id": subjects[k % len(subjects)], "term": "Hematuria", "grade": 3,
                            "serious": True, "seriousness": ["hospitalization"], "verbatim": f"serious at {size}",
                            "relatedness_product": "unlikely", "relatedness_procedure": "unlikely",
                            "outcome": "recovering", "onset": "2026-03-01"}
                    start = time.perf_counter()
                    adverse_events.create(db, data, catalogue=rb.ctcae, study=rb.study, tz=tz, actor=nurse, now=NOW)
                    times.append(time.perf_counter() - start)
            made += saves
            out[f"serious_save_ms_at_{size}"] = round(statistics.median(times) * 1000, 2)
        db.conn.close()
    out["serious_save_growth_ratio"] = round(out[f"serious_save_ms_at_{sizes[-1]}"] / out[f"serious_save_ms_at_{sizes[0]}"], 2)
    return out


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aes", type=int, default=2000)
    parser.add_argument("--growth", default="20,1000,10000", help="table sizes for the serious-save growth figure")
    args = parser.parse_args()
    from safety_service.domain.ctcae import load_catalogue
    out = {"python": platform.python_version(), "machine": platform.machine(),
           **bench_search(load_catalogue(ROOT / "rules" / "ctcae.toml")), **bench_create(args.aes),
           **bench_serious_growth([int(s) for s in args.growth.split(",")])}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "ae.json").write_text(json.dumps(out, indent=2) + "\n")
    for k, v in out.items():
        print(f"{k:32} {v}")
    return out


if __name__ == "__main__":
    main()
