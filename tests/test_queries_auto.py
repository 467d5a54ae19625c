"""Automatic queries (rules/queries.toml) and the site's alert for a query waiting too long
(rules/notifications.toml [queries] overdue_days), walked day by day with a fixed clock.

Story: four AEs at S01 arrive inconsistent (an SAE without a criterion, "recovered" without an end date, an end
before the onset: as a feed or an older form stored them, before today's validation; and a grade-5 AE whose
participant is not marked died). Each day the scheduled check runs: each record gets one query, once; nothing is
asked twice; a record put right has its query closed by the system; a query the site leaves waiting more than
7 days alerts the site once, and the alert is resolved when the site answers.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from safety_service.db import row, rows
from safety_service.domain import adverse_events, audit, queries
from safety_service.jobs.queries import run_query_checks
from safety_service.rulefiles import RulesError

from conftest import NOW

BASE = {"subject_id": "S01-001", "term": "Nausea", "verbatim": "queasy", "grade": 1, "onset": "2026-06-01",
        "relatedness_product": "unlikely", "relatedness_procedure": "unlikely", "outcome": "recovering"}


def store_as_fed(db, ae_id: int, **columns) -> None:
    """What an older form or a feed stored, bypassing today's validation (the case the checks exist for)."""
    db["adverse_events"].update(ae_id, columns)


@pytest.fixture
def world(app, db, people, enrol):
    enrol("S01-001")
    enrol("S01-002")
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]

    def ae(**fields):
        return adverse_events.create(db, {**BASE, **fields}, catalogue=rb.ctcae, study=rb.study, tz=tz,
                                     actor=people["nurse_nina"], now=NOW)
    made = {
        "sae": ae(grade=3, serious=True, seriousness=["hospitalization"], verbatim="admitted"),
        "recovered": ae(),
        "backwards": ae(outcome="recovered", end_date="2026-06-05"),
        "fatal": ae(subject_id="S01-002", term="Sepsis", verbatim="sepsis", grade=5, outcome="fatal", serious=True,
                    seriousness=["death"]),
    }
    store_as_fed(db, made["sae"]["id"], seriousness="[]")
    store_as_fed(db, made["recovered"]["id"], outcome="recovered")
    store_as_fed(db, made["backwards"]["id"], end_date="2026-05-28")
    return {"rb": rb, "tz": tz, "aes": made, "amend": lambda ae_id, changes, at, v: adverse_events.amend(
        db, ae_id, changes, reason="put right after the query", catalogue=rb.ctcae, study=rb.study, tz=tz,
        actor=people["nurse_nina"], now=at, expected_version=v)}


def day(n: int):
    return NOW + timedelta(days=n)


def auto_queries(db):
    return {q["rule"]: q for q in rows(db, "SELECT * FROM queries WHERE origin = 'auto'")}


