"""Hostile input that answered 500 (issue 15, finding 8): 404, 400 and a safe redirect instead.

Story: a probe sends an id beyond SQLite's 64 bits to every route, a JSON body of 100,000 "[", and a sign-in
link whose next= carries CR/LF to split the redirect header.
"""
from __future__ import annotations

import pytest

from conftest import PASSWORD, csrf_from

HUGE = "99999999999999999999999"


def test_it_answers_404_for_an_ae_an_alert_and_an_api_id_beyond_64_bits(web, api):
    sam, officer = web("safety_sam"), api("safety_sam")
    for url in (f"/ae/{HUGE}", f"/alerts/{HUGE}"):
        assert sam.get(url).status_code == 404, url
    for url in (f"/api/v1/adverse-events/{HUGE}", f"/api/v1/labs/{HUGE}"):
        r = officer.get(url)
        assert r.status_code == 404 and r.json["error"]["code"] == "not_found", url
    assert officer.post(f"/api/v1/alerts/{HUGE}/acknowledge", json={"comment": "x"}).status_code == 404


def test_it_answers_no_500_for_a_huge_value_in_any_path_argument(app, web, api):
    """Every GET route, every path argument replaced by a 23-digit number, as a study-wide role."""
    sam, officer = web("safety_sam"), api("safety_sam")
    failed = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.arguments or rule.endpoint == "static":
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<{arg}>", HUGE)
            url = __import__("re").sub(rf"<[a-z]+(\([^)]*\))?:{arg}>", HUGE, url)
        r = officer.get(url) if url.startswith("/api/") else sam.get(url)
        if r.status_code >= 500:
            failed.append(f"{url} -> {r.status_code}")
    assert failed == []


@pytest.mark.parametrize("url", ["/api/v1/adverse-events", "/api/v1/participants"])
def test_it_answers_400_for_json_nested_100000_deep(api, db, url):
    r = api("nurse_nina").client.post(url, data="[" * 100_000, content_type="application/json",
                                      headers=api("nurse_nina").headers)
    assert r.status_code == 400 and r.json["error"]["code"] == "bad_request"
    assert db.execute("SELECT count(*) FROM adverse_events").fetchone()[0] == 0


def test_it_still_answers_422_for_json_that_is_not_an_object(api):
    r = api("nurse_nina").post("/api/v1/adverse-events", json=[1, 2])
    assert r.status_code == 422


@pytest.mark.parametrize("target", ["/participants\r\nSet-Cookie: x=1", "/\r\nLocation: https://evil.example",
                                    "/\\evil.example", "/participants\nX: y"])
def test_it_redirects_to_home_when_next_carries_cr_lf_or_a_backslash(app, people, target):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", query_string={"next": target}, data={
        "email": people["nurse_nina"]["email"], "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/" and "Set-Cookie: x" not in str(r.headers)


def test_it_keeps_a_plain_next_path_after_sign_in(app, people):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", query_string={"next": "/participants?site=S01"}, data={
        "email": people["nurse_nina"]["email"], "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/participants?site=S01"
