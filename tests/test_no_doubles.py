"""No doubled records, no lost updates (issue 12): an ``Idempotency-Key`` on the AE API, one-time form tokens on
the AE pages, and amendments that must name the version they were made against (428 without it, 409 stale).

Story: nurse_nina's connection drops while she posts an AE, her client retries; she double-clicks "Save AE";
investigator_ivan and nina amend the same AE at the same time.
"""
from __future__ import annotations

import re
import sqlite3
import threading

import pytest

from safety_service.db import rows

from conftest import csrf_from

AE = {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "pink urine", "grade": 2, "onset": "2026-01-13",
      "relatedness_product": "unlikely", "relatedness_procedure": "probable", "outcome": "recovering"}
FORM = {"term": "Hematuria", "grade": "2", "verbatim": "pink urine", "onset": "2026-01-13", "onset_time": "",
        "end_date": "", "serious": "false", "relatedness_product": "unlikely", "relatedness_procedure": "probable",
        "expected": "", "action_taken": "not_applicable", "other_action": "", "outcome": "recovering",
        "awareness_at": "", "description": ""}
NEW = "/participants/S01-001/ae/new"


@pytest.fixture
def s01(enrol):
    return enrol("S01-001")


def count(db) -> int:
    return rows(db, "SELECT count(*) AS n FROM adverse_events")[0]["n"]


def post(user, key: str | None, body=AE):
    headers = {**user.headers, **({"Idempotency-Key": key} if key else {})}
    return user.client.post("/api/v1/adverse-events", json=body, headers=headers)


# ---------------------------------------------------------------------------------------------- Idempotency-Key

def test_it_returns_the_first_ae_for_a_repeat_with_the_same_key_and_stores_nothing(api, s01, db):
    nina = api("nurse_nina")
    first = post(nina, "4f9c-retry-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    audit_before = rows(db, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    again = post(nina, "4f9c-retry-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count(db) == 1
    assert rows(db, "SELECT count(*) AS n FROM audit_log")[0]["n"] == audit_before  # nothing written at all


def test_it_makes_a_new_ae_for_a_new_key_or_no_key(api, s01, db):
    nina = api("nurse_nina")
    post(nina, "a")
    post(nina, "b")
    post(nina, None)
    assert count(db) == 3


def test_it_scopes_keys_to_the_user(api, s01, db, enrol):
    post(api("nurse_nina"), "same")
    r = post(api("investigator_ivan"), "same")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert count(db) == 2


def test_it_refuses_a_key_reused_for_a_different_request(api, s01, db):
    nina = api("nurse_nina")
    post(nina, "k1")
    r = post(nina, "k1", {**AE, "grade": 3})
    assert r.status_code == 409 and "different request" in r.get_json()["error"]["message"]
    assert count(db) == 1


def test_it_stores_no_key_for_a_refused_request_so_the_corrected_retry_may_use_it(api, s01, db):
    nina = api("nurse_nina")
    bad = post(nina, "k2", {**AE, "grade": 9})
    assert bad.status_code == 422 and count(db) == 0
    assert rows(db, "SELECT count(*) AS n FROM idempotency_keys")[0]["n"] == 0
    assert post(nina, "k2").status_code == 201 and count(db) == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "naïve", "tab\tkey"])
def test_it_refuses_a_malformed_key_naming_the_header(api, s01, db, key):
    nina = api("nurse_nina")
    r = nina.client.post("/api/v1/adverse-events", json=AE, headers={**nina.headers, "Idempotency-Key": key})
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["error"]["fields"]


