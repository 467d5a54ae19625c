"""AE creation through the full HTTP stack against bare SQLite inserts, and latency under 8 concurrent clients.

Plain script: `python benchmarks/bench_http.py [--seconds 30] [--clients 8] [--workers 4] [--creates 300]`.
Writes benchmarks/results/http.json.

1. The app runs under gunicorn (several workers, loopback only, scheduler off as in production). One client
   creates ``--creates`` AEs over the JSON API (token auth, validation, CTCAE grading, audit, alerts); the
   same number of rows is then inserted bare into a copy of the table, one transaction each, on the same
   disk with the same pragmas. The ratio is what the whole stack costs per AE.
2. ``--clients`` threads then hit the main pages and API routes (reads, and AE creation by the nurses) for
   ``--seconds``; p50/p99 latency per route is printed. They sign in with requests, then send over plain
   http.client (``Light``) so the load generator takes little of the CPU the server is measured on.
3. Every AE acknowledged (201) is counted against what is stored: none lost, none doubled.
All traffic goes to 127.0.0.1; every loop is bounded in time and count, and the server is stopped at the end.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safety_service import create_app  # noqa: E402
from safety_service.db import atomic, connect  # noqa: E402
from safety_service.domain import participants, users  # noqa: E402

PASSWORD = "bench-password-123"
SUBJECTS = [f"S01-{i:03d}" for i in range(1, 41)]
MAX_REQUESTS_PER_CLIENT = 200_000  # a bound besides the time limit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def prepare(workdir: Path) -> tuple[dict, dict]:
    """A migrated database with the personas, their tokens and 40 injected participants at site S01."""
    env = {"SAFETY_DATABASE": str(workdir / "safety.db"), "SAFETY_SECRET_KEY": "bench-secret-key",
           "SAFETY_INSTANCE_PATH": str(workdir / "instance"), "SAFETY_SCHEDULER_ENABLED": "false",
           "SAFETY_SMTP_HOST": ""}
    app = create_app({"DATABASE": env["SAFETY_DATABASE"], "SECRET_KEY": env["SAFETY_SECRET_KEY"],
                      "INSTANCE_PATH": env["SAFETY_INSTANCE_PATH"], "SCHEDULER_ENABLED": False})
    now = datetime.now(timezone.utc)
    db = connect(env["SAFETY_DATABASE"])
    people = {}
    for name, role, site in (("nurse", "nurse", "S01"), ("nurse2", "nurse", "S01"), ("ivan", "investigator", "S01"),
                             ("sam", "safety_officer", None), ("ada", "auditor", None)):
        people[name] = users.create(db, email=f"{name}@bench.example", role=role, site=site, password=PASSWORD,
                                    now=now)
    injected = now - timedelta(days=60)
    for sid in SUBJECTS:
        participants.create(db, {"subject_id": sid, "site": "S01", "sex": "F" if int(sid[-3:]) % 2 else "M",
                                 "birth_date": "1966-05-04", "weight_kg": 70 + int(sid[-2:]) % 20,
                                 "consent_on": (injected - timedelta(days=10)).date().isoformat(),
                                 "enrolled_on": (injected - timedelta(days=7)).date().isoformat(),
                                 "injection_at": injected.isoformat()},
                            study=app.extensions["rulebook"].study, tz=app.config["TIMEZONE"],
                            actor=people["nurse"], now=now)
    tokens = {name: users.create_token(db, p["email"], now=now) for name, p in people.items()}
    db.conn.close()
    return env, tokens


def start_server(env: dict, workers: int, threads: int, port: int, workdir: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--threads", str(threads),
           "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "--error-logfile", str(workdir / "error.log"),
           "--timeout", "60", "--preload", "safety_service.wsgi:app"]  # as docs/DEPLOYMENT.md runs it
    log = open(workdir / "access.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:  # not listening yet, or workers still booting
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"gunicorn did not answer on port {port}; see {workdir / 'error.log'}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_cpu_s(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system) of the gunicorn master and its workers so far, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [proc.pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    except OSError:
        return float("nan")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / tick


def ae_body(subject_id: str, marker: str, n: int) -> dict:
    onset = (datetime.now(timezone.utc) - timedelta(days=1 + n % 20)).date().isoformat()
    severe = n % 10 == 9  # one in ten is grade 3: the alert (and mail queueing) path runs too
    return {"subject_id": subject_id, "term": ("Nausea", "Headache", "Fatigue", "Back pain")[n % 4],
            "verbatim": marker, "grade": 3 if severe else 1 + n % 2, "onset": onset, "serious": False,
            "relatedness_product": ("not_related", "unlikely", "possible")[n % 3],
            "relatedness_procedure": "not_related", "expected": False, "action_taken": "not_applicable",
            "outcome": "recovering"}


def web_session(base: str, email: str) -> requests.Session:
    """A browser-like session: the sign-in form with its CSRF token."""
    s = requests.Session()
    page = s.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
               allow_redirects=False, timeout=10)
    if r.status_code != 302:
        raise SystemExit(f"sign-in of {email} failed: {r.status_code}")
    return s


class Light:
    """One persona's requests over plain http.client, with the cookie or token of a signed-in requests.Session.

    The load generator shares the machine's two cores with the server it measures; requests' own work per call
    (about 1 ms of CPU, under one GIL for all the client threads) was a fifth of the CPU the load used.
    """

    def __init__(self, base: str, session: requests.Session):
        url = urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.headers = {k: v for k, v in session.headers.items() if k == "Authorization"}
        cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        if cookies:
            self.headers["Cookie"] = cookies

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            headers, data = dict(self.headers), None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


def sequential_creates(base: str, token: str, n: int) -> tuple[list[float], list[int]]:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    latencies, ids = [], []
    for i in range(n):
        body = ae_body(SUBJECTS[i % len(SUBJECTS)], f"bench-seq-{i}", i)
        t0 = time.perf_counter()
        r = s.post(f"{base}/api/v1/adverse-events", json=body, timeout=30)
        latencies.append(time.perf_counter() - t0)
        if r.status_code != 201:
            raise SystemExit(f"AE creation answered {r.status_code}: {r.text[:500]}")
        ids.append(r.json()["id"])
    return latencies, ids


def bare_inserts(db_path: str, n: int) -> float:
    """The same rows inserted bare, one transaction each (as the app commits each AE), same pragmas."""
    db = connect(db_path)
    db.execute("DROP TABLE IF EXISTS bench_bare_ae")
    db.execute("CREATE TABLE bench_bare_ae AS SELECT * FROM adverse_events WHERE 0")
    rows = [r for r in db.execute("SELECT * FROM adverse_events WHERE verbatim LIKE 'bench-seq-%' ORDER BY id")]
    cols = len(rows[0])
    sql = f"INSERT INTO bench_bare_ae VALUES ({','.join('?' * cols)})"
    t0 = time.perf_counter()
    for i in range(n):
        with atomic(db):
            db.execute(sql, rows[i % len(rows)])
    elapsed = time.perf_counter() - t0
    db.execute("DROP TABLE bench_bare_ae")
    db.conn.close()
    return elapsed


def routes(base: str) -> list[tuple[str, str, str, str]]:
    """(label, persona, method, path): the main pages by session, the API by token."""
    sid = SUBJECTS[0]
    return [
        ("GET / (home)", "web:nurse", "GET", "/"),
        ("GET /participants", "web:nurse", "GET", "/participants"),
        ("GET /participants/<id>", "web:nurse", "GET", f"/participants/{sid}"),
        ("GET /alerts", "web:sam", "GET", "/alerts"),
        ("GET /dashboard", "web:sam", "GET", "/dashboard"),
        ("GET /signals/", "web:sam", "GET", "/signals/"),
        ("GET /api/v1/participants", "api:ivan", "GET", "/api/v1/participants"),
        ("GET /api/v1/participants/<id>", "api:ivan", "GET", f"/api/v1/participants/{sid}"),
        ("GET /api/v1/adverse-events", "api:sam", "GET", "/api/v1/adverse-events?min_grade=3"),
        ("GET /api/v1/alerts", "api:sam", "GET", "/api/v1/alerts?status=open"),
        ("POST /api/v1/adverse-events", "api:nurse", "POST", "/api/v1/adverse-events"),
    ]


class Client(threading.Thread):
    """One of the concurrent users: walks the route list round-robin until the time is up."""

    def __init__(self, n: int, base: str, plan: list, sessions: dict, until: float):
        super().__init__(daemon=True)
        self.n, self.base, self.plan, self.sessions, self.until = n, base, plan, sessions, until
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.acknowledged: list[tuple[int, str]] = []

    def run(self) -> None:
        i = 0
        while time.monotonic() < self.until and i < MAX_REQUESTS_PER_CLIENT:
            label, persona, method, path = self.plan[(i + self.n) % len(self.plan)]
            session = self.sessions[(persona, self.n)]
            body = None
            if method == "POST":
                body = ae_body(SUBJECTS[(i * 7 + self.n) % len(SUBJECTS)], f"bench-load-{self.n}-{i}", i)
            t0 = time.perf_counter()
            try:
                code, data = session.request(method, path, body)
            except (OSError, http.client.HTTPException):
                code, data = 0, b""
            self.latency[label].append(time.perf_counter() - t0)
            self.status[label][code] += 1
            if method == "POST" and code == 201:
                self.acknowledged.append((json.loads(data)["id"], body["verbatim"]))
            i += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--creates", type=int, default=300)
    ap.add_argument("--out", default="", help="results file name under benchmarks/results (default http.json)")
    ap.add_argument("--skip", default="", help="comma-separated route labels (or parts) to leave out of the load")
    args = ap.parse_args()
    skip = [s.strip() for s in args.skip.split(",") if s.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    env, tokens = prepare(workdir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, args.workers, args.threads, port, workdir)
    try:
        # 1. sequential AE creation through HTTP, then the same number of bare inserts
        t0 = time.perf_counter()
        seq_latency, seq_ids = sequential_creates(base, tokens["nurse"], args.creates)
        http_total = time.perf_counter() - t0
        bare_total = bare_inserts(env["SAFETY_DATABASE"], args.creates)

        # 2. concurrent load on pages and API routes
        plan = []
        probe = {"web:nurse": web_session(base, "nurse@bench.example"), "web:sam": web_session(base, "sam@bench.example")}
        for label, persona, method, path in routes(base):
            if any(part in label for part in skip):
                continue
            if persona.startswith("web:"):
                code = probe[persona].get(base + path, allow_redirects=False, timeout=30).status_code
            elif method == "GET":
                code = requests.get(base + path, headers={"Authorization": f"Bearer {tokens[persona[4:]]}"},
                                    timeout=30).status_code
            else:
                code = 200
            if code == 200:
                plan.append((label, persona, method, path))
            else:
                print(f"skipped {label}: answered {code} before the run", file=sys.stderr)
        sessions = {}
        for n in range(args.clients):
            for persona in {p for _, p, _, _ in plan}:
                kind, who = persona.split(":")
                if kind == "web":
                    s = web_session(base, f"{who}@bench.example")
                else:
                    s = requests.Session()
                    s.headers["Authorization"] = f"Bearer {tokens['nurse2' if who == 'nurse' and n % 2 else who]}"
                sessions[(persona, n)] = Light(base, s)
        until = time.monotonic() + args.seconds
        clients = [Client(n, base, plan, sessions, until) for n in range(args.clients)]
        started = time.perf_counter()
        cpu_before, server_before = time.process_time(), server_cpu_s(server)
        for c in clients:
            c.start()
        for c in clients:
            c.join(args.seconds + 120)
        wall = time.perf_counter() - started
        client_cpu, server_cpu = time.process_time() - cpu_before, server_cpu_s(server) - server_before
    finally:
        stop_server(server)

    # 3. acknowledged against stored
    acknowledged = [a for c in clients for a in c.acknowledged] + [(i, f"bench-seq-{n}") for n, i in enumerate(seq_ids)]
    db = sqlite3.connect(env["SAFETY_DATABASE"])
    stored = db.execute("SELECT id, verbatim FROM adverse_events WHERE verbatim LIKE 'bench-%'").fetchall()
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    ack_set, stored_set = set(acknowledged), set(stored)
    markers = [v for _, v in stored]
    lost = len(ack_set - stored_set)
    duplicated = len(markers) - len(set(markers))
    unacknowledged_but_stored = len(stored_set - ack_set)

    per_route = {}
    for label, *_ in plan:
        lat = [x for c in clients for x in c.latency.get(label, [])]
        codes: dict[int, int] = defaultdict(int)
        for c in clients:
            for code, k in c.status.get(label, {}).items():
                codes[code] += k
        per_route[label] = {"requests": len(lat), "p50_ms": round(percentile(lat, 50) * 1000, 1),
                            "p99_ms": round(percentile(lat, 99) * 1000, 1),
                            "errors": sum(k for code, k in codes.items() if code >= 400 or code == 0),
                            "statuses": {str(k): v for k, v in sorted(codes.items())}}
    total_requests = sum(r["requests"] for r in per_route.values())
    figures = {
        "gunicorn_workers": args.workers, "gunicorn_threads": args.threads, "clients": args.clients,
        "seconds": args.seconds, "ae_creates": args.creates, "skipped_routes": ", ".join(skip),
        "http_ae_create_total_s": round(http_total, 3), "bare_insert_total_s": round(bare_total, 4),
        "http_vs_bare_ratio": round(http_total / bare_total, 1),
        "sequential_ae_create_p50_ms": round(percentile(seq_latency, 50) * 1000, 1),
        "sequential_ae_create_p99_ms": round(percentile(seq_latency, 99) * 1000, 1),
        "load_requests": total_requests, "load_requests_per_s": round(total_requests / wall, 1),
        # where the two cores went during the load: the load generator itself competes with the server
        "load_client_cpu_s": round(client_cpu, 1), "load_server_cpu_s": round(server_cpu, 1),
        "load_ae_create_p99_ms": per_route.get("POST /api/v1/adverse-events", {}).get("p99_ms"),
        "routes": per_route,
        "aes_acknowledged": len(ack_set), "aes_stored": len(stored_set), "aes_lost": lost,
        "aes_duplicated": duplicated, "aes_stored_not_acknowledged": unacknowledged_but_stored,
        "integrity_check": integrity,
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
    }
    out = ROOT / "benchmarks" / "results" / ("http.json" if not args.out else args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")

    print(f"AE creation over HTTP (gunicorn {args.workers} workers x {args.threads} threads), {args.creates} AEs: "
          f"{http_total:.2f} s; bare SQLite inserts: {bare_total:.3f} s; ratio {figures['http_vs_bare_ratio']}x")
    print(f"  CPU during the load: server {server_cpu:.1f} s, load generator {client_cpu:.1f} s, in {wall:.1f} s")
    print(f"  sequential AE create p50 {figures['sequential_ae_create_p50_ms']} ms, "
          f"p99 {figures['sequential_ae_create_p99_ms']} ms")
    print(f"Load: {args.clients} clients for {args.seconds:g} s: {total_requests} requests "
          f"({figures['load_requests_per_s']}/s)")
    print(f"  {'route':34} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for label, r in per_route.items():
        print(f"  {label:34} {r['requests']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>6}")
    print(f"AEs acknowledged {len(ack_set)}, stored {len(stored_set)}, lost {lost}, duplicated {duplicated}, "
          f"stored without acknowledgement {unacknowledged_but_stored}; integrity {integrity}")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
