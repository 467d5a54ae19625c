"""Faults the service must survive: a process killed mid-save, SMTP down, the database locked or full, a rules
file broken while running, the clock jumping. Each test states what is left behind: all or nothing, and
never a lost or doubled record.
"""
from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from conftest import NOW
from safety_service import create_app
from safety_service import db as dbmod
from safety_service.clock import FixedClock
from safety_service.db import connect
from safety_service.domain import audit
from safety_service.jobs.rules_guard import check_rules_folder
from safety_service.jobs.scheduler import JOBS, Job, run_job
from safety_service.rulefiles import RulesError

RULES = Path(__file__).resolve().parent.parent / "rules"
ENROL = {"subject_id": "S01-041", "site": "S01", "sex": "M", "birth_date": "1962-11-30", "weight_kg": 81,
         "consent_on": "2026-06-01", "enrolled_on": "2026-06-02"}


def count(db, table: str, where: str = "1", params=()) -> int:
    return db.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]


# --- a rules file broken while running ----------------------------------------------------------------------

@pytest.fixture
def rules_app(tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES, rules_dir)
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "safety.db"), "INSTANCE_PATH": str(tmp_path / "i"),
                      "RULES_DIR": str(rules_dir), "CLOCK": FixedClock(NOW), "SECRET_KEY": "k"})
    return app, rules_dir


def rule_alerts(db) -> list[dict]:
    return [dict(r) for r in db.query("SELECT * FROM alerts WHERE kind = 'rules_file' ORDER BY id")]


def test_it_keeps_the_last_good_rules_and_raises_an_alert_when_a_rules_file_breaks(rules_app, tmp_path):
    app, rules_dir = rules_app
    running = app.extensions["rulebook"]
    study_file = rules_dir / "study.toml"
    good = study_file.read_text()
    study_file.write_text(good.replace("window_before = 7", "window_before = 'a week'", 1))
    db = connect(app.config["DATABASE"])

    assert check_rules_folder(db, running, app.config, NOW) == 1
    [alert] = rule_alerts(db)
    assert alert["severity"] == "high" and alert["rule"] == "study.toml"
    assert "study.toml" in alert["message"] and "window_before" in alert["message"]
    assert check_rules_folder(db, running, app.config, NOW) == 0  # the same broken file is raised once

    # the running service still works with the rules it started with
    assert app.extensions["rulebook"] is running and running.study.visits[0].window_before == 7
    assert app.test_client().get("/healthz").status_code == 200
    # a restart would refuse to start, naming the file: which is why the alert comes first
    with pytest.raises(RulesError, match="study.toml"):
        create_app({"TESTING": True, "DATABASE": str(tmp_path / "other.db"), "INSTANCE_PATH": str(tmp_path / "j"),
                    "RULES_DIR": str(rules_dir), "SECRET_KEY": "k"})

    study_file.write_text(good)  # repaired: nothing new to say
    assert check_rules_folder(db, running, app.config, NOW) == 0
    assert len(rule_alerts(db)) == 1


def test_it_raises_again_for_a_different_breakage_and_for_a_missing_file(rules_app):
    app, rules_dir = rules_app
    db = connect(app.config["DATABASE"])
    study_file = rules_dir / "study.toml"
    study_file.write_text("this is [not toml")
    assert check_rules_folder(db, app.extensions["rulebook"], app.config, NOW) == 1
    study_file.unlink()
    assert check_rules_folder(db, app.extensions["rulebook"], app.config, NOW) == 1
    messages = [a["message"] for a in rule_alerts(db)]
    assert "syntax" in messages[0] and "file not found" in messages[1]


def test_it_tells_when_a_valid_rules_file_changed_but_is_not_yet_in_force(rules_app):
    app, rules_dir = rules_app
    db = connect(app.config["DATABASE"])
    study_file = rules_dir / "study.toml"
    study_file.write_text(study_file.read_text() + "\n# reviewed 2026-06-15\n")
    assert check_rules_folder(db, app.extensions["rulebook"], app.config, NOW) == 1
    [alert] = rule_alerts(db)
    assert alert["severity"] == "low" and "Restart" in alert["message"]


def test_it_runs_the_rules_guard_from_the_scheduler_and_survives_a_crash_in_a_job(rules_app):
    app, rules_dir = rules_app
    job = next(j for j in JOBS if j.id == "rules_guard")
    (rules_dir / "study.toml").write_text("broken = [")
    assert run_job(app, job) == 1

    def explode(*_a, **_k):
        raise RuntimeError("a bug in a job")
    assert run_job(app, Job("boom", explode, "interval", {"minutes": 1})) == 0  # logged, not raised


