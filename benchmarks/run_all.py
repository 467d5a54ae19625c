"""Run every benchmark of the team (`make bench`), print one table and write benchmarks/results/all.json.

Plain script: `python benchmarks/run_all.py [--only http,check] [--quick]`. Each benchmark is its own script
(bench_*.py) that writes benchmarks/results/<name>.json; this runs them one after the other (never together:
they would measure each other on a 2-core machine), reads their JSON and puts the figures side by side, ratios
and targets first. A benchmark that fails is reported and the others still run; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# name -> (script, arguments for --quick). Default sizes are the ones the issues ask for.
BENCHMARKS = {
    "http": ("bench_http.py", ["--seconds", "5", "--creates", "50"]),
    "check": ("bench_check.py", ["--participants", "300,600"]),
    "rules": ("bench_rules.py", ["--participants", "500"]),
    "exports": ("bench_exports.py", []),
    "odm": ("bench_odm.py", ["2000"]),  # CDISC ODM 1.3.2 export vs sqlite3 dump (issue 14)
    "dashboard": ("bench_dashboard.py", ["--repeat", "2"]),
    "ae": ("bench_ae.py", ["--aes", "200"]),
    "mail": ("bench_mail.py", ["--participants", "500", "--mails", "200"]),
    "signals": ("bench_signals.py", ["--repeat", "1"]),
    "startup": ("bench_startup.py", ["--repeat", "2"]),
    "sdtm": ("bench_sdtm.py", ["--participants", "200"]),
}
TIMEOUT_S = 1800
AE_CREATE_P99_TARGET_MS = 100  # issue 9: p99 of AE creation under 100 ms on these 2-core machines
SKIP_KEYS = {"python", "machine", "statuses", "cpus"}
# The speed targets (issue 18 and the formats' issues): (benchmark, dotted figure, "<" or "<=", target, what).
# `make bench` ends with one pass/miss line each; a figure a benchmark did not produce is "not measured".
TARGETS = [
    ("startup", "help_ms", "<", 500, "`safety --help` (ms)"),
    ("startup", "token_create_ms", "<", 500, "`safety token create` (ms)"),
    ("startup", "check_empty_ms", "<", 1000, "`safety check` fixed cost (ms)"),
    ("startup", "mail_send_empty_ms", "<", 1000, "`safety mail send` fixed cost (ms)"),
    ("startup", "digest_empty_ms", "<", 1000, "`safety digest` fixed cost (ms)"),
    ("dashboard", "signals_page.median_ms", "<", 100, "/signals/ on the demo, warm (ms)"),
    ("dashboard", "signals_change_page.median_ms", "<", 100, "/signals/change on the demo, warm (ms)"),
    ("dashboard", "signals_dsmb_page.median_ms", "<", 100, "/signals/dsmb on the demo, warm (ms)"),
    ("dashboard", "dashboard_page.median_ms", "<", 100, "dashboard, 500 participants (ms)"),
    ("http", "load_ae_create_p99_ms", "<", 100, "AE create p99, 8 clients (ms)"),
    ("http", "load_pages_p99_max_ms", "<", 300, "worst other route p99, 8 clients (ms)"),
    ("ae", "serious_save_growth_ratio", "<=", 1.5, "serious AE save, 10,000 vs 20 AEs (x)"),
    ("check", "ratio_steady_state_vs_scan", "<", 5, "`safety check` steady state vs one SQL scan (x)"),
    ("check", "growth_per_participant_cost", "<", 1.5,
     "`safety check` steady state per participant, largest vs smallest cohort (x; linear about 1)"),
    ("exports", "csv_vs_dump", "<", 2, "CSV of 100,000 AEs vs sqlite3 dump (x)"),
    ("exports", "xpt_vs_dump", "<", 2, "XPT of 100,000 AEs vs sqlite3 dump (x)"),
    ("odm", "odm_vs_dump", "<", 2, "ODM 1.3.2 of 100,000 AEs vs sqlite3 dump (x)"),
    ("signals", "dsmb_pdf_ms", "<", 3000, "DSMB PDF, 300 participants (ms)"),
    ("sdtm", "package_vs_dump", "<", 3, "SDTM package, 1,000 participants vs sqlite3 dump (x)"),
]


def flatten(data, prefix: str = "") -> list[tuple[str, object]]:
    """Nested JSON figures as (dotted name, value) rows, in file order."""
    out: list[tuple[str, object]] = []
    for key, value in data.items():
        if key in SKIP_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten(value, name + ".")
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out.append((name, value))
    return out


def run(name: str, quick: bool) -> dict:
    script, quick_args = BENCHMARKS[name]
    path = HERE / script
    if not path.exists():
        return {"status": "missing", "seconds": 0}
    result_file = RESULTS / f"{name}.json"
    before = result_file.stat().st_mtime if result_file.exists() else None
    print(f"== {script} {' '.join(quick_args) if quick else ''}".rstrip(), flush=True)
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(path), *(quick_args if quick else [])], cwd=HERE.parent,
                              timeout=TIMEOUT_S, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    seconds = round(time.perf_counter() - started, 1)
    fresh = result_file.exists() and result_file.stat().st_mtime != before
    if code != 0 or not fresh:
        return {"status": f"failed ({code})" if code != 0 else "failed (no new results file)", "seconds": seconds}
    return {"status": "ok", "seconds": seconds, "figures": json.loads(result_file.read_text())}


def headline(results: dict) -> list[tuple[str, str]]:
    """The figures the issue asks for: every ratio, and the AE creation target."""
    rows = []
    for name, r in results.items():
        for key, value in flatten(r.get("figures", {})):
            if "ratio" in key or key.endswith("_vs_dump") or key.endswith("_vs_bare"):
                rows.append((f"{name}: {key}", f"{value}x"))
    ae = results.get("ae", {}).get("figures")
    if ae and ae.get("bare_insert_per_row_ms"):
        rows.append(("ae: domain create mean vs bare insert (ratio)",
                     f"{round(ae['create_mean_ms'] / ae['bare_insert_per_row_ms'], 1)}x"))
    http = results.get("http", {}).get("figures")
    if http:
        for key in ("sequential_ae_create_p99_ms", "load_ae_create_p99_ms"):
            value = http.get(key)
            if value is not None:
                verdict = "meets" if value < AE_CREATE_P99_TARGET_MS else "MISSES"
                rows.append((f"http: {key}", f"{value} ms ({verdict} the {AE_CREATE_P99_TARGET_MS} ms target)"))
        rows.append(("http: AEs acknowledged / stored / lost / duplicated",
                     f"{http['aes_acknowledged']} / {http['aes_stored']} / {http['aes_lost']} / "
                     f"{http['aes_duplicated']}"))
    return rows


def _figure(results: dict, name: str, key: str):
    figures = results.get(name, {}).get("figures") or {}
    if name == "http" and key == "load_pages_p99_max_ms" and "routes" in figures:
        p99 = [r["p99_ms"] for label, r in figures["routes"].items() if label != "POST /api/v1/adverse-events"]
        return max(p99) if p99 else None
    return dict(flatten(figures)).get(key)


def verdicts(results: dict) -> list[tuple[str, str]]:
    """One line per target: the figure, the target, and whether it is met."""
    rows = []
    for name, key, op, target, what in TARGETS:
        value = _figure(results, name, key)
        if value is None:
            rows.append((what, f"not measured ({name}: {key})"))
            continue
        ok = value < target if op == "<" else value <= target
        rows.append((what, f"{value} (target {op} {target}): {'meets' if ok else 'MISSES'}"))
    return rows


def markdown(results: dict) -> str:
    """The targets of one full run as a Markdown table, with when, where and how loaded the machine was."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = ["# Benchmark results (`make bench`)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()}: {os.cpu_count()} CPUs, "
             f"{platform.machine()}, Python {platform.python_version()}; load average at the end {load} "
             "(1, 5, 15 minutes). Every benchmark ran alone, one after the other; the JSON of each is beside this "
             "file when the run is local (not kept in git).", "",
             "| target | figure (target): verdict |", "| --- | --- |"]
    lines += [f"| {label} | {value} |" for label, value in verdicts(results)]
    lines += ["", "| benchmark | wall time (s) | status |", "| --- | --- | --- |"]
    lines += [f"| {name} | {r['seconds']} | {r['status']} |" for name, r in results.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="comma-separated names: " + ", ".join(BENCHMARKS))
    ap.add_argument("--quick", action="store_true", help="small sizes, to check that every benchmark runs")
    ap.add_argument("--report", action="store_true", help="run nothing: tabulate the results files already there")
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")

    if args.report:
        results = {name: ({"status": "ok", "seconds": 0, "figures": json.loads((RESULTS / f"{name}.json").read_text())}
                          if (RESULTS / f"{name}.json").exists() else {"status": "missing", "seconds": 0})
                   for name in names}
    else:
        results = {name: run(name, args.quick) for name in names}

    print("\n" + "=" * 100)
    print(f"Benchmarks on {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})"
          f"{' QUICK sizes' if args.quick else ''}")
    print("-" * 100)
    for label, value in headline(results):
        print(f"  {label:60} {value}")
    print("-" * 100)
    print(f"  {'benchmark':10} {'figure':60} value")
    for name, r in results.items():
        if r["status"] != "ok":
            print(f"  {name:10} {'(' + r['status'] + ')':60}")
            continue
        for key, value in flatten(r["figures"]):
            print(f"  {name:10} {key:60} {value}")
        print(f"  {name:10} {'(benchmark wall time, s)':60} {r['seconds']}")
    print("-" * 100)
    print(f"  Targets (load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")
    for label, value in verdicts(results):
        print(f"  {label:60} {value}")
    print("=" * 100)

    summary = {"targets": dict(verdicts(results)), "load_average": os.getloadavg(), "quick": args.quick,
               "cpus": os.cpu_count(), "python": platform.python_version(),
               "headline": dict(headline(results)), "benchmarks": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "all.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {(RESULTS / 'all.json').relative_to(HERE.parent)}")
    if not args.quick and not args.report and set(names) == set(BENCHMARKS):
        (RESULTS / "RESULTS.md").write_text(markdown(results), encoding="utf-8")  # the record kept in git
        print(f"wrote {(RESULTS / 'RESULTS.md').relative_to(HERE.parent)}")
    return 0 if all(r["status"] == "ok" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