def test_it_opens_one_query_per_inconsistent_record_once_and_closes_it_when_put_right(app, db, world, people):
    rb, aes = world["rb"], world["aes"]
    assert run_query_checks(db, rb, app.config, day(0)) == 4
    found = auto_queries(db)
    assert {r: (q["entity"], q["entity_id"], q["field"], q["status"], q["raised_by"]) for r, q in found.items()} == {
        "sae_without_criteria": ("ae", str(aes["sae"]["id"]), "seriousness", "open", "system"),
        "recovered_without_end_date": ("ae", str(aes["recovered"]["id"]), "end_date", "open", "system"),
        "end_before_onset": ("ae", str(aes["backwards"]["id"]), "end_date", "open", "system"),
        "grade5_participant_not_died": ("participant", "S01-002", "status", "open", "system"),
    }
    assert all(q["site"] == "S01" for q in found.values())
    # day 1 and day 2: nothing asked twice
    assert run_query_checks(db, rb, app.config, day(1)) == 0
    assert run_query_checks(db, rb, app.config, day(2)) == 0
    assert len(rows(db, "SELECT * FROM queries")) == 4
    # day 3: the nurse gives the end date; that save closes that query, and only that one (the run finds nothing)
    world["amend"](aes["recovered"]["id"], {"end_date": "2026-06-09"}, day(3), 1)
    assert run_query_checks(db, rb, app.config, day(3)) == 0
    now_found = auto_queries(db)
    closed = now_found["recovered_without_end_date"]
    assert closed["status"] == "closed" and closed["closed_by"] == "system" and closed["closed_at"] == day(3).isoformat()
    assert [q["status"] for r, q in now_found.items() if r != "recovered_without_end_date"] == ["open"] * 3
    steps = [e for e in audit.history(db, "query", closed["id"]) if e["action"] == "query_closed"]
    assert {e["actor"] for e in steps} == {"system"}
    # day 4: the grade-5 AE was entered in error (the participant lives): its query closes too
    adverse_events.mark_entered_in_error(db, aes["fatal"]["id"], reason="wrong participant", actor=people["nurse_nina"],
                                         now=day(4))
    assert auto_queries(db)["grade5_participant_not_died"]["status"] == "closed"
    assert run_query_checks(db, rb, app.config, day(4)) == 0
    # day 5: a query the safety officer closed as accepted stays closed although its record still fails
    sae_q = auto_queries(db)["sae_without_criteria"]
    queries.close(db, sae_q["id"], comment="criterion confirmed by phone: hospitalization", user=people["safety_sam"],
                  now=day(5))
    assert run_query_checks(db, rb, app.config, day(5)) == 0
    assert auto_queries(db)["sae_without_criteria"]["status"] == "closed"


def test_it_alerts_the_site_once_when_a_query_waits_more_than_the_days_set(app, db, world, people):
    rb = world["rb"]
    days = rb.notifications.queries.overdue_days
    assert days == 7
    run_query_checks(db, rb, app.config, day(0))
    overdue = lambda: rows(db, "SELECT * FROM alerts WHERE kind = 'query_overdue' ORDER BY id")  # noqa: E731
    for n in range(1, days + 1):  # up to and including exactly 7 days: not more than 7, no alert
        run_query_checks(db, rb, app.config, day(n))
        assert overdue() == [], f"alerted on day {n}"
    run_query_checks(db, rb, app.config, day(days) + timedelta(minutes=5))
    assert len(overdue()) == 4 and {a["site"] for a in overdue()} == {"S01"}
    assert {a["status"] for a in overdue()} == {"open"}
    run_query_checks(db, rb, app.config, day(days + 1))  # the next day: nothing twice
    assert len(overdue()) == 4
    # the site's investigator is mailed at once (notifications.toml routes query_overdue to the investigator)
    mailed = rows(db, "SELECT o.recipient FROM outbox o JOIN alerts a ON a.id = o.alert_id"
                      " WHERE a.kind = 'query_overdue'")
    assert {m["recipient"] for m in mailed} == {"investigator_ivan@example.org"} and len(mailed) == 4
    # answering resolves the query's alert, with the answer as its reason
    q = auto_queries(db)["end_before_onset"]
    queries.answer(db, q["id"], text="Onset was 2026-05-20; correcting it.", user=people["nurse_nina"],
                   now=day(days + 1))
    alert = row(db, "SELECT * FROM alerts WHERE kind = 'query_overdue' AND ref_id = ?", (str(q["id"]),))
    assert alert["status"] == "resolved" and alert["resolve_comment"] == f"query Q{q['id']} answered"


def test_it_refuses_a_rules_file_with_an_unknown_check_naming_file_and_key(tmp_path):
    from safety_service.domain.queries.rules import load_query_rules
    bad = tmp_path / "queries.toml"
    bad.write_text('[[auto]]\nid = "x"\ncheck = "no_such_check"\ntext = "a question for the site"\n')
    with pytest.raises(RulesError) as e:
        load_query_rules(bad)
    assert "queries.toml" in str(e.value) and "auto.0.check" in str(e.value)
    bad.write_text('[[auto]]\nid = "a"\ncheck = "end_before_onset"\ntext = "a question for the site"\n' * 1
                   + '[[auto]]\nid = "a"\ncheck = "end_before_onset"\ntext = "a question for the site"\n')
    with pytest.raises(RulesError, match="repeat"):
        load_query_rules(bad)