# --- the database locked or full ----------------------------------------------------------------------------

@pytest.fixture
def short_busy_timeout(monkeypatch):
    """Requests wait 0.2 s for the write lock instead of 10 s, so a held lock is seen quickly."""
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 200)


def test_it_answers_503_and_writes_nothing_while_another_process_holds_the_write_lock(app, api, db,
                                                                                       short_busy_timeout):
    nina = api("nurse_nina")
    before = count(db, "audit_log")
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = nina.post("/api/v1/participants", json=ENROL)
        assert r.status_code == 503 and r.json["error"]["code"] == "unavailable"
        assert r.headers["Retry-After"] == "5"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert count(db, "participants") == 0 and count(db, "audit_log") == before
    assert nina.post("/api/v1/participants", json=ENROL).status_code == 201  # the retry goes through, once
    assert count(db, "participants") == 1


def test_it_waits_for_a_lock_released_within_the_busy_timeout(app, api, db, monkeypatch):
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 10_000)
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        r = api("nurse_nina").post("/api/v1/participants", json=ENROL)
    finally:
        release.join()
        holder.close()
    assert r.status_code == 201
    assert count(db, "participants") == 1


def test_it_shows_a_page_not_a_crash_when_the_database_is_locked_for_a_form(app, web, db, short_busy_timeout):
    nina = web("nurse_nina")
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = nina.post_form("/participants/new", ENROL, from_page="/participants/new")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503 and "try again" in r.get_data(as_text=True)
    assert count(db, "participants") == 0


