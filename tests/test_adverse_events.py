"""AE storage on a real SQLite file: create, amend, entered in error, SAE sign-off, report sent, list, timeline.

Persona story: nurse_nina (S01) records AEs for S01-001 (injected 12 Jan 2026 10:30 Berlin time);
investigator_ivan signs SAEs off; nurse_noah works at S02 and must not see S01's AEs.
"""
from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from safety_service.db import rows
from safety_service.domain import adverse_events as aes
from safety_service.domain import alerts, participants
from safety_service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound

from conftest import NOW, PASSWORD


@pytest.fixture
def ctx(app):
    rb = app.extensions["rulebook"]
    return {"catalogue": rb.ctcae, "study": rb.study, "tz": app.config["TIMEZONE"]}


@pytest.fixture
def s01(enrol):
    return enrol("S01-001")


def hematuria(**changes) -> dict:
    data = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine after the injection", "grade": 2,
            "onset": "2026-01-13", "relatedness_product": "unlikely", "relatedness_procedure": "probable",
            "expected": True, "outcome": "recovered", "end_date": "2026-01-15"}
    data.update(changes)
    return data


SAE = dict(serious=True, seriousness=["hospitalization"], grade=3, outcome="recovering", end_date=None,
           relatedness_product="possible", expected=False)


def record(db, people, ctx, clock, who="nurse_nina", **changes):
    return aes.create(db, hematuria(**changes), actor=people[who], now=clock.now(), **ctx)


def ae_count(db) -> int:
    return db.execute("SELECT count(*) FROM adverse_events").fetchone()[0]


def audit_for(db, ae_id) -> list[dict]:
    return rows(db, "SELECT * FROM audit_log WHERE entity = 'adverse_event' AND entity_id = ? ORDER BY id",
                (str(ae_id),))


# --------------------------------------------------------------------------------------------------- create

def test_it_records_an_ae_with_its_derivations_first_version_and_audit(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock)
    assert (ae["subject_id"], ae["site"], ae["seq"], ae["version"], ae["status"]) == ("S01-001", "S01", 1, 1, "active")
    assert (ae["onset_day"], ae["phase"], ae["treatment_emergent"]) == (2, "early", True)
    assert ae["meddra_code"] == "10019450" and ae["ctcae_version"] == "5.0"
    assert ae["related"] is True and ae["serious"] is False and ae["report_due_at"] is None
    assert ae["created_by"] == "nurse_nina@example.org"
    versions = rows(db, "SELECT * FROM ae_versions WHERE ae_id = ?", (ae["id"],))
    assert [v["version"] for v in versions] == [1]
    entries = audit_for(db, ae["id"])
    assert {e["action"] for e in entries} == {"create"}
    assert {"term": "Hematuria", "grade": "2"} == {e["field"]: e["new_value"] for e in entries
                                                  if e["field"] in ("term", "grade")}


def test_it_numbers_aes_per_subject_in_order_of_creation(db, people, ctx, clock, enrol, s01):
    enrol("S01-002")
    first = record(db, people, ctx, clock)
    second = record(db, people, ctx, clock, term="Fever", grade=1, verbatim="38.2 C")
    other = record(db, people, ctx, clock, subject_id="S01-002")
    assert (first["seq"], second["seq"], other["seq"]) == (1, 2, 1)


def test_it_names_every_bad_field_and_stores_nothing(db, people, ctx, clock, s01):
    with pytest.raises(InvalidInput) as e:
        record(db, people, ctx, clock, subject_id="S01-999", term="Nausea", grade=5, outcome="")
    assert {"subject_id", "grade", "outcome"} <= set(e.value.fields)
    assert ae_count(db) == 0
    assert db.execute("SELECT count(*) FROM ae_versions").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM audit_log WHERE entity = 'adverse_event'").fetchone()[0] == 0


def test_it_refuses_onset_before_consent_for_the_stored_participant(db, people, ctx, clock, s01):
    with pytest.raises(InvalidInput) as e:
        record(db, people, ctx, clock, onset="2026-01-04", end_date="2026-01-06")
    assert "before informed consent (2026-01-05)" in e.value.fields["onset"]