def test_it_makes_one_ae_of_two_concurrent_identical_posts(app, api, s01, db):
    """Two clients post the same AE with the same key at the same instant: the IMMEDIATE transaction and the
    UNIQUE (user_id, key) constraint make one AE; both get 201 with the same AE."""
    nina = api("nurse_nina")
    start = threading.Barrier(2)
    answers: list = [None, None]

    def send(i):
        client = app.test_client()
        start.wait()
        answers[i] = client.post("/api/v1/adverse-events", json=AE,
                                 headers={**nina.headers, "Idempotency-Key": "double-tap"})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].get_json()["id"] == answers[1].get_json()["id"]
    assert sorted(a.headers.get("Idempotent-Replayed", "no") for a in answers) == ["no", "true"]
    assert count(db) == 1


def test_it_keeps_the_key_unique_in_the_database_itself(api, s01, db, people):
    post(api("nurse_nina"), "dbkey")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO idempotency_keys (user_id, key, scope, fingerprint, status, entity, entity_id, "
                   "response, created_at) VALUES (?, 'dbkey', 's', 'f', 201, 'adverse_event', '9', '{}', 'now')",
                   [people["nurse_nina"]["id"]])


# ------------------------------------------------------------------------------------------ one-time form tokens

def token_of(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


def test_it_lands_a_double_submitted_form_on_the_first_ae(web, s01, db):
    nina = web("nurse_nina")
    page = nina.get(NEW).get_data(as_text=True)
    data = {**FORM, "form_token": token_of(page), "csrf_token": csrf_from(page)}
    first = nina.client.post(NEW, data=data)
    second = nina.client.post(NEW, data=data)  # the double click, or the browser's "resend"
    assert first.status_code == 302 and second.status_code == 302
    [ae] = rows(db, "SELECT id FROM adverse_events")
    assert second.headers["Location"].endswith(f"/ae/{ae['id']}")
    landed = nina.get(second.headers["Location"]).get_data(as_text=True)
    assert "already submitted" in landed and "S01-001-AE1" in landed
    assert count(db) == 1


def test_it_gives_each_shown_form_its_own_token(web, s01, db):
    nina = web("nurse_nina")
    for _ in range(2):
        page = nina.get(NEW).get_data(as_text=True)
        nina.client.post(NEW, data={**FORM, "form_token": token_of(page), "csrf_token": csrf_from(page)})
    assert count(db) == 2  # two forms opened and sent: two AEs, as she meant


def test_it_keeps_the_token_of_a_refused_form_for_the_corrected_submit(web, s01, db):
    nina = web("nurse_nina")
    page = nina.get(NEW).get_data(as_text=True)
    token = token_of(page)
    refused = nina.client.post(NEW, data={**FORM, "grade": "9", "form_token": token, "csrf_token": csrf_from(page)})
    assert refused.status_code == 422 and token_of(refused.get_data(as_text=True)) == token
    fixed = nina.client.post(NEW, data={**FORM, "form_token": token, "csrf_token": csrf_from(page)})
    assert fixed.status_code == 302 and count(db) == 1


def test_it_refuses_a_form_without_its_token_or_with_another_users(web, s01, db, enrol):
    nina = web("nurse_nina")
    page = nina.get(NEW).get_data(as_text=True)
    r = nina.client.post(NEW, data={**FORM, "csrf_token": csrf_from(page)})
    assert r.status_code == 422 and 'data-field="form_token"' in r.get_data(as_text=True)
    token = token_of(page)
    nina.client.post(NEW, data={**FORM, "form_token": token, "csrf_token": csrf_from(page)})
    ivan = web("investigator_ivan")
    ivan_page = ivan.get(NEW).get_data(as_text=True)
    stolen = ivan.client.post(NEW, data={**FORM, "form_token": token, "csrf_token": csrf_from(ivan_page)})
    assert stolen.status_code == 422 and count(db) == 1


def test_it_records_a_report_once_from_a_double_submitted_report_form(web, api, enrol, db):
    enrol("S01-001")
    sae = api("nurse_nina").post("/api/v1/adverse-events", json={
        **AE, "serious": True, "seriousness": ["hospitalization"], "grade": 3}).get_json()
    ivan = web("investigator_ivan")
    page = ivan.get(f"/ae/{sae['id']}").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="report-form".*?</form>', page, re.S).group(0)
    data = {"form_token": token_of(form), "csrf_token": csrf_from(page), "kind": "initial", "recipient": "sponsor",
            "sent_at": "", "summary": "first report"}
    for _ in range(2):
        assert ivan.client.post(f"/ae/{sae['id']}/reports", data=data).status_code == 302
    assert rows(db, "SELECT number FROM sae_reports") == [{"number": 0}]
    shown = ivan.get(f"/ae/{sae['id']}").get_data(as_text=True)
    assert 'data-report="0"' in shown and "CIOMS I form" in shown and "Record a follow-up report" in shown


# ---------------------------------------------------------------------------------------- versions: no lost update

@pytest.fixture
def ae(api, s01):
    return api("nurse_nina").post("/api/v1/adverse-events", json=AE).get_json()


def test_it_answers_428_to_a_patch_without_its_version_and_changes_nothing(api, ae, db):
    r = api("nurse_nina").patch(f"/api/v1/adverse-events/{ae['id']}", json={"grade": 3, "reason": "worse"})
    assert r.status_code == 428
    assert r.get_json()["error"]["code"] == "version_required" and "version" in r.get_json()["error"]["fields"]
    assert rows(db, "SELECT grade, version FROM adverse_events") == [{"grade": 2, "version": 1}]


def test_it_answers_409_to_a_stale_patch_and_keeps_the_other_change(api, ae, db):
    ivan, nina = api("investigator_ivan"), api("nurse_nina")
    assert ivan.patch(f"/api/v1/adverse-events/{ae['id']}",
                      json={"grade": 3, "reason": "clots", "version": 1}).status_code == 200
    r = nina.patch(f"/api/v1/adverse-events/{ae['id']}", json={"outcome": "recovered", "end_date": "2026-01-20",
                                                                 "reason": "resolved", "version": 1})
    assert r.status_code == 409 and "version 2" in r.get_json()["error"]["message"]
    assert rows(db, "SELECT grade, outcome, version FROM adverse_events") == [
        {"grade": 3, "outcome": "recovering", "version": 2}]


def amend_page(user, ae_id):
    page = user.get(f"/ae/{ae_id}/amend").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    return page, version


def test_it_carries_the_version_in_the_amend_form_and_shows_a_stale_edit_on_the_page(web, ae, db):
    nina, ivan = web("nurse_nina"), web("investigator_ivan")
    nina_page, nina_version = amend_page(nina, ae["id"])
    ivan_page, ivan_version = amend_page(ivan, ae["id"])
    assert nina_version == ivan_version == "1"
    base = {**FORM, "version": "1"}
    ok = ivan.client.post(f"/ae/{ae['id']}/amend", data={**base, "grade": "3", "reason": "clots",
                                                         "csrf_token": csrf_from(ivan_page)})
    assert ok.status_code == 302
    stale = nina.client.post(f"/ae/{ae['id']}/amend", data={**base, "outcome": "recovered", "end_date": "2026-01-20",
                                                            "reason": "resolved", "csrf_token": csrf_from(nina_page)})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert 'id="stale-version"' in html and "You edited version 1; it is now version 2" in html
    assert 'value="2026-01-20"' in html          # what she typed is kept
    assert 'name="version" value="2"' in html    # and a second save amends the current version
    assert rows(db, "SELECT outcome, version FROM adverse_events") == [{"outcome": "recovering", "version": 2}]


def test_it_refuses_an_amend_form_without_a_version(web, ae, db):
    nina = web("nurse_nina")
    page, _ = amend_page(nina, ae["id"])
    r = nina.client.post(f"/ae/{ae['id']}/amend", data={**FORM, "grade": "3", "reason": "x",
                                                         "csrf_token": csrf_from(page)})
    assert r.status_code == 422 and 'data-field="version"' in r.get_data(as_text=True)
    assert rows(db, "SELECT version FROM adverse_events") == [{"version": 1}]
