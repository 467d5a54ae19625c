"""The queries API (CONTRACT.md "Second round"): raise, list, answer, answer by amending, close, reopen.

Story: safety_sam doubts the relatedness of S01-001's hematuria and asks site S01; nurse_nina answers, once in
words and once by amending the AE; safety_sam closes or reopens. auditor_ada (a monitor) and investigator_ivan raise
queries too; nurse_noah at site S02 never sees S01's queries.
"""
from __future__ import annotations

import pytest

from safety_service.db import rows
from safety_service.domain import adverse_events, audit

from conftest import NOW

AE = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine", "grade": 2, "onset": "2026-06-10",
      "relatedness_product": "possible", "relatedness_procedure": "probable", "outcome": "recovering"}


@pytest.fixture
def ae(app, db, people, enrol):
    enrol("S01-001")
    enrol("S02-001")
    rb = app.extensions["rulebook"]
    return adverse_events.create(db, AE, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                                 actor=people["nurse_nina"], now=NOW)


def raise_on(api, persona, ae, **extra):
    body = {"entity": "ae", "entity_id": str(ae["id"]), "field": "relatedness_product",
            "text": "Is the hematuria related to the cells? The narrative says catheter trauma.", **extra}
    return api(persona).post("/api/v1/queries", json=body)


def test_it_raises_an_open_query_on_an_ae_field_and_audits_it(api, db, ae):
    r = raise_on(api, "safety_sam", ae)
    assert r.status_code == 201, r.get_json()
    q = r.get_json()
    assert q["status"] == "open" and q["entity"] == "ae" and q["entity_id"] == str(ae["id"])
    assert q["field"] == "relatedness_product" and q["site"] == "S01" and q["label"] == "S01-001-AE1"
    assert q["raised_by"] == "safety_sam@example.org" and q["raised_at"] == NOW.isoformat()
    assert [(m["step"], m["actor"]) for m in q["thread"]] == [("raised", "safety_sam@example.org")]
    entries = audit.history(db, "query", q["id"])
    assert {e["action"] for e in entries} == {"query_raised"}
    assert {e["field"]: e["new_value"] for e in entries}["text"].startswith("Is the hematuria")


@pytest.mark.parametrize("persona,status", [("safety_sam", 201), ("auditor_ada", 201), ("investigator_ivan", 201),
                                            ("nurse_nina", 403), ("admin_alex", 403)])
def test_it_lets_oversight_and_the_investigator_raise_but_not_the_nurse_or_admin(api, ae, persona, status):
    assert raise_on(api, persona, ae).status_code == status


def test_it_names_every_bad_field_and_stores_nothing(api, db, ae):
    r = api("safety_sam").post("/api/v1/queries", json={"entity": "ae", "entity_id": str(ae["id"]),
                                                        "field": "colour", "text": " ", "extra": 1})
    assert r.status_code == 422
    assert set(r.get_json()["error"]["fields"]) == {"field", "text", "extra"}
    r = api("safety_sam").post("/api/v1/queries", json={"entity": "vital", "text": "x"})
    assert set(r.get_json()["error"]["fields"]) == {"entity", "entity_id"}
    r = api("safety_sam").post("/api/v1/queries", json={"entity": "ae", "entity_id": "999", "text": "why?"})
    assert r.status_code == 422 and "entity_id" in r.get_json()["error"]["fields"]
    assert rows(db, "SELECT * FROM queries") == [] and rows(db, "SELECT * FROM query_messages") == []


def test_it_raises_on_a_lab_a_visit_and_a_participant(api, ae):
    lab = api("nurse_nina").post("/api/v1/participants/S01-001/labs", json={
        "analyte": "creatinine", "value": 1.6, "unit": "mg/dL", "collected_at": "2026-06-01T08:00:00+00:00"}).get_json()
    sam = api("safety_sam")
    made = [sam.post("/api/v1/queries", json=b).get_json() for b in (
        {"entity": "lab", "entity_id": lab["id"], "field": "value", "text": "Creatinine 1.6: haemolysed sample?"},
        {"entity": "visit", "entity_id": "S01-001:M3", "text": "Was M3 done? Nothing is recorded."},
        {"entity": "participant", "entity_id": "S01-001", "field": "weight_kg", "text": "Weight 72.5 kg current?"})]
    assert [(q["entity"], q["label"]) for q in made] == [
        ("lab", f"S01-001 creatinine result {lab['id']}"), ("visit", "S01-001 visit M3"), ("participant", "S01-001")]
    bad = sam.post("/api/v1/queries", json={"entity": "visit", "entity_id": "S01-001:M99", "text": "which?"})
    assert bad.status_code == 422 and "entity_id" in bad.get_json()["error"]["fields"]