def test_it_lets_a_nurse_record_only_at_her_site(db, people, ctx, clock, s01):
    with pytest.raises(InvalidInput) as e:
        record(db, people, ctx, clock, who="nurse_noah")
    assert "S01-001" in e.value.fields["subject_id"]
    assert ae_count(db) == 0


def test_it_keeps_the_ae_the_audit_and_the_alert_in_one_transaction(db, people, ctx, clock, s01, monkeypatch):
    def broken_mail(_db, _alert, _now):
        raise RuntimeError("mail queue unavailable")
    monkeypatch.setattr(alerts, "ON_RAISED", [broken_mail])
    with pytest.raises(RuntimeError):
        record(db, people, ctx, clock, **SAE)
    assert ae_count(db) == 0
    assert db.execute("SELECT count(*) FROM audit_log WHERE entity IN ('adverse_event', 'alert')").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0


# --------------------------------------------------------------------------------------------------- alerts

def test_it_raises_a_critical_alert_as_soon_as_an_sae_is_saved(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, **SAE)
    [alert] = alerts.list_alerts(db, None)
    assert (alert["kind"], alert["severity"], alert["key"]) == ("sae", "critical", f"sae:{ae['id']}")
    assert alert["subject_id"] == "S01-001" and alert["site"] == "S01"
    assert "report to the sponsor due 2026-06-16 12:00 CEST" in alert["message"]
    assert "SUSAR" in alert["message"]


def test_it_raises_a_high_alert_for_a_non_serious_grade_3(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, grade=3)
    [alert] = alerts.list_alerts(db, None)
    assert (alert["kind"], alert["severity"], alert["key"]) == ("ae_severe", "high", f"ae-grade:{ae['id']}:3")


def test_it_raises_nothing_for_a_non_serious_grade_2(db, people, ctx, clock, s01):
    record(db, people, ctx, clock)
    assert alerts.list_alerts(db, None) == []


# --------------------------------------------------------------------------------------------------- amend

def test_it_amends_into_a_new_version_keeping_the_old_one(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock)
    clock.advance(hours=2)
    new = aes.amend(db, ae["id"], {"grade": 3}, reason="urology review: clots", actor=people["nurse_nina"],
                    now=clock.now(), **ctx)
    assert (new["version"], new["grade"], new["updated_at"]) == (2, 3, "2026-06-15T12:00:00+00:00")
    history = aes.versions(db, ae["id"], user=people["nurse_nina"])
    assert [(v["version"], v["data"]["grade"], v["reason"]) for v in history] == [
        (1, 2, None), (2, 3, "urology review: clots")]
    assert ("grade", 2, 3) in history[1]["changes"]
    amended = [e for e in audit_for(db, ae["id"]) if e["action"] == "amend"]
    assert {(e["field"], e["old_value"], e["new_value"], e["reason"]) for e in amended} >= {
        ("grade", "2", "3", "urology review: clots"), ("version", "1", "2", "urology review: clots")}
    [alert] = alerts.list_alerts(db, None)
    assert alert["key"] == f"ae-grade:{ae['id']}:3"


def test_it_requires_a_reason_and_changes_nothing_without_one(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock)
    with pytest.raises(InvalidInput) as e:
        aes.amend(db, ae["id"], {"grade": 3}, reason="  ", actor=people["nurse_nina"], now=clock.now(), **ctx)
    assert "reason" in e.value.fields
    assert aes.get(db, ae["id"], user=None)["version"] == 1
    assert db.execute("SELECT count(*) FROM ae_versions").fetchone()[0] == 1


