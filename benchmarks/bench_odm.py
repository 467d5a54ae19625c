"""ODM 1.3.2 export speed: N AEs (default 100,000, the issue's size) against the sqlite3 dump of the same rows.

Run as a plain script (`python benchmarks/bench_odm.py [N]`); prints the figures and writes
benchmarks/results/odm.json. The database is the service's own schema (migrations applied), with N AEs, their first
versions and one participant per 20 AEs inserted in bulk; the ODM export is timed end to end (read, write the
file, audit entry), the dump is Python's sqlite3 iterdump (what `sqlite3 db .dump` prints) of a copy holding only
the adverse_events rows, written to a file. Target: the ODM export within 2x the dump.
"""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_exports import COLUMNS, synthetic  # noqa: E402  (the same synthetic AEs as the CSV/XPT benchmark)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)


def build(tmp: str, n: int):
    from safety_service import create_app
    from safety_service.clock import FixedClock

    app = create_app({"TESTING": True, "DATABASE": os.path.join(tmp, "bench.db"),
                      "INSTANCE_PATH": os.path.join(tmp, "instance"), "CLOCK": FixedClock(NOW),
                      "SECRET_KEY": "bench"})
    conn = sqlite3.connect(app.config["DATABASE"])
    subjects = sorted({row[1] for row in synthetic(n)})
    conn.executemany(
        "INSERT INTO participants (subject_id, site, sex, birth_date, weight_kg, consent_on, enrolled_on, "
        "injection_at, dose_cells, status, created_at, created_by) VALUES (?, ?, 'F', '1968-03-02', 72.5, "
        "'2026-01-02', '2026-01-05', '2026-01-10T09:00:00+00:00', 72500000.0, 'active', "
        "'2026-01-05T09:00:00+00:00', 'nurse_nina@example.org')",
        [(s, s[:3]) for s in subjects])
    ids = dict(conn.execute("SELECT subject_id, id FROM participants"))
    cols = [c for c in COLUMNS if c != "id"]
    rows = []
    for r in synthetic(n):
        d = dict(zip(COLUMNS, r))
        d.update(site=d["subject_id"][:3], ctcae_version="5.0", updated_by=d["created_by"],
                 participant_id=ids[d["subject_id"]])
        rows.append(d)
    # sequence numbers unique per subject, as the domain numbers them
    seen: dict[str, int] = {}
    for d in rows:
        seen[d["subject_id"]] = seen.get(d["subject_id"], 0) + 1
        d["seq"] = seen[d["subject_id"]]
    names = ["id", *cols, "ctcae_version", "updated_by", "participant_id"]
    conn.executemany(f"INSERT INTO adverse_events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [[d.get(k) for k in names] for d in rows])
    conn.execute("INSERT INTO ae_versions (ae_id, version, data, reason, changed_at, changed_by) "
                 "SELECT id, 1, '{}', NULL, created_at, created_by FROM adverse_events")
    conn.commit()
    conn.close()
    return app


def main(n: int = 100_000) -> dict:
    from safety_service.db import connect
    from safety_service.exports import odm

    with tempfile.TemporaryDirectory() as tmp:
        app = build(tmp, n)
        study = app.extensions["rulebook"].study
        dump_db = os.path.join(tmp, "ae_only.db")
        src = sqlite3.connect(app.config["DATABASE"])
        src.execute("ATTACH DATABASE ? AS only", [dump_db])
        src.execute("CREATE TABLE only.adverse_events AS SELECT * FROM adverse_events")
        src.commit()
        src.close()

        def dump():
            conn = sqlite3.connect(dump_db)
            path = os.path.join(tmp, "dump.sql")
            with open(path, "w", encoding="utf-8") as fh:
                for line in conn.iterdump():
                    fh.write(line + "\n")
            conn.close()
            return os.path.getsize(path)

        def export():
            db = connect(app.config["DATABASE"])
            path = os.path.join(tmp, "odm.xml")
            with open(path, "wb") as sink:
                f = odm.export(db, sink, {}, user=None, actor="bench", now=NOW, study=study)
            db.conn.close()
            return f.rows, os.path.getsize(path)

        start = time.perf_counter()
        dump_size = dump()
        t_dump = time.perf_counter() - start
        start = time.perf_counter()
        aes, odm_size = export()
        t_odm = time.perf_counter() - start
    assert aes == n, (aes, n)
    result = {
        "rows": n, "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "sqlite3_dump_s": round(t_dump, 3), "sqlite3_dump_bytes": dump_size,
        "odm_s": round(t_odm, 3), "odm_bytes": odm_size, "odm_vs_dump": round(t_odm / t_dump, 2),
    }
    print(f"{n} AEs ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    print(f"  sqlite3 dump : {t_dump:7.2f} s  {dump_size / 1e6:7.1f} MB")
    print(f"  ODM export   : {t_odm:7.2f} s  {odm_size / 1e6:7.1f} MB  = {t_odm / t_dump:.2f} x the dump")
    out = Path(__file__).resolve().parent / "results" / "odm.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
