"""Issue 12 (part A): a participant who leaves the study (withdrawn, lost to follow-up, died, completed) has nothing
due or alerted after that date, and a visit recorded late resolves its overdue alert with the reason."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from conftest import NOW
from safety_service.clock import FixedClock
from safety_service.db import rows
from safety_service.domain import audit, checks
from safety_service.domain.signals import event_rates
from safety_service.reports import datacut

# Enrolled by the conftest with the injection on 2026-01-12: M1 due 2026-02-11, M3 2026-04-12, M6 2026-07-11.


def status(api_user, sid, **body):
    return api_user.post(f"/api/v1/participants/{sid}/status", json=body)


def test_it_refuses_a_status_change_naming_every_bad_field(enrol, api):
    enrol("S01-001")
    nina = api("nurse_nina")
    refused = status(nina, "S01-001", status="gone", on="2026-13-01")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"status": "must be one of withdrawn, lost_to_follow_up, died, "
                                                               "completed", "on": "must be a date YYYY-MM-DD",
                                                     "reason": "is required"}
    assert status(nina, "S01-001", status="withdrawn", on="2026-06-16", reason="x").get_json()["error"]["fields"] == {
        "on": "is in the future"}
    died = status(nina, "S01-001", status="died", on="2026-06-01", reason="cardiac arrest")
    assert "grade-5 AE" in died.get_json()["error"]["fields"]["death_ae_id"]
    assert status(api("nurse_noah"), "S01-001", status="withdrawn", on="2026-06-01", reason="x").status_code == 404
    assert api("safety_sam").post("/api/v1/participants/S01-001/status", json={}).status_code == 403


def test_a_death_names_its_grade_5_ae_or_why_there_is_none(enrol, api, db):
    enrol("S01-001")
    nina = api("nurse_nina")
    done = status(nina, "S01-001", status="died", on="2026-06-01", reason="cardiac arrest at home",
                  death_no_ae_reason="death reported by the family; the AE is being documented")
    assert done.status_code == 200
    p = done.get_json()
    assert (p["status"], p["status_on"], p["death_no_ae_reason"]) == (
        "died", "2026-06-01", "death reported by the family; the AE is being documented")
    entry = [h for h in audit.history(db, "participant", "S01-001") if h["action"] == "status"]
    assert {h["field"]: h["new_value"] for h in entry}["status"] == "died"
    assert entry[0]["reason"] == "cardiac arrest at home"
    ae = api("investigator_ivan").post("/api/v1/adverse-events", json={
        "subject_id": "S01-001", "term": "Sepsis", "verbatim": "fatal sepsis", "grade": 5,
        "onset": "2026-06-01", "serious": True, "seriousness": ["death"], "relatedness_product": "unlikely",
        "relatedness_procedure": "unlikely", "expected": False, "outcome": "fatal", "awareness_at": NOW.isoformat()})
    assert ae.status_code == 201, ae.get_json()
    linked = status(nina, "S01-001", status="died", on="2026-06-01", reason="cardiac arrest at home",
                    death_ae_id=ae.get_json()["id"])
    assert linked.get_json()["death_ae_id"] == ae.get_json()["id"] and linked.get_json()["death_no_ae_reason"] is None


def test_a_withdrawn_participant_has_no_overdue_alert_afterwards_day_by_day(app, enrol, api, db):
    enrol("S01-001")
    enrol("S01-002")                                   # stays active: the same walk alerts its visits
    nina = api("nurse_nina")
    for sid in ("S01-001", "S01-002"):
        nina.post(f"/api/v1/participants/{sid}/visits/M1", json={"visit_date": "2026-02-11"})
        nina.post(f"/api/v1/participants/{sid}/visits/M3", json={"visit_date": "2026-04-12"})
    p = status(nina, "S01-001", status="withdrawn", on="2026-06-15", reason="consent withdrawn").get_json()
    assert [(v["visit"], v["status"]) for v in p["schedule"]] == [
        ("M1", "done"), ("M3", "done"), ("M6", "not_expected"), ("M9", "not_expected"), ("M12", "not_expected")]
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    clock = FixedClock(NOW)
    for _day in range(400):                            # past the M12 window, one check a day
        clock.advance(days=1)
        checks.raise_overdue_visits(db, rb.study, tz, clock.now())
    overdue = {a["subject_id"] for a in rows(db, "SELECT subject_id FROM alerts WHERE kind = 'visit_overdue'")}
    assert overdue == {"S01-002"}
    # exposure for the signal rates ends with the day of withdrawal (end of that local day)
    cut = datacut.load(db, rb.study, as_of=clock.now(), cutoff=clock.now().date(), tz=tz)
    exposure = {r.key: r.exposure_months for r in event_rates(cut.participants, cut.aes, cut.as_of, 30, tz=tz)}
    days_1 = 154 + 12.5 / 24                           # 2026-01-12 09:30 UTC to 2026-06-16 00:00 CEST (22:00 UTC)
    days_2 = (clock.now() - datetime(2026, 1, 12, 9, 30, tzinfo=timezone.utc)).total_seconds() / 86400
    assert abs(exposure["any"] * 365.25 / 12 - (days_1 + days_2)) < 0.01


def test_a_status_dated_after_a_data_cut_is_not_in_that_cut(app, enrol, api, db):
    enrol("S01-001")
    status(api("nurse_nina"), "S01-001", status="lost_to_follow_up", on="2026-06-10", reason="no contact since May")
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    before = datacut.load(db, rb.study, as_of=NOW - timedelta(days=10), cutoff=(NOW - timedelta(days=10)).date(),
                          tz=tz, held_at=NOW)
    assert before.participants[0]["status"] == "active" and "off_study_at" not in before.participants[0]
    after = datacut.load(db, rb.study, as_of=NOW, cutoff=NOW.date(), tz=tz)
    assert after.participants[0]["status"] == "lost_to_follow_up"
    assert after.participants[0]["off_study_at"] == "2026-06-10T22:00:00+00:00"


def test_a_visit_recorded_late_resolves_its_overdue_alert_with_the_reason(app, enrol, api, db):
    enrol("S01-001")
    rb, tz = app.extensions["rulebook"], app.config["TIMEZONE"]
    checks.raise_overdue_visits(db, rb.study, tz, NOW)
    open_ = {a["key"]: a for a in rows(db, "SELECT * FROM alerts WHERE kind = 'visit_overdue'")}
    assert set(open_) >= {"overdue:S01-001:M1", "overdue:S01-001:M3"}
    api("nurse_nina").post("/api/v1/participants/S01-001/visits/M3", json={"visit_date": "2026-06-14"})
    m3 = rows(db, "SELECT status, resolve_comment, resolved_by FROM alerts WHERE key = 'overdue:S01-001:M3'")[0]
    assert m3 == {"status": "resolved", "resolved_by": "nurse_nina@example.org",
                  "resolve_comment": "visit M3 recorded late by nurse_nina@example.org: done on 2026-06-14"}
    assert rows(db, "SELECT status FROM alerts WHERE key = 'overdue:S01-001:M1'") == [{"status": "open"}]
    assert [h["action"] for h in audit.history(db, "alert", m3_id(db))][-1] == "resolved"


def m3_id(db):
    return rows(db, "SELECT id FROM alerts WHERE key = 'overdue:S01-001:M3'")[0]["id"]


def test_the_participant_page_records_a_withdrawal_through_its_form(enrol, web, db):
    enrol("S01-001")
    nina = web("nurse_nina")
    page = nina.get("/participants/S01-001").get_data(as_text=True)
    assert 'id="status-form"' in page and "Withdrawn (consent withdrawn)" in page
    response = nina.post_form("/participants/S01-001/status", {"status": "withdrawn", "on": "2026-06-01",
                                                               "reason": "moved abroad"},
                              from_page="/participants/S01-001")
    assert response.status_code == 302
    page = nina.get("/participants/S01-001").get_data(as_text=True)
    assert 'data-status="withdrawn"' in page and "moved abroad" in page and "not_expected" in page
    assert "status-form" not in web("auditor_ada").get("/participants/S01-001").get_data(as_text=True)


def test_a_participant_lost_to_follow_up_who_returns_is_put_back_on_study(enrol, api, db):
    enrol("S01-001")
    nina = api("nurse_nina")
    assert status(nina, "S01-001", status="active", on="2026-06-01", reason="x").get_json()["error"]["fields"] == {
        "status": "must be one of withdrawn, lost_to_follow_up, died, completed"}
    lost = status(nina, "S01-001", status="lost_to_follow_up", on="2026-03-01", reason="no answer since February")
    assert {v["status"] for v in lost.get_json()["schedule"]} == {"missed", "not_expected"}
    back = status(nina, "S01-001", status="active", on="2026-06-10", reason="came back to the clinic on 10 June")
    assert back.status_code == 200
    p = back.get_json()
    assert (p["status"], p["status_on"]) == ("active", None)
    assert [v["status"] for v in p["schedule"]][:2] == ["missed", "missed"]   # M1, M3 long past, still not done
    changes = [(h["field"], h["old_value"], h["new_value"], h["reason"]) for h in audit.history(db, "participant", "S01-001")
               if h["action"] == "status" and h["field"] == "status"]
    assert changes == [("status", "active", "lost_to_follow_up", "no answer since February"),
                       ("status", "lost_to_follow_up", "active", "came back to the clinic on 10 June")]