@pytest.mark.parametrize("changes,field", [
    ({"grade": 2}, "changes"),
    ({"subject_id": "S01-002"}, "subject_id"),
    ({"phase": "late"}, "phase"),
    ({"grade": 4, "term": "Nausea"}, "grade"),
    ({"outcome": "recovering"}, "end_date"),
])
def test_it_refuses_an_amendment_that_is_not_one(db, people, ctx, clock, s01, changes, field):
    ae = record(db, people, ctx, clock)
    with pytest.raises(InvalidInput) as e:
        aes.amend(db, ae["id"], changes, reason="fix", actor=people["nurse_nina"], now=clock.now(), **ctx)
    assert field in e.value.fields
    assert aes.get(db, ae["id"], user=None)["version"] == 1


def test_it_refuses_to_amend_a_version_someone_else_changed_meanwhile(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock)
    aes.amend(db, ae["id"], {"grade": 1}, reason="milder", actor=people["nurse_nina"], now=clock.now(), **ctx)
    with pytest.raises(Conflict):
        aes.amend(db, ae["id"], {"grade": 3}, reason="worse", actor=people["investigator_ivan"], now=clock.now(),
                  expected_version=1, **ctx)


def test_it_starts_the_sae_clock_when_an_amendment_makes_the_ae_serious(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, outcome="recovering", end_date=None)
    clock.advance(days=1, hours=3)  # the site learns of the hospitalisation the next day, 15:00 Berlin time
    new = aes.amend(db, ae["id"], {"serious": True, "seriousness": ["hospitalization"], "grade": 3},
                    reason="admitted for clot retention", actor=people["nurse_nina"], now=clock.now(), **ctx)
    assert new["awareness_at"] == "2026-06-16T13:00:00+00:00"
    assert new["report_due_at"] == "2026-06-17T13:00:00+00:00"
    [alert] = alerts.list_alerts(db, None)
    assert alert["kind"] == "sae"


# --------------------------------------------------------------------------------------------------- in error

def test_it_marks_an_ae_entered_in_error_and_never_deletes_it(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock)
    with pytest.raises(InvalidInput) as e:
        aes.mark_entered_in_error(db, ae["id"], reason="", actor=people["nurse_nina"], now=clock.now())
    assert "reason" in e.value.fields
    gone = aes.mark_entered_in_error(db, ae["id"], reason="recorded for the wrong participant",
                                     actor=people["nurse_nina"], now=clock.now())
    assert (gone["status"], gone["version"]) == ("entered_in_error", 2)
    assert aes.list_aes(db, people["nurse_nina"]) == []
    assert [a["id"] for a in aes.list_aes(db, people["nurse_nina"], include_entered_in_error=True)] == [ae["id"]]
    assert [a["status"] for a in aes.all_for_analysis(db)] == ["entered_in_error"]
    with pytest.raises(Conflict):
        aes.amend(db, ae["id"], {"grade": 3}, reason="late", actor=people["nurse_nina"], now=clock.now(), **ctx)
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        db.execute("DELETE FROM adverse_events WHERE id = ?", [ae["id"]])
    with pytest.raises(sqlite3.DatabaseError, match="never changed"):
        db.execute("UPDATE ae_versions SET reason = 'x' WHERE ae_id = ?", [ae["id"]])


# --------------------------------------------------------------------------------------------------- sign-off

def test_it_records_the_investigators_electronic_signature_with_its_meaning(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, **SAE)
    clock.advance(hours=1)
    signed = aes.sign_off(db, ae["id"], password=PASSWORD, actor=people["investigator_ivan"], now=clock.now())
    assert signed["signed_off_by"] == "investigator_ivan@example.org"
    assert (signed["signed_off_at"], signed["signed_off_version"]) == ("2026-06-15T11:00:00+00:00", 1)
    sig = {e["field"]: e for e in audit_for(db, ae["id"]) if e["action"] == "e_signature"}
    assert sig["signature_meaning"]["new_value"] == "review and approval"
    assert sig["signer_name"]["new_value"] == "Investigator Ivan"
    assert sig["signed_off_at"]["reason"] == "review and approval"
    with pytest.raises(Conflict):
        aes.sign_off(db, ae["id"], password=PASSWORD, actor=people["investigator_ivan"], now=clock.now())


