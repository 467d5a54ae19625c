"""The alert and mail machinery: overdue-visit checks over a large cohort, the outbox, the sender, the digest.

Plain script: `python benchmarks/bench_mail.py [--participants 10000] [--mails 2000]`. Writes
benchmarks/results/mail.json. Figures:
- this area's checks (overdue visits, SAE clocks, AE sweep) over N participants: first run and steady state;
- enqueue (render + store + audit) per mail; delivery over SMTP to a loopback aiosmtpd server, mails per second;
- four processes claiming the same outbox at once: claims per second and duplicates (must be 0);
- one digest built and queued for the safety officer over the whole cohort.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import socket
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safety_service import create_app  # noqa: E402
from safety_service.clock import FixedClock, iso, parse_datetime  # noqa: E402
from safety_service.db import atomic, connect  # noqa: E402
from safety_service.domain import checks, digest, outbox, users  # noqa: E402
from safety_service.jobs.mail import send_due  # noqa: E402
from safety_service.mail.render import render  # noqa: E402

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)


def build_cohort(db, n: int) -> None:
    """n injected participants over the last 13 months, half their due visits recorded (plain inserts: set-up)."""
    db.execute("PRAGMA synchronous = OFF")
    with atomic(db):
        for i in range(n):
            site = ("S01", "S02", "S03")[i % 3]
            injected = NOW - timedelta(days=5 + (i * 7) % 400, hours=i % 7)
            pid = db["participants"].insert({
                "subject_id": f"{site}-{i:05d}", "site": site, "sex": "FM"[i % 2], "birth_date": "1965-01-01",
                "weight_kg": 70, "consent_on": "2025-01-01", "enrolled_on": "2025-01-02",
                "injection_at": iso(injected), "status": "active", "created_at": iso(NOW), "created_by": "bench"}).last_pk
            for k, (code, day) in enumerate((("M1", 30), ("M3", 91), ("M6", 182), ("M9", 273), ("M12", 365))):
                when = injected + timedelta(days=day)
                if when < NOW and (i + k) % 2 == 0:
                    db["visits"].insert({"participant_id": pid, "visit": code, "visit_date": when.date().isoformat(),
                                         "recorded_at": iso(when), "recorded_by": "bench"})
    db.execute("PRAGMA synchronous = NORMAL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _claimer(path: str, now: str, out) -> None:
    db = connect(path)
    got = []
    t0 = time.perf_counter()
    while (msg := outbox.claim(db, parse_datetime(now), 600)) is not None:
        got.append(msg["id"])
    out.put((got, time.perf_counter() - t0))


def enqueue_many(db, n: int, prefix: str) -> float:
    context = {"alert": {"id": 1, "kind": "sae", "kind_label": "Serious adverse event", "severity": "critical",
                         "subject_id": "S01-00001", "site": "S01", "rule": "ae.serious", "message": "SAE",
                         "raised_at": "2026-06-15 12:00 CEST", "link": "http://127.0.0.1:5000/alerts/1"},
               "recipient": {"name": "Sam", "role": "safety_officer"}, "study_id": "NCT07396155",
               "base_url": "http://127.0.0.1:5000", "timezone": "Europe/Berlin"}
    t0 = time.perf_counter()
    for i in range(n):
        m = render("alert", context)
        outbox.enqueue(db, key=f"{prefix}:{i}", kind="alert", template="alert", recipient=f"r{i % 10}@bench.example",
                       subject=m.subject, text=m.text, html=m.html, mail_from="safety@bench.example", now=NOW)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--participants", type=int, default=10_000)
    ap.add_argument("--mails", type=int, default=2_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    app = create_app({"DATABASE": str(work / "s.db"), "INSTANCE_PATH": str(work), "SECRET_KEY": "bench",
                      "SCHEDULER_ENABLED": False, "CLOCK": FixedClock(NOW)})
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    db = connect(app.config["DATABASE"])
    build_cohort(db, args.participants)
    users.create(db, email="sam@bench.example", role="safety_officer", password="bench-password-1", now=NOW)
    figures: dict = {"participants": args.participants, "mails": args.mails}

    t0 = time.perf_counter()
    first = checks.run_all(db, rb, tz, NOW)
    figures["checks_first_run_s"] = round(time.perf_counter() - t0, 3)
    figures["overdue_alerts_raised"] = first.counts["overdue_visits"]
    t0 = time.perf_counter()
    checks.run_all(db, rb, tz, NOW)
    steady = time.perf_counter() - t0
    figures["checks_steady_state_s"] = round(steady, 3)
    figures["checks_steady_ms_per_participant"] = round(steady / args.participants * 1000, 4)

    t0 = time.perf_counter()
    queued = digest.queue_digests(db, rb, now=NOW, tz=tz, base_url="http://127.0.0.1:5000",
                                  mail_from="safety@bench.example", force=True)
    figures["digest_build_and_queue_s"] = round(time.perf_counter() - t0, 3)
    figures["digests_queued"] = len(queued)
    db.execute("UPDATE outbox SET status = 'sent' WHERE kind = 'digest'")  # keep them out of the sender figures

    enq = enqueue_many(db, args.mails, "send")
    figures["enqueue_ms_per_mail"] = round(enq / args.mails * 1000, 3)
    from aiosmtpd.controller import Controller

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    t0 = time.perf_counter()
    sent = 0
    while (n := send_due(db, rb, app.config, NOW)):
        sent += n
    send_s = time.perf_counter() - t0
    controller.stop()
    figures["sent"], figures["received"] = sent, Sink.count
    figures["send_mails_per_s"] = round(sent / send_s, 1)

    enqueue_many(db, args.mails, "claim")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(app.config["DATABASE"], iso(NOW), out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    claimed = [got for got, _ in results]
    claim_s = max(elapsed for _, elapsed in results)  # the claiming loops only, not the processes' start-up
    for p in procs:
        p.join()
    ids = [i for got in claimed for i in got]
    figures["claims_4_processes"] = len(ids)
    figures["claim_duplicates"] = len(ids) - len(set(ids))
    figures["claims_per_s_4_processes"] = round(len(ids) / claim_s, 1)
    figures["claims_per_process"] = [len(got) for got in claimed]
    figures.update(python=platform.python_version(), machine=platform.machine())

    out_file = ROOT / "benchmarks" / "results" / "mail.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"checks over {args.participants} participants: first run {figures['checks_first_run_s']} s "
          f"({figures['overdue_alerts_raised']} overdue alerts), steady state {figures['checks_steady_state_s']} s "
          f"({figures['checks_steady_ms_per_participant']} ms per participant)")
    print(f"digest for the safety officer over the cohort: {figures['digest_build_and_queue_s']} s")
    print(f"enqueue (render + store + audit): {figures['enqueue_ms_per_mail']} ms per mail")
    print(f"SMTP delivery to loopback: {figures['send_mails_per_s']} mails/s ({sent} sent, {Sink.count} received)")
    print(f"4 processes claiming {len(ids)} mails: {figures['claims_per_s_4_processes']} claims/s, "
          f"{figures['claim_duplicates']} duplicates, per process {figures['claims_per_process']}")
    print(f"wrote {out_file.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
