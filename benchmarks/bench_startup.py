"""How long the `safety` command takes to start: `--help`, `token create`, and each scheduled command's fixed cost.

`python benchmarks/bench_startup.py [--repeat 5]`. Each run is a fresh process on a fresh database (as a cron job
or a shell user would start it); the median is reported. Writes benchmarks/results/startup.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAFETY = Path(sys.executable).parent / "safety"


def timed(args: list[str], env: dict, repeat: int, stdin: str | None = None) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run([str(SAFETY), *args], env=env, capture_output=True, text=True, input=stdin, timeout=120)
        runs.append((time.perf_counter() - t) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"safety {' '.join(args)} failed: {done.stderr.strip()}")
    return round(statistics.median(runs), 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    env = {**os.environ, "SAFETY_DATABASE": str(home / "safety.db"), "SAFETY_INSTANCE_PATH": str(home / "instance")}
    subprocess.run([str(SAFETY), "init-db"], env=env, check=True, capture_output=True)
    subprocess.run([str(SAFETY), "user", "add", "bench@example.org", "--role", "safety_officer", "--password-stdin"],
                   env=env, check=True, capture_output=True, text=True, input="a long bench passphrase 42\n")
    now = "--now=2026-06-15T10:00:00+00:00"
    figures = {
        "help_ms": timed(["--help"], env, args.repeat),
        "token_create_ms": timed(["token", "create", "bench@example.org"], env, args.repeat),
        "check_empty_ms": timed(["check", now], env, args.repeat),
        "mail_send_empty_ms": timed(["mail", "send", now], env, args.repeat),
        "digest_empty_ms": timed(["digest", now], env, args.repeat),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    out = ROOT / "benchmarks" / "results" / "startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=1))
    for k, v in figures.items():
        print(f"{k:22} {v}")


if __name__ == "__main__":
    main()
