"""Server-side sessions (issue 15, finding 1): a cookie copied before sign-out reads nothing afterwards.

Story: nurse_nina works on a shared ward computer; someone copies her session cookie. Signing out, going idle,
being deactivated or changing her password must each end that copy too.
"""
from __future__ import annotations

from datetime import timedelta

from conftest import NOW, PASSWORD
from safety_service.domain import users

COOKIE = "safety_session"


def replay(app, victim):
    """A second browser carrying a copy of the victim's cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, victim.client.get_cookie(COOKIE).value)
    return thief


def sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_it_lets_a_copied_cookie_read_only_while_the_session_stands(app, web):
    nina = web("nurse_nina")
    thief = replay(app, nina)
    assert thief.get("/participants").status_code == 200  # a live session: the cookie is the credential
    nina.post_form("/logout", {})
    assert sent_to_sign_in(thief.get("/participants"))  # before issue 15 this still answered 200


def test_it_refuses_a_form_posted_with_a_cookie_copied_before_sign_out(app, web, db, people):
    from conftest import csrf_from
    ivan = web("investigator_ivan")
    token = csrf_from(ivan.get("/participants").get_data(as_text=True))
    thief = replay(app, ivan)
    ivan.post_form("/logout", {})
    r = thief.post("/participants/new", data={"csrf_token": token, "subject_id": "S01-009"})
    assert sent_to_sign_in(r)
    assert db.execute("SELECT count(*) FROM participants").fetchone()[0] == 0


def test_it_ends_the_session_after_the_idle_timeout_even_for_a_copy(app, web, clock, db):
    nina = web("nurse_nina")
    thief = replay(app, nina)
    clock.advance(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    assert sent_to_sign_in(nina.get("/participants"))
    assert sent_to_sign_in(thief.get("/participants"))
    assert db.execute("SELECT end_reason FROM sessions").fetchone()[0] == "idle timeout"


def test_it_ends_every_session_of_a_deactivated_account(app, web, db, people):
    nina = web("nurse_nina")
    users.set_active(db, people["nurse_nina"]["id"], False, actor=people["admin_alex"], reason="left the trial",
                     now=NOW)
    assert sent_to_sign_in(nina.get("/participants"))
    assert db.execute("SELECT end_reason FROM sessions WHERE ended_at IS NOT NULL").fetchone()[0] == "account deactivated"


def test_it_ends_the_other_sessions_at_a_password_change_and_keeps_this_one(app, web, db):
    nina, other_browser = web("nurse_nina"), web("nurse_nina")
    r = nina.post_form("/account/password", {"current": PASSWORD, "password": "a quiet walk by the river",
                                             "confirm": "a quiet walk by the river"}, from_page="/account/password")
    assert r.status_code == 302, r.get_data(as_text=True)
    assert nina.get("/participants").status_code == 200
    assert sent_to_sign_in(other_browser.get("/participants"))
    assert nina.sign_in("a quiet walk by the river").status_code == 302


def test_it_keeps_only_a_session_id_in_the_cookie(app, web, db):
    nina = web("nurse_nina")
    from flask.sessions import SecureCookieSessionInterface
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    content = serializer.loads(nina.client.get_cookie(COOKIE).value)
    assert "uid" not in content and set(content) <= {"sid", "csrf_token", "_flashes", "_permanent"}
    assert db.execute("SELECT count(*) FROM sessions WHERE ended_at IS NULL").fetchone()[0] == 1


def test_it_refuses_the_old_cookie_form_that_named_the_user(app, web, people):
    """A cookie signed with the secret key but naming a user id, as before: no longer a credential."""
    from flask.sessions import SecureCookieSessionInterface
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    forged = app.test_client()
    forged.set_cookie(COOKIE, serializer.dumps({"uid": people["admin_alex"]["id"], "seen": NOW.isoformat()}))
    assert sent_to_sign_in(forged.get("/admin/users"))
