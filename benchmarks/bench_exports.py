"""Export speed: 100,000 AEs to CSV and to SDTM XPT, against a plain sqlite3 dump of the same rows.

Run as a plain script (`python benchmarks/bench_exports.py [N]`); prints the figures and writes
benchmarks/results/exports.json. Each export is timed end to end: read the rows from SQLite,
build the AE dicts, write the file. The dump is Python's sqlite3 iterdump of the same table
(what `sqlite3 db .dump` prints), written to a file.
"""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safety_service.exports.csv_export import write_ae_csv  # noqa: E402
from safety_service.exports.meta import ExportMeta  # noqa: E402
from safety_service.exports.sdtm import write_ae_xpt  # noqa: E402

COLUMNS = ("id", "subject_id", "site", "seq", "term", "meddra_code", "soc", "verbatim", "grade", "serious",
           "seriousness", "relatedness_product", "relatedness_procedure", "related", "expected", "action_taken",
           "other_action", "outcome", "onset", "onset_time", "end_date", "onset_day", "end_day", "phase",
           "treatment_emergent", "awareness_at", "report_due_at", "expedited_due_at", "susar", "status", "version",
           "description", "created_at", "created_by", "updated_at", "signed_off_at", "signed_off_by",
           "report_sent_at")
TERMS = [("Flank pain", "10016750", "Musculoskeletal and connective tissue disorders"),
         ("Fever", "10016558", "General disorders and administration site conditions"),
         ("Hematuria", "10019450", "Renal and urinary disorders"),
         ("Nausea", "10028813", "Gastrointestinal disorders")]
REL = ("not_related", "unlikely", "possible", "probable", "definite")
OUT = ("recovered", "recovering", "not_recovered", "recovered_with_sequelae", "unknown")
BOOLS = ("serious", "related", "expected", "treatment_emergent", "susar")


def synthetic(n: int):
    """n deterministic AE rows as tuples in COLUMNS order (JSON for the seriousness list)."""
    injection = datetime(2026, 1, 10)
    for i in range(1, n + 1):
        term, code, soc = TERMS[i % 4]
        day = 1 + i % 360
        onset = injection + timedelta(days=day - 1)
        serious = i % 25 == 0
        yield (i, f"S{1 + i % 5:02d}-{i // 20:04d}", f"S{1 + i % 5:02d}", 1 + i % 20, term, code, soc,
               f"{term.lower()} episode {i}", 1 + i % 4, serious, json.dumps(["hospitalization"] if serious else []),
               REL[i % 5], REL[(i + 2) % 5], REL[i % 5] in ("possible", "probable", "definite"), i % 3 != 0,
               "not_applicable", "", OUT[i % 5], onset.date().isoformat(), None, None, day, None,
               "early" if day <= 7 else "late", True, f"{onset.date().isoformat()}T10:00:00+00:00", None, None,
               False, "active", 1, "", f"{onset.date().isoformat()}T10:05:00+00:00", "nurse_nina@example.org",
               f"{onset.date().isoformat()}T10:05:00+00:00", None, None, None)


def load(conn: sqlite3.Connection) -> list[dict]:
    """The rows as AE dicts (what the domain list function returns, read as it reads them: each distinct
    seriousness text parsed once, each row its own list; domain/adverse_events.py _shaped)."""
    out, criteria = [], {}
    for rec in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM adverse_events ORDER BY id"):
        row = dict(zip(COLUMNS, rec))
        raw = row["seriousness"]
        if raw not in criteria:
            criteria[raw] = json.loads(raw)
        row["seriousness"] = list(criteria[raw])
        for k in BOOLS:
            row[k] = bool(row[k])
        out.append(row)
    return out


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(n: int = 100_000) -> dict:
    meta = ExportMeta("NCT07396155", datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc), "auditor_ada@example.org")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        conn = sqlite3.connect(db)
        conn.execute(f"CREATE TABLE adverse_events ({', '.join(COLUMNS)})")
        conn.executemany(f"INSERT INTO adverse_events VALUES ({', '.join('?' * len(COLUMNS))})", synthetic(n))
        conn.commit()

        def dump():
            path = os.path.join(tmp, "dump.sql")
            with open(path, "w", encoding="utf-8") as fh:
                for line in conn.iterdump():
                    fh.write(line + "\n")
            return os.path.getsize(path)

        def export(writer, name):
            def run():
                data = writer(load(conn), meta)
                path = os.path.join(tmp, name)
                with open(path, "wb") as fh:
                    fh.write(data)
                return len(data)
            return run

        t_dump, dump_size = timed(dump)
        t_load, rows = timed(lambda: load(conn))
        del rows  # each export reads its own rows, as the service does; a second copy alive would only slow the GC
        t_csv, csv_size = timed(export(write_ae_csv, "ae.csv"))
        t_xpt, xpt_size = timed(export(write_ae_xpt, "ae.xpt"))
        conn.close()
    result = {
        "rows": n, "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),  # other processes skew absolute times, less the ratios
        "sqlite3_dump_s": round(t_dump, 3), "sqlite3_dump_bytes": dump_size,
        "load_rows_s": round(t_load, 3),
        "csv_s": round(t_csv, 3), "csv_bytes": csv_size, "csv_vs_dump": round(t_csv / t_dump, 2),
        "xpt_s": round(t_xpt, 3), "xpt_bytes": xpt_size, "xpt_vs_dump": round(t_xpt / t_dump, 2),
    }
    print(f"{n} AEs ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    print(f"  sqlite3 dump : {t_dump:7.2f} s  {dump_size / 1e6:7.1f} MB")
    print(f"  (read rows   : {t_load:7.2f} s, included in each export below)")
    print(f"  CSV export   : {t_csv:7.2f} s  {csv_size / 1e6:7.1f} MB  = {t_csv / t_dump:.2f} x the dump")
    print(f"  XPT export   : {t_xpt:7.2f} s  {xpt_size / 1e6:7.1f} MB  = {t_xpt / t_dump:.2f} x the dump")
    out = Path(__file__).resolve().parent / "results" / "exports.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
