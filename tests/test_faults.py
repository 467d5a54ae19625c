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
    token = users_mod.create_token(db, people["nurse_nina"]["email"], now=NOW)
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
    token = users_mod.create_token(db, people["nurse_nina"]["email"], now=NOW)
    run_and_kill(app, AE_BODY, 0, {"TOKEN": token})
    [ae] = [dict(r) for r in db.query("SELECT * FROM adverse_events")]
    assert ae["seq"] == 1 and ae["serious"] == 1
    assert count(db, "audit_log", "entity = 'adverse_event' AND entity_id = ?", [str(ae["id"])]) > 0
    assert count(db, "alerts", "subject_id = 'S01-001'") >= 1  # the SAE alert came with it
    assert_sound(db)