def test_it_keeps_another_sites_records_and_queries_out_of_reach(api, ae):
    q = raise_on(api, "safety_sam", ae).get_json()
    noah = api("nurse_noah")
    assert noah.get(f"/api/v1/queries/{q['id']}").status_code == 404
    assert noah.get("/api/v1/queries").get_json() == []
    assert noah.post(f"/api/v1/queries/{q['id']}/answer", json={"text": "n/a"}).status_code == 404
    # an investigator of S01 cannot raise on S02's participant: no such record for him
    r = api("investigator_ivan").post("/api/v1/queries", json={"entity": "participant", "entity_id": "S02-001",
                                                               "text": "Is the weight right?"})
    assert r.status_code == 422 and "entity_id" in r.get_json()["error"]["fields"]


def test_it_lists_with_filters_site_scope_and_a_total(api, ae):
    sam = api("safety_sam")
    first = raise_on(api, "safety_sam", ae).get_json()
    sam.post("/api/v1/queries", json={"entity": "participant", "entity_id": "S02-001", "text": "Weight?"})
    sam.post(f"/api/v1/queries/{first['id']}/close", json={"comment": "asked twice"})
    everything = sam.get("/api/v1/queries")
    assert len(everything.get_json()) == 2 and everything.headers["X-Total-Count"] == "2"
    assert [q["site"] for q in sam.get("/api/v1/queries?status=open").get_json()] == ["S02"]
    assert [q["id"] for q in sam.get(f"/api/v1/queries?entity=ae&entity_id={ae['id']}").get_json()] == [first["id"]]
    assert len(sam.get("/api/v1/queries?subject_id=S01-001").get_json()) == 1
    page = sam.get("/api/v1/queries?limit=1&offset=1")
    assert len(page.get_json()) == 1 and page.headers["X-Total-Count"] == "2"
    assert [q["site"] for q in api("nurse_nina").get("/api/v1/queries").get_json()] == ["S01"]
    bad = sam.get("/api/v1/queries?status=pending&entity=vital")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"status", "entity"}


def test_it_goes_open_answered_closed_reopened_with_each_step_audited(api, db, ae):
    q = raise_on(api, "safety_sam", ae).get_json()
    answered = api("nurse_nina").post(f"/api/v1/queries/{q['id']}/answer",
                                      json={"text": "Possible is right: the catheter was atraumatic."}).get_json()
    assert answered["status"] == "answered" and answered["answered_by"] == "nurse_nina@example.org"
    closed = api("safety_sam").post(f"/api/v1/queries/{q['id']}/close", json={"comment": "Accepted."}).get_json()
    assert closed["status"] == "closed" and closed["closed_by"] == "safety_sam@example.org"
    reopened = api("safety_sam").post(f"/api/v1/queries/{q['id']}/reopen",
                                      json={"comment": "Cystoscopy report says otherwise."}).get_json()
    assert reopened["status"] == "open" and reopened["closed_at"] is None
    assert [m["step"] for m in reopened["thread"]] == ["raised", "answered", "closed", "reopened"]
    actions = [e["action"] for e in audit.history(db, "query", q["id"]) if e["field"] == "status"]
    assert actions == ["query_raised", "query_answered", "query_closed", "query_reopened"]
    assert audit.verify(db).ok


