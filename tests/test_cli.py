import sqlite3

from safety_service.db import connect


def test_it_adds_a_user_and_creates_a_token(app, db):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["user", "add", "ina@example.org", "--role", "nurse", "--site", "S02", "--password-stdin"],
                      input="a long enough password\n")
    assert r.exit_code == 0, r.output
    t = runner.invoke(args=["token", "create", "ina@example.org"])
    assert t.exit_code == 0 and t.output.strip().startswith("sst_")
    client = app.test_client()
    me = client.get("/api/v1/participants", headers={"Authorization": f"Bearer {t.output.strip()}"})
    assert me.status_code == 200


def test_it_refuses_bad_user_input_with_one_line(app):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["user", "add", "nurse@example.org", "--role", "nurse", "--password-stdin"],
                      input="a long enough password\n")
    assert r.exit_code != 0 and "site" in r.output
    r = runner.invoke(args=["user", "add", "x@example.org", "--role", "pilot", "--password-stdin"], input="x\n")
    assert r.exit_code != 0


def test_it_backs_up_online_and_the_copy_restores(app, enrol, tmp_path):
    enrol("S01-001")
    target = tmp_path / "backup.db"
    r = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert r.exit_code == 0, r.output
    copy = connect(target)
    assert copy.execute("SELECT subject_id FROM participants").fetchall() == [("S01-001",)]
    from safety_service.domain import audit
    assert audit.verify(copy).ok
    again = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output


def test_it_loads_the_demo_study_once(app, db):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    assert {"nurse", "investigator", "safety_officer", "auditor", "admin"} <= {line.split()[0] for line in r.output.splitlines()}
    n = db.execute("SELECT count(*) FROM participants").fetchone()[0]
    assert 25 <= n <= 35
    assert len({r[0] for r in db.execute("SELECT site FROM participants")}) >= 2
    again = runner.invoke(args=["demo"])
    assert again.exit_code != 0 and "empty" in again.output
    assert sqlite3.connect(app.config["DATABASE"]).execute("SELECT count(*) FROM participants").fetchone()[0] == n