def test_it_refuses_an_overdue_days_of_zero(tmp_path):
    from safety_service.mail.routing import load_notifications
    from pathlib import Path
    source = (Path(__file__).resolve().parent.parent / "rules" / "notifications.toml").read_text()
    target = tmp_path / "notifications.toml"
    target.write_text(source.replace("overdue_days = 7", "overdue_days = 0"))
    with pytest.raises(RulesError, match="queries.overdue_days"):
        load_notifications(target)


def test_it_closes_the_grade5_query_when_the_participant_is_marked_died(app, api, db, world):
    rb, fatal = world["rb"], world["aes"]["fatal"]
    run_query_checks(db, rb, app.config, day(0))
    assert auto_queries(db)["grade5_participant_not_died"]["status"] == "open"
    r = api("nurse_nina").post("/api/v1/participants/S01-002/status", json={
        "status": "died", "on": "2026-06-01", "reason": "sepsis", "death_ae_id": fatal["id"]})
    assert r.status_code == 200, r.get_json()
    run_query_checks(db, rb, app.config, day(1))
    closed = auto_queries(db)["grade5_participant_not_died"]
    assert closed["status"] == "closed" and closed["closed_by"] == "system"
    assert [m["step"] for m in queries.thread(db, closed["id"])] == ["raised", "closed"]


def test_it_prints_the_queries_safety_check_opened_and_closed(app, db, world):
    r = app.test_cli_runner().invoke(args=["check", "--now", day(0).isoformat()])
    assert r.exit_code == 0, r.output
    q = auto_queries(db)["end_before_onset"]
    assert f"  query Q{q['id']} opened (end_before_onset) on S01-001-AE3" in r.output.splitlines()
    again = app.test_cli_runner().invoke(args=["check", "--now", day(0).isoformat()])
    assert "query Q" not in again.output


def test_it_closes_an_automatic_query_in_the_save_that_puts_the_record_right(app, api, db, world, people):
    rb, aes = world["rb"], world["aes"]
    run_query_checks(db, rb, app.config, day(0))
    # amended on the AE page (no query named): the query closes in that save, before any scheduled check
    world["amend"](aes["recovered"]["id"], {"end_date": "2026-06-09"}, day(1), 1)
    assert auto_queries(db)["recovered_without_end_date"]["status"] == "closed"
    # answered by amending through the query: answered, then closed by the system in the same transaction
    q = auto_queries(db)["end_before_onset"]
    r = api("nurse_nina").post(f"/api/v1/queries/{q['id']}/answer", json={
        "text": "The end was 2026-06-05; the feed swapped the digits.",
        "amend": {"end_date": "2026-06-05", "version": 1}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "closed"
    assert [(m["step"], m["actor"]) for m in r.get_json()["thread"]] == [
        ("raised", "system"), ("answered", "nurse_nina@example.org"), ("closed", "system")]
    # an amendment that leaves the record failing closes nothing
    sae_q = auto_queries(db)["sae_without_criteria"]
    bad = api("nurse_nina").post(f"/api/v1/queries/{sae_q['id']}/answer", json={
        "text": "Verbatim corrected", "amend": {"verbatim": "admitted overnight", "version": 1}})
    assert bad.status_code == 422  # today's validation refuses a serious AE without a criterion: nothing written
    assert auto_queries(db)["sae_without_criteria"]["status"] == "open"


def test_it_links_the_overdue_alert_to_its_query_for_the_investigator(app, db, world, web):
    run_query_checks(db, world["rb"], app.config, day(0))
    app.extensions["clock"].advance(days=8)
    run_query_checks(db, world["rb"], app.config, day(8))
    alert = rows(db, "SELECT * FROM alerts WHERE kind = 'query_overdue' ORDER BY id")[0]
    page = web("investigator_ivan").get(f"/alerts/{alert['id']}").get_data(as_text=True)
    assert "Query waiting for the site&#39;s answer" in page or "Query waiting for the site's answer" in page
    assert f'href="/queries/{alert["ref_id"]}"' in page
    mail = row(db, "SELECT subject FROM outbox WHERE alert_id = ?", [alert["id"]])
    assert "Query waiting for the site's answer" in mail["subject"]