def test_it_refuses_steps_out_of_order_and_by_the_wrong_person(api, db, ae):
    q = raise_on(api, "auditor_ada", ae).get_json()
    url = f"/api/v1/queries/{q['id']}"
    # the raiser does not answer; the safety officer does not answer (not a site role); admin closes nothing
    assert api("auditor_ada").post(f"{url}/answer", json={"text": "x"}).status_code == 403
    assert api("safety_sam").post(f"{url}/answer", json={"text": "x"}).status_code == 403
    assert api("admin_alex").post(f"{url}/close", json={"comment": "x"}).status_code == 403
    # an investigator who did not raise it may not close it; nurses never close
    assert api("investigator_ivan").post(f"{url}/close", json={"comment": "x"}).status_code == 403
    assert api("nurse_nina").post(f"{url}/close", json={"comment": "x"}).status_code == 403
    assert api("safety_sam").post(f"{url}/reopen", json={"comment": "x"}).status_code == 409  # already open
    assert api("nurse_nina").post(f"{url}/answer", json={"text": ""}).status_code == 422
    assert api("nurse_nina").post(f"{url}/answer", json={"text": "fine"}).status_code == 200
    assert api("nurse_nina").post(f"{url}/answer", json={"text": "again"}).status_code == 409
    assert api("auditor_ada").post(f"{url}/close", json={"comment": ""}).status_code == 422
    assert api("auditor_ada").post(f"{url}/close", json={"comment": "ok"}).status_code == 200
    assert api("safety_sam").post(f"{url}/close", json={"comment": "ok"}).status_code == 409
    assert [m["step"] for m in api("safety_sam").get(url).get_json()["thread"]] == ["raised", "answered", "closed"]


def test_it_answers_by_amending_the_ae_in_one_step_tied_in_the_audit_trail(api, db, ae):
    q = raise_on(api, "safety_sam", ae).get_json()
    r = api("nurse_nina").post(f"/api/v1/queries/{q['id']}/answer", json={
        "text": "Reassessed: unlikely, the catheter caused it.",
        "amend": {"relatedness_product": "unlikely", "version": ae["version"]}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "answered"
    step = body["thread"][-1]
    assert (step["amended_entity"], step["amended_id"], step["amended_version"]) == ("adverse_event", str(ae["id"]), 2)
    new = api("safety_sam").get(f"/api/v1/adverse-events/{ae['id']}").get_json()
    assert new["relatedness_product"] == "unlikely" and new["version"] == 2
    amend = [e for e in audit.history(db, "adverse_event", ae["id"]) if e["action"] == "amend"]
    assert {e["reason"] for e in amend} == {f"Answer to query Q{q['id']}: Reassessed: unlikely, the catheter caused it."}
    answer = [e for e in audit.history(db, "query", q["id"]) if e["action"] == "query_answered"]
    assert {e["field"]: e["new_value"] for e in answer}["amended"] == f"adverse_event {ae['id']} version 2"


def test_it_writes_neither_the_answer_nor_the_amendment_when_the_version_is_stale(api, db, ae):
    q = raise_on(api, "safety_sam", ae).get_json()
    changes = "SELECT id FROM audit_log WHERE entity IN ('query', 'adverse_event')"
    before = len(rows(db, changes))
    r = api("nurse_nina").post(f"/api/v1/queries/{q['id']}/answer", json={
        "text": "unlikely", "amend": {"relatedness_product": "unlikely", "version": 7}})
    assert r.status_code == 409
    bad = api("nurse_nina").post(f"/api/v1/queries/{q['id']}/answer", json={
        "text": "unlikely", "amend": {"grade": 9, "version": 1}})
    assert bad.status_code == 422 and "grade" in bad.get_json()["error"]["fields"]
    assert len(rows(db, changes)) == before
    assert api("safety_sam").get(f"/api/v1/queries/{q['id']}").get_json()["status"] == "open"
    assert api("safety_sam").get(f"/api/v1/adverse-events/{ae['id']}").get_json()["version"] == 1


def test_it_keeps_the_thread_append_only(api, db, ae):
    import sqlite3
    q = raise_on(api, "safety_sam", ae).get_json()
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("UPDATE query_messages SET text = 'changed' WHERE query_id = ?", [q["id"]])
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("DELETE FROM queries WHERE id = ?", [q["id"]])