def test_it_refuses_a_wrong_password_and_audits_the_attempt(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, **SAE)
    with pytest.raises(InvalidInput) as e:
        aes.sign_off(db, ae["id"], password="guess", actor=people["investigator_ivan"], now=clock.now())
    assert "password" in e.value.fields
    assert aes.get(db, ae["id"], user=None)["signed_off_at"] is None
    assert [e["action"] for e in audit_for(db, ae["id"])][-1] == "e_signature_failed"


def test_it_lets_only_an_investigator_sign_and_only_serious_aes(db, people, ctx, clock, s01):
    sae = record(db, people, ctx, clock, **SAE)
    plain = record(db, people, ctx, clock)
    with pytest.raises(Forbidden):
        aes.sign_off(db, sae["id"], password=PASSWORD, actor=people["nurse_nina"], now=clock.now())
    with pytest.raises(Conflict):
        aes.sign_off(db, plain["id"], password=PASSWORD, actor=people["investigator_ivan"], now=clock.now())


def test_it_asks_for_a_new_signature_after_an_amendment(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, **SAE)
    aes.sign_off(db, ae["id"], password=PASSWORD, actor=people["investigator_ivan"], now=clock.now())
    new = aes.amend(db, ae["id"], {"grade": 4, "seriousness": ["life_threatening", "hospitalization"]},
                    reason="ICU transfer", actor=people["nurse_nina"], now=clock.now(), **ctx)
    assert (new["signed_off_at"], new["signed_off_version"]) == (None, 1)
    again = aes.sign_off(db, ae["id"], password=PASSWORD, actor=people["investigator_ivan"], now=clock.now())
    assert again["signed_off_version"] == 2


# --------------------------------------------------------------------------------------------------- report sent

def test_it_records_the_sae_report_sent_once(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock, **SAE)
    with pytest.raises(InvalidInput) as e:
        aes.record_report_sent(db, ae["id"], actor=people["investigator_ivan"], now=clock.now(), tz=ctx["tz"],
                               sent_at="2026-06-15T13:00")  # 13:00 Berlin = 11:00 UTC, after now
    assert "future" in e.value.fields["sent_at"]
    with pytest.raises(InvalidInput) as e:
        aes.record_report_sent(db, ae["id"], actor=people["investigator_ivan"], now=clock.now(), tz=ctx["tz"],
                               sent_at="2026-06-15T11:00")  # 09:00 UTC: before the site knew
    assert "before the site learned" in e.value.fields["sent_at"]
    clock.advance(hours=5)
    sent = aes.record_report_sent(db, ae["id"], actor=people["investigator_ivan"], now=clock.now(), tz=ctx["tz"])
    assert (sent["report_sent_at"], sent["report_sent_by"]) == ("2026-06-15T15:00:00+00:00",
                                                                 "investigator_ivan@example.org")
    with pytest.raises(Conflict):
        aes.record_report_sent(db, ae["id"], actor=people["investigator_ivan"], now=clock.now(), tz=ctx["tz"])


def test_it_has_no_report_to_record_for_a_non_serious_ae(db, people, ctx, clock, s01):
    ae = record(db, people, ctx, clock)
    with pytest.raises(Conflict):
        aes.record_report_sent(db, ae["id"], actor=people["investigator_ivan"], now=clock.now(), tz=ctx["tz"])


# --------------------------------------------------------------------------------------------------- list

@pytest.fixture
def three_aes(db, people, ctx, clock, enrol, s01):
    enrol("S02-001")
    a = record(db, people, ctx, clock)                                                      # day 2, early, G2
    b = record(db, people, ctx, clock, term="Back pain", grade=1, verbatim="back ache", onset="2026-03-01",
               end_date="2026-03-02", relatedness_product="not_related", relatedness_procedure="unlikely")  # day 49
    c = record(db, people, ctx, clock, who="nurse_noah", subject_id="S02-001", onset="2026-02-20",
               end_date=None, outcome="recovering", **{k: v for k, v in SAE.items() if k not in ("outcome", "end_date")})
    return a, b, c