def test_it_rolls_back_everything_when_the_disk_is_full(app, api, db, monkeypatch):
    """SQLITE_FULL in the middle of a save (here after the record, at its audit entry) leaves nothing behind."""
    from safety_service.web import context

    def full_connect(path):
        conn = connect(path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow: the next new page fails
        return conn
    nina = api("nurse_nina")
    monkeypatch.setattr(context, "connect", full_connect)
    statuses = [nina.post("/api/v1/participants", json={**ENROL, "subject_id": f"S01-{100 + i}"}).status_code
                for i in range(40)]
    monkeypatch.undo()
    assert 503 in statuses
    stored = count(db, "participants")
    assert stored == statuses.count(201)  # every acknowledged save is there, every refused one is not
    audited = {r[0] for r in db.execute("SELECT DISTINCT entity_id FROM audit_log WHERE entity = 'participant'")}
    assert audited == {r[0] for r in db.execute("SELECT subject_id FROM participants")}
    assert audit.verify(db).ok
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- the process killed (SIGKILL) in the middle of a save --------------------------------------------------------

# Runs in a child process: pauses inside the transaction at the K-th audit entry (the record is written, the
# transaction not committed), tells the test, and waits to be killed. K = 0 pauses after the command returns.
CHILD = r"""
import os, sys, time
from safety_service.domain import audit
pause_at, n = int(os.environ["PAUSE_AT_AUDIT"]), 0
original = audit.record
def record(*args, **kwargs):
    global n
    result = original(*args, **kwargs)
    n += 1
    if n == pause_at:
        print("PAUSED", flush=True)
        time.sleep(120)
    return result
audit.record = record
{body}
print("PAUSED", flush=True)
time.sleep(120)
"""

IMPORT_BODY = r"""
from safety_service.cli import main
sys.argv = ["safety", "import", "labs", os.environ["CSV_FILE"], "--now", os.environ["NOW"]]
try:
    main()
except SystemExit as e:
    if e.code:
        raise
"""

AE_BODY = r"""
from safety_service import create_app
from safety_service.domain import users
app = create_app()
with app.app_context():
    r = app.test_client().post("/api/v1/adverse-events", json={
        "subject_id": "S01-001", "term": "Nausea", "verbatim": "nausea after lunch", "grade": 3,
        "onset": "2026-06-10", "serious": True, "seriousness": ["hospitalization"],
        "relatedness_product": "possible", "relatedness_procedure": "not_related", "expected": False,
        "action_taken": "not_applicable", "outcome": "recovering"},
        headers={"Authorization": "Bearer " + os.environ["TOKEN"]})
    assert r.status_code == 201, r.get_data(as_text=True)
"""


def run_and_kill(app, body: str, pause_at: int, extra_env: dict) -> None:
    """Start the child, wait until it has paused where asked, and SIGKILL it there."""
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "SAFETY_DATABASE": app.config["DATABASE"], "SAFETY_SECRET_KEY": "test-secret",
           "SAFETY_INSTANCE_PATH": str(Path(app.config["DATABASE"]).parent / "child-instance"),
           "SAFETY_AUDIT_KEY": app.config["AUDIT_KEY"],  # every process of a deployment shares the audit key
           "SAFETY_SCHEDULER_ENABLED": "false", "PAUSE_AT_AUDIT": str(pause_at), "NOW": NOW.isoformat(),
           **extra_env}
    child = subprocess.Popen([sys.executable, "-c", CHILD.replace("{body}", body)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:  # the command's own output may come first
            if line.strip() == "PAUSED":
                break
        else:
            raise AssertionError(child.stderr.read())
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def lab_csv(tmp_path, rows: int) -> Path:
    lines = ["subject_id,analyte,value,unit,collected_at,visit"]
    for i in range(rows):
        lines.append(f"S01-001,creatinine,{1.4 + i / 100:.2f},mg/dL,2026-02-{1 + i:02d}T08:00:00+00:00,")
    path = tmp_path / "labs.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def state(db) -> dict:
    return {"labs": count(db, "labs"), "aes": count(db, "adverse_events"), "audit": count(db, "audit_log"),
            "alerts": count(db, "alerts"), "outbox": count(db, "outbox")}


def assert_sound(db) -> None:
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert audit.verify(db).ok


@pytest.mark.parametrize("pause_at", [1, 19])
def test_it_leaves_nothing_of_a_csv_import_killed_mid_transaction(app, db, enrol, tmp_path, pause_at):
    enrol("S01-001")
    path = lab_csv(tmp_path, 20)
    before = state(db)
    run_and_kill(app, IMPORT_BODY, pause_at, {"CSV_FILE": str(path)})
    assert state(db) == before  # not one of the 20 results, nor any of their audit entries
    assert_sound(db)
    # and the same file imports completely afterwards: the killed writer left no lock behind
    result = app.test_cli_runner().invoke(args=["import", "labs", str(path), "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert count(db, "labs") == 20
    assert_sound(db)


def test_it_keeps_every_row_of_a_csv_import_killed_after_commit(app, db, enrol, tmp_path):
    enrol("S01-001")
    path = lab_csv(tmp_path, 20)
    run_and_kill(app, IMPORT_BODY, 0, {"CSV_FILE": str(path)})
    assert count(db, "labs") == 20
    audited = {str(r[0]) for r in db.execute("SELECT DISTINCT entity_id FROM audit_log WHERE entity = 'lab'")}
    assert audited == {str(r[0]) for r in db.execute("SELECT id FROM labs")}
    assert_sound(db)


@pytest.mark.parametrize("pause_at", [2])
def test_it_leaves_nothing_of_an_ae_save_killed_mid_transaction(app, db, enrol, people, pause_at):
    from safety_service.domain import users as users_mod
    enrol("S01-001")
    token = users_mod.create_token(db, people["nurse_nina"]["email"], now=NOW,
                                   days=3650)  # the child runs on the real clock
    before = state(db)
    run_and_kill(app, AE_BODY, pause_at, {"TOKEN": token})
    assert state(db) == before  # no AE, no audit entry, no SAE alert, no mail queued
    assert_sound(db)
    # the nurse saves it again: it is AE 1 of the subject, once
    r = app.test_client().post("/api/v1/adverse-events", headers={"Authorization": f"Bearer {token}"}, json={
        "subject_id": "S01-001", "term": "Nausea", "verbatim": "nausea after lunch", "grade": 3, "onset": "2026-06-10",
        "serious": True, "seriousness": ["hospitalization"], "relatedness_product": "possible",
        "relatedness_procedure": "not_related", "expected": False, "action_taken": "not_applicable",
        "outcome": "recovering"})
    assert r.status_code == 201 and r.json["seq"] == 1
    assert count(db, "adverse_events") == 1


def test_it_keeps_a_whole_ae_killed_after_its_commit(app, db, enrol, people):
    from safety_service.domain import users as users_mod
    enrol("S01-001")
    token = users_mod.create_token(db, people["nurse_nina"]["email"], now=NOW,
                                   days=3650)  # the child runs on the real clock
    run_and_kill(app, AE_BODY, 0, {"TOKEN": token})
    [ae] = [dict(r) for r in db.query("SELECT * FROM adverse_events")]
    assert ae["seq"] == 1 and ae["serious"] == 1
    assert count(db, "audit_log", "entity = 'adverse_event' AND entity_id = ?", [str(ae["id"])]) > 0
    assert count(db, "alerts", "subject_id = 'S01-001'") >= 1  # the SAE alert came with it
    assert_sound(db)


# --- SMTP down for an hour ---------------------------------------------------------------------------------------

class Inbox:
    """An aiosmtpd handler keeping what it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=policy.default))
        return "250 OK"


def unused_port() -> int:
    import socket
    with socket.socket() as s:  # aiosmtpd's Controller(port=0) does not work: take a free port first
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SAE = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "blood in the urine", "grade": 3,
       "onset": "2026-06-14", "relatedness_product": "possible", "relatedness_procedure": "probable",
       "expected": False, "outcome": "recovering", "serious": True, "seriousness": ["hospitalization"],
       "action_taken": "not_applicable"}


def test_it_keeps_every_mail_through_an_hour_without_smtp_and_delivers_each_once_after(app, db, api, enrol, clock):
    from datetime import timedelta

    from aiosmtpd.controller import Controller

    from safety_service.jobs.mail import send_due

    port = unused_port()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, MAIL_FROM="safety@trial.example")
    enrol("S01-001")
    nina = api("nurse_nina")
    start = clock.now()
    saved = []
    for minute in range(61):  # the sender runs every minute for an hour against a server that refuses
        now = start + timedelta(minutes=minute)
        clock.set(now)
        if minute in (0, 25, 50):  # SAEs keep being reported meanwhile: saving never waits on SMTP
            r = nina.post("/api/v1/adverse-events", json={**SAE, "verbatim": f"blood in the urine {minute}"})
            assert r.status_code == 201
            saved.append(r.json["id"])
        assert send_due(db, app.extensions["rulebook"], app.config, now) == 0
    queued = [dict(r) for r in db.query("SELECT * FROM outbox ORDER BY id")]
    assert len(queued) >= len(saved) and all(m["status"] == "pending" for m in queued)
    assert all(m["attempts"] < 8 for m in queued)  # none given up on within the hour
    assert count(db, "alerts", "kind = 'mail_failed'") == 0

    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        for minute in range(61, 61 + 65):  # the longest backoff is an hour: every mail goes within it
            now = start + timedelta(minutes=minute)
            send_due(db, app.extensions["rulebook"], app.config, now)
    finally:
        server.stop()
    statuses = [r[0] for r in db.execute("SELECT status FROM outbox")]
    assert statuses == ["sent"] * len(queued)
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(ids) == len(queued) and len(set(ids)) == len(ids)  # each mail delivered once, none lost
    assert count(db, "adverse_events") == len(saved)


# --- the clock jumping ---------------------------------------------------------------------------------------------

def test_it_raises_each_alert_once_when_the_clock_jumps_forward_and_back(app, db, enrol, api, clock):
    from datetime import timedelta

    from safety_service.jobs.checks import check_once

    enrol("S01-001", injection_at="2026-01-12T09:30:00+00:00")  # M1..M3 windows long closed, none recorded
    nina = api("nurse_nina")
    assert nina.post("/api/v1/adverse-events", json=SAE).status_code == 201
    keys = lambda: sorted(r[0] for r in db.execute("SELECT key FROM alerts"))  # noqa: E731
    check_once(app, clock.now())
    first = keys()
    jumps = [timedelta(days=40), timedelta(days=-41), timedelta(hours=-3), timedelta(days=44), timedelta(0)]
    seen = [first]
    for jump in jumps:  # NTP correction, a VM restored from a snapshot, a manual date change ...
        clock.advance(jump)
        check_once(app, clock.now())
        seen.append(keys())
    for before, after in zip(seen, seen[1:]):
        assert set(before) <= set(after)  # nothing raised is ever lost when time goes backwards
        assert len(after) == len(set(after))  # and nothing is raised twice
    assert "sae_report_missed:1" not in seen[0] and "sae_report_missed:1" in seen[1]  # 24 h clock passed
    assert seen[1] == seen[2] == seen[3]  # back in time: nothing new, nothing withdrawn
    assert set(seen[4]) - set(seen[3]) == {"overdue:S01-001:M6"}  # forward again: only what is newly due
    assert seen[5] == seen[4]
    assert audit.verify(db).ok  # audit entries written with an earlier clock still chain


def test_it_refuses_an_ae_dated_after_a_clock_that_jumped_back(app, db, enrol, api, clock):
    from datetime import timedelta
    enrol("S01-001")
    clock.advance(timedelta(days=-3))  # the server's clock is now behind the nurse's calendar
    r = api("nurse_nina").post("/api/v1/adverse-events", json=SAE)  # onset 2026-06-14 is "in the future"
    assert r.status_code == 422 and "onset" in r.json["error"]["fields"]
    assert count(db, "adverse_events") == 0


def test_it_still_signs_out_an_idle_session_after_the_clock_jumped_back(web, app, clock):
    from datetime import timedelta
    nina = web("nurse_nina")
    clock.advance(timedelta(hours=-2))
    assert nina.get("/participants").status_code == 200  # activity refreshes "seen" to the new clock
    clock.advance(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    r = nina.get("/participants")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


# --- backup while writers write -----------------------------------------------------------------------------------

def test_it_takes_a_consistent_backup_while_saves_go_on_and_restores_it(app, db, api, enrol, tmp_path):
    for i in range(1, 6):
        enrol(f"S01-{i:03d}")
    nina = api("nurse_nina")
    stop = threading.Event()
    acknowledged = []

    def writer():
        n = 0
        while not stop.is_set() and n < 500:
            r = nina.client.post("/api/v1/adverse-events", headers=nina.headers,
                                 json={**SAE, "subject_id": f"S01-{1 + n % 5:03d}", "grade": 1, "serious": False,
                                       "seriousness": [], "verbatim": f"writer {n}"})
            if r.status_code == 201:
                acknowledged.append(r.json["id"])
            n += 1
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acknowledged) < 5:
            threading.Event().wait(0.05)
        target = tmp_path / "backup.db"
        result = app.test_cli_runner().invoke(args=["backup", str(target)])
        taken_at = len(acknowledged)
    finally:
        stop.set()
        thread.join(60)
    assert result.exit_code == 0, result.output
    copy = connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert audit.verify(copy).ok  # a consistent cut: the hash chain holds in the copy
    in_copy = count(copy, "adverse_events")
    assert 5 <= in_copy <= taken_at + 1
    # every AE in the copy has its audit entries (no half-saved record was copied)
    assert count(copy, "adverse_events", "CAST(id AS TEXT) NOT IN (SELECT entity_id FROM audit_log "
                                         "WHERE entity = 'adverse_event')") == 0
    copy.conn.close()
    # restore: the service starts on the copy and carries on numbering
    restored = create_app({"TESTING": True, "DATABASE": str(target), "INSTANCE_PATH": str(tmp_path / "r"),
                           "SECRET_KEY": "k", "CLOCK": FixedClock(NOW),
                           "AUDIT_KEY": app.config["AUDIT_KEY"]})  # a restore needs the audit key kept apart
    check = restored.test_cli_runner().invoke(args=["audit", "verify"])
    assert check.exit_code == 0, check.output
    assert restored.test_client().get("/healthz").status_code == 200
    assert count(db, "adverse_events") == len(acknowledged)  # the live database lost nothing meanwhile


# --- several writer processes at once (gunicorn workers) ----------------------------------------------------------

def _writer(db_path: str, rules_dir: str, nurse: dict, worker: int, n: int, out) -> None:
    """One 'worker process': saves n AEs, reporting each acknowledged id (runs in a forked child)."""
    from safety_service.domain import adverse_events
    from safety_service.rulebook import load_rulebook

    rb = load_rulebook(rules_dir)
    db = connect(db_path)
    acked = []
    for i in range(n):
        ae = adverse_events.create(db, {**SAE, "subject_id": f"S01-{1 + i % 3:03d}", "grade": 1, "serious": False,
                                        "seriousness": [], "verbatim": f"w{worker}-{i}"},
                                   catalogue=rb.ctcae, study=rb.study, tz="Europe/Berlin", actor=nurse, now=NOW)
        acked.append((ae["id"], ae["subject_id"], ae["seq"], ae["verbatim"]))
    db.conn.close()
    out.put(acked)


def test_it_loses_and_doubles_nothing_with_four_writer_processes_at_once(app, db, enrol, people):
    import multiprocessing

    for i in range(1, 4):
        enrol(f"S01-{i:03d}")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(app.config["DATABASE"], app.config["RULES_DIR"],
                                               people["nurse_nina"], w, 15, out)) for w in range(4)]
    for p in procs:
        p.start()
    acked = [a for _ in procs for a in out.get(timeout=300)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stored = {(r["id"], r["subject_id"], r["seq"], r["verbatim"]) for r in
              db.query("SELECT id, subject_id, seq, verbatim FROM adverse_events")}
    assert len(acked) == 60 and set(acked) == stored  # every acknowledged save is stored, nothing else
    for sid in ("S01-001", "S01-002", "S01-003"):  # AESEQ 1..n per subject, no gap, no repeat
        seqs = sorted(r[0] for r in db.execute("SELECT seq FROM adverse_events WHERE subject_id = ?", [sid]))
        assert seqs == list(range(1, len(seqs) + 1))
    assert_sound(db)
