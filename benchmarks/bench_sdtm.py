"""SDTM package speed (issue 19): the whole package for N participants against a sqlite3 dump of the same tables.

Run as a plain script (`python benchmarks/bench_sdtm.py [--participants N]`); prints the figures and writes
benchmarks/results/sdtm.json. The study is synthetic and deterministic: per participant 5 follow-up visits, 8 lab
analytes at screening, injection day and each visit (creatinine with its eGFR), 3 AEs, 2 con-meds and 2 history
entries, written straight into a migrated database. The package is timed end to end (one read snapshot, every
dataset, define.xml, the guide, the zip; the fastest of --repeat runs, as is the dump); the dump is Python's sqlite3 iterdump (what `sqlite3 db .dump` prints)
of a database holding the same six tables, written to a file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safety_service import create_app  # noqa: E402
from safety_service.domain.egfr import ckd_epi_2021  # noqa: E402
from safety_service.exports.meta import ExportMeta  # noqa: E402
from safety_service.exports.submission import domains, package  # noqa: E402

TABLES = ("participants", "visits", "labs", "adverse_events", "conmeds", "medical_history")
NOW = datetime(2027, 6, 1, 9, 0, tzinfo=timezone.utc)
LABS = (("creatinine", 1.6, "mg/dL", 0.7, 1.3), ("uacr", 250.0, "mg/g", 0, 30), ("alt", 25.0, "U/L", 7, 45),
        ("ast", 24.0, "U/L", 8, 40), ("hemoglobin", 12.5, "g/dL", 12.0, 15.5), ("potassium", 4.6, "mmol/L", 3.5, 5.0),
        ("hba1c", 7.4, "%", 4.0, 5.6), ("tnf_alpha", 6.0, "pg/mL", 0, 8.1))
AES = (("Flank pain", "10016750", "Musculoskeletal and connective tissue disorders"),
       ("Fever", "10016558", "General disorders and administration site conditions"),
       ("Hematuria", "10019450", "Renal and urinary disorders"), ("Nausea", "10028813", "Gastrointestinal disorders"))
VISITS = (("M1", 30), ("M3", 91), ("M6", 182), ("M9", 273), ("M12", 365))


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def populate(db, n: int) -> None:
    """n participants with their visits, labs, AEs, con-meds and history (direct inserts, deterministic)."""
    conn = db.conn
    cols = {r[1] for r in conn.execute("PRAGMA table_info(labs)")}
    start = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    people, visits, labs, aes, cms, mhs = [], [], [], [], [], []
    for i in range(n):
        site = f"S0{1 + i % 3}"
        sid = f"{site}-{i // 3 + 1:03d}"
        injection = start + timedelta(days=i % 120, hours=1)
        sex = "FM"[i % 2]
        people.append((i + 1, sid, site, sex, f"{1960 + i % 20}-03-0{1 + i % 9}", 60 + i % 40,
                       (injection - timedelta(days=10)).date().isoformat(),
                       (injection - timedelta(days=7)).date().isoformat(), _iso(injection), 1e6 * (60 + i % 40),
                       "active", _iso(start), "nurse@example.org"))
        times = [("SCR", injection - timedelta(days=8)), ("D0", injection - timedelta(hours=2))]
        for code, day in VISITS:
            when = injection + timedelta(days=day)
            visits.append((i + 1, code, when.date().isoformat(), _iso(when), "nurse@example.org"))
            times.append((code, when))
        for k, (code, when) in enumerate(times):
            for a, (analyte, base, unit, lo, hi) in enumerate(LABS):
                value = round(base * (1 + ((i + k + a) % 7 - 3) / 20), 2)
                egfr = ckd_epi_2021(value, 55, sex) if analyte == "creatinine" else None
                labs.append((i + 1, sid, site, analyte, value, unit, value, unit, egfr, None, None, hi, lo, "study",
                             code, _iso(when + timedelta(minutes=a)), "demo", _iso(when), "nurse@example.org"))
        for j in range(3):
            term, code, soc = AES[(i + j) % 4]
            onset = (injection + timedelta(days=1 + 40 * j + i % 30)).date()
            day = (onset - injection.date()).days + 1
            aes.append((i + 1, sid, site, j + 1, term, code, soc, "5.0", term.lower(), 1 + (i + j) % 3, 0, "[]",
                        "not_related", "possible", 1, 1, "not_applicable", "recovered", onset.isoformat(),
                        (onset + timedelta(days=3)).isoformat(), day, day + 3, "early" if day <= 30 else "late", 1,
                        _iso(injection + timedelta(days=day)), 0, "active", 1, _iso(start), "nurse@example.org",
                        _iso(start), "nurse@example.org"))
        for j, (name, route) in enumerate((("Ramipril", "oral"), ("Metformin", "oral"))):
            cms.append((i + 1, sid, site, j + 1, name, 5.0, "mg", route, "Diabetic nephropathy", "2019-05", None, 1,
                        "active", 1, _iso(start), "nurse@example.org", _iso(start), "nurse@example.org"))
        for j, (cond, onset) in enumerate((("Type 2 diabetes mellitus", "2011"), ("Hypertension", "2015-03"))):
            mhs.append((i + 1, sid, site, j + 1, cond, onset, 1, "active", 1, _iso(start), "nurse@example.org",
                        _iso(start), "nurse@example.org"))
    with conn:
        conn.executemany("INSERT INTO participants (id, subject_id, site, sex, birth_date, weight_kg, consent_on, "
                         "enrolled_on, injection_at, dose_cells, status, created_at, created_by) VALUES "
                         "(?,?,?,?,?,?,?,?,?,?,?,?,?)", people)
        conn.executemany("INSERT INTO visits (participant_id, visit, visit_date, recorded_at, recorded_by) "
                         "VALUES (?,?,?,?,?)", visits)
        conn.executemany("INSERT INTO labs (participant_id, subject_id, site, analyte, value, unit, value_si, unit_si, "
                         "egfr, ctcae_term, ctcae_grade, uln, lln, range_source, visit, collected_at, source, "
                         "entered_at, entered_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", labs)
        conn.executemany("INSERT INTO adverse_events (participant_id, subject_id, site, seq, term, meddra_code, soc, "
                         "ctcae_version, verbatim, grade, serious, seriousness, relatedness_product, "
                         "relatedness_procedure, related, expected, action_taken, outcome, onset, end_date, "
                         "onset_day, end_day, phase, treatment_emergent, awareness_at, susar, status, version, "
                         "created_at, created_by, updated_at, updated_by) VALUES "
                         "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", aes)
        conn.executemany("INSERT INTO conmeds (participant_id, subject_id, site, seq, name, dose, unit, route, "
                         "indication, start_date, stop_date, ongoing, status, version, created_at, created_by, "
                         "updated_at, updated_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", cms)
        conn.executemany("INSERT INTO medical_history (participant_id, subject_id, site, seq, condition, onset, "
                         "ongoing, status, version, created_at, created_by, updated_at, updated_by) VALUES "
                         "(?,?,?,?,?,?,?,?,?,?,?,?,?)", mhs)
    assert "status" not in cols or conn.execute("SELECT COUNT(*) FROM labs WHERE status = 'valid'").fetchone()[0]


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the fastest counts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE": os.path.join(tmp, "bench.db"), "TESTING": True, "SCHEDULER_ENABLED": False})
        rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
        from safety_service.db import connect

        db = connect(app.config["DATABASE"])
        populate(db, args.participants)
        counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
        copy = sqlite3.connect(os.path.join(tmp, "tables.db"))  # the same six tables, nothing else
        for t in TABLES:
            sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [t]).fetchone()[0]
            copy.execute(sql)
            rows = db.execute(f"SELECT * FROM {t}").fetchall()
            if rows:
                copy.executemany(f"INSERT INTO {t} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        copy.commit()

        def dump():
            path = os.path.join(tmp, "dump.sql")
            with open(path, "w", encoding="utf-8") as fh:
                for line in copy.iterdump():
                    fh.write(line + "\n")
            return os.path.getsize(path)

        def build():
            meta = ExportMeta(rb.study.study_id, NOW, "bench")
            pkg = package.make_package(domains.read(db, None), study=rb.study, tz=tz, meta=meta, catalogue=rb.ctcae)
            data = pkg.zip(meta.exported_at_utc)
            out = os.path.join(tmp, "sdtm")
            os.makedirs(out, exist_ok=True)
            for name, b in pkg.files.items():
                Path(out, name).write_bytes(b)
            Path(tmp, "sdtm.zip").write_bytes(data)
            return pkg, len(data)

        import numpy  # noqa: F401  (imported once by any process that writes XPT; not the package's cost)

        t_dump = t_pkg = float("inf")
        for _ in range(args.repeat):  # best of n: the machine is shared, the minimum is the least disturbed run
            t0 = time.perf_counter()
            dump_size = dump()
            t_dump = min(t_dump, time.perf_counter() - t0)
            for cached in (domains._local, domains._dtc, domains._range_text, domains._test, domains._num_text):
                cached.cache_clear()  # every run starts cold, as a new `safety export sdtm` process does
            t0 = time.perf_counter()
            pkg, zip_size = build()
            t_pkg = min(t_pkg, time.perf_counter() - t0)
        copy.close()
    result = {
        "participants": args.participants, "repeat": args.repeat, "rows": counts, "records": pkg.rows,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "sqlite3_dump_s": round(t_dump, 3), "sqlite3_dump_bytes": dump_size,
        "package_s": round(t_pkg, 3), "package_zip_bytes": zip_size, "package_vs_dump": round(t_pkg / t_dump, 2),
    }
    print(f"{args.participants} participants, {sum(counts.values())} rows in {len(TABLES)} tables "
          f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    print(f"  sqlite3 dump  : {t_dump:7.2f} s  {dump_size / 1e6:7.1f} MB")
    print(f"  SDTM package  : {t_pkg:7.2f} s  {zip_size / 1e6:7.1f} MB zip  = {t_pkg / t_dump:.2f} x the dump")
    print(f"  records       : {', '.join(f'{k} {v}' for k, v in pkg.rows.items())}")
    out = Path(__file__).resolve().parent / "results" / "sdtm.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
