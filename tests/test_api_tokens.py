"""API tokens that expire and can be revoked (issue 15, finding 6).

Story: the EDC integration of site S01 calls the API with investigator_ivan's token; tokens used to live
forever. Now they expire (90 days unless created with --days) and can be listed and revoked from the CLI
(and from the admin's account page: tests/test_admin.py).
"""
from __future__ import annotations

from datetime import timedelta

from conftest import ApiUser, NOW
from safety_service.domain import users


def test_it_expires_a_token_after_90_days_by_default(app, db, people, clock):
    ivan = ApiUser(app.test_client(), users.create_token(db, people["investigator_ivan"]["email"], now=NOW))
    assert ivan.get("/api/v1/alerts").status_code == 200
    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    assert ivan.get("/api/v1/alerts").status_code == 200
    clock.advance(timedelta(seconds=1))
    r = ivan.get("/api/v1/alerts")
    assert r.status_code == 401 and r.json["error"]["code"] == "unauthenticated"


def test_it_creates_lists_and_revokes_tokens_from_the_cli(app, db, people, clock):
    runner = app.test_cli_runner()
    email = people["investigator_ivan"]["email"]
    created = runner.invoke(args=["token", "create", email, "--days", "7"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    ivan = ApiUser(app.test_client(), token)
    assert ivan.get("/api/v1/alerts").status_code == 200
    listed = runner.invoke(args=["token", "list", email])
    assert listed.exit_code == 0 and token[:8] in listed.output and "2026-06-22T10:00:00+00:00" in listed.output
    assert token not in listed.output  # only its first characters
    token_id = users.tokens_of(db, people["investigator_ivan"]["id"], now=NOW)[0]["id"]
    revoked = runner.invoke(args=["token", "revoke", str(token_id), "--reason", "integration retired"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert ivan.get("/api/v1/alerts").status_code == 401
    assert "revoked" in runner.invoke(args=["token", "list", email]).output
    again = runner.invoke(args=["token", "revoke", str(token_id)])
    assert again.exit_code == 1 and "was revoked" in again.output
    entry = db.execute("SELECT actor, reason FROM audit_log WHERE action = 'token_revoke'").fetchone()
    assert entry == ("cli", "integration retired")


def test_it_refuses_a_lifetime_out_of_range_and_an_unknown_user(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["token", "create", "x@example.org", "--days", "0"]).exit_code == 2
    r = runner.invoke(args=["token", "list", "nobody@example.org"])
    assert r.exit_code == 1 and "no such user" in r.output


def test_it_lets_no_token_of_a_deactivated_user_in(app, db, people, api):
    sam = api("safety_sam")
    users.set_active(db, people["safety_sam"]["id"], False, actor=people["admin_alex"], reason="left", now=NOW)
    assert sam.get("/api/v1/alerts").status_code == 401