@pytest.mark.parametrize("filters,expected", [
    ({}, "abc"), ({"subject_id": "S01-001"}, "ab"), ({"site": "S02"}, "c"), ({"serious": "true"}, "c"),
    ({"serious": "false"}, "ab"), ({"min_grade": "2"}, "ac"), ({"phase": "early"}, "a"), ({"phase": "late"}, "bc"),
    ({"related": "false"}, "b"), ({"from": "2026-02-01"}, "bc"), ({"to": "2026-02-20"}, "ac"),
    ({"from": "2026-02-20", "to": "2026-02-20"}, "c"),
])
def test_it_filters_the_list(db, people, three_aes, filters, expected):
    ids = {ae["id"]: name for name, ae in zip("abc", three_aes)}
    assert "".join(ids[a["id"]] for a in aes.list_aes(db, people["safety_sam"], filters)) == expected


def test_it_scopes_the_list_and_the_ae_to_the_users_site(db, people, three_aes):
    a, b, c = three_aes
    assert [x["id"] for x in aes.list_aes(db, people["nurse_noah"])] == [c["id"]]
    assert [x["id"] for x in aes.list_aes(db, people["investigator_ivan"])] == [a["id"], b["id"]]
    with pytest.raises(NotFound):
        aes.get(db, a["id"], user=people["nurse_noah"])
    assert len(aes.list_aes(db, people["auditor_ada"])) == 3


@pytest.mark.parametrize("filters,field", [({"min_grade": "6"}, "min_grade"), ({"phase": "mid"}, "phase"),
                                           ({"serious": "maybe"}, "serious"), ({"from": "June"}, "from"),
                                           ({"from": "2026-03-01", "to": "2026-02-01"}, "to"),
                                           ({"grade": "3"}, "grade")])
def test_it_names_a_bad_filter(db, people, filters, field):
    with pytest.raises(InvalidInput) as e:
        aes.list_aes(db, people["safety_sam"], filters)
    assert field in e.value.fields


# --------------------------------------------------------------------------------------------------- timeline

def test_it_builds_the_timeline_newest_first(db, app, people, ctx, clock, s01):
    record(db, people, ctx, clock)                                                  # onset 13 Jan
    record(db, people, ctx, clock, term="Flank pain", grade=1, verbatim="sore side", onset="2026-01-12",
           end_date="2026-01-12", onset_time="16:00")                              # injection day, afternoon
    p = participants.get(db, "S01-001", user=None)
    sched = participants.participant_schedule(db, p, ctx["study"], ctx["tz"], clock.now())
    items = aes.timeline(db, p, sched, user=people["nurse_nina"], tz=ctx["tz"])
    kinds = [(i["kind"], i["date"]) for i in items]
    assert kinds[-3:] == [("ae", "2026-01-13"), ("ae", "2026-01-12"), ("injection", "2026-01-12")]
    assert kinds[0][0] == "visit" and kinds[0][1] > "2026-06-15"  # the next visits due come first
    dates = [d for _, d in kinds]
    assert dates == sorted(dates, reverse=True)


def test_it_gives_the_analyses_every_ae_with_the_shared_keys(db, people, ctx, clock, s01):
    record(db, people, ctx, clock, **SAE)
    [ae] = list(aes.all_for_analysis(db))
    for key in ("id", "subject_id", "site", "seq", "term", "meddra_code", "soc", "verbatim", "grade", "serious",
                "seriousness", "relatedness_product", "relatedness_procedure", "related", "expected",
                "action_taken", "other_action", "outcome", "onset", "onset_time", "end_date", "onset_day", "end_day",
                "phase", "treatment_emergent", "awareness_at", "report_due_at", "expedited_due_at", "susar", "status",
                "version", "description", "created_at", "created_by", "updated_at", "signed_off_at",
                "signed_off_by", "report_sent_at"):
        assert key in ae
    assert ae["seriousness"] == ["hospitalization"] and ae["expected"] is False and ae["susar"] is True
    assert ae["expedited_due_at"] == (NOW + timedelta(days=15)).isoformat()
