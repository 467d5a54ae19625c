"""Security review as tests: headers, cookies, CSRF, idle timeout, lockout, logs, oversized input.

Each test is one thing an attacker or a careless moment could do to a signed-in nurse's session.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import NOW, PASSWORD, WebUser, csrf_from
from safety_service import create_app
from safety_service.domain import users

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ENROL = {"subject_id": "S01-021", "site": "S01", "sex": "F", "birth_date": "1961-04-09", "weight_kg": "70",
         "consent_on": "2026-06-01", "enrolled_on": "2026-06-02"}


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def directives(csp: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in csp.split(";")) if part}


# --- headers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who,url", [(None, "/login"), ("nurse_nina", "/"), ("nurse_nina", "/participants"),
                                     ("nurse_nina", "/no-such-page"), ("api", "/api/v1/participants"),
                                     (None, "/healthz")])
def test_it_sends_the_security_headers_on_pages_api_and_errors(app, web, api, who, url):
    client = app.test_client() if who is None else (api("safety_sam") if who == "api" else web(who))
    r = client.get(url)
    csp = directives(r.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]  # our own static files only: no inline script, no eval, no CDN
    assert csp["frame-ancestors"] == ["'none'"] and r.headers["X-Frame-Options"] == "DENY"
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["default-src"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "no-store"


def test_it_lets_browsers_cache_only_the_static_files(web):
    nina = web("nurse_nina")
    css = nina.get("/static/style.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")
    assert nina.get("/participants").headers["Cache-Control"] == "no-store"


def test_it_sends_hsts_only_when_served_over_https(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "s.db"), "INSTANCE_PATH": str(tmp_path / "i"),
                      "SECRET_KEY": "k", "BASE_URL": "https://safety.example.org"})
    assert app.test_client().get("/login").headers["Strict-Transport-Security"].startswith("max-age=")


def inline_script_offenders() -> list[str]:
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline {m.group(0)}")
        for m in re.finditer(r"\son[a-z]+\s*=\s*[\"']", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: inline event handler {m.group(0).strip()}")
        for m in re.finditer(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", text):
            offenders.append(f"{path.relative_to(TEMPLATES)}: external resource {m.group(0)}")
    return offenders


def test_it_keeps_every_script_in_a_static_file():
    """The CSP blocks inline scripts and inline event handlers; a template that uses one is broken in browsers."""
    assert inline_script_offenders() == []


# --- cookies and sessions ------------------------------------------------------------------------------------

def test_it_marks_the_session_cookie_httponly_and_samesite(app, people):
    client = app.test_client()
    r = WebUser(client, people["nurse_nina"]["email"]).sign_in()
    cookie = next(v for v in r.headers.getlist("Set-Cookie") if v.startswith("safety_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires" not in cookie and "Max-Age" not in cookie  # a browser session, not a week-long cookie


def test_it_marks_the_session_cookie_secure_behind_https(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "s.db"), "INSTANCE_PATH": str(tmp_path / "i"),
                      "SECRET_KEY": "k", "BASE_URL": "https://safety.example.org"})
    cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_it_gives_a_fresh_session_at_sign_in(app, people):
    """No session fixation: a cookie planted before sign-in is not the one that carries the signed-in user."""
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie("safety_session").value
    WebUser(client, people["nurse_nina"]["email"]).sign_in()
    assert client.get_cookie("safety_session").value != before


def test_it_does_not_let_an_idle_session_post_a_form(web, clock, app, db):
    nina = web("nurse_nina")
    token = csrf_from(nina.get("/participants/new").get_data(as_text=True))
    clock.advance(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    r = nina.client.post("/participants/new", data={**ENROL, "csrf_token": token})
    assert r.status_code == 302 and "/login" in r.headers["Location"]  # sign in again: the form is not taken
    assert count(db, "participants") == 0


def test_it_ends_the_session_at_sign_out(web, db):
    nina = web("nurse_nina")
    assert nina.post_form("/logout", {}).status_code == 302
    assert nina.get("/participants").status_code == 302
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'sign_out'").fetchone()[0] == 1


# --- CSRF ----------------------------------------------------------------------------------------------------

def test_it_refuses_a_csrf_token_taken_from_another_session(web, db):
    nina, ivan = web("nurse_nina"), web("investigator_ivan")
    stolen = csrf_from(ivan.get("/participants/new").get_data(as_text=True))
    r = nina.client.post("/participants/new", data={**ENROL, "csrf_token": stolen})
    assert r.status_code == 400
    assert count(db, "participants") == 0


def test_it_refuses_a_cross_site_sign_out(web):
    nina = web("nurse_nina")
    assert nina.client.post("/logout").status_code == 400
    assert nina.get("/participants").status_code == 200  # still signed in


def test_it_refuses_a_sign_in_form_without_its_token(app, people, db):
    """Login CSRF: a forged form could sign a nurse into an attacker's account."""
    r = app.test_client().post("/login", data={"email": people["nurse_nina"]["email"], "password": PASSWORD})
    assert r.status_code == 400
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'sign_in'").fetchone()[0] == 0


def test_it_accepts_a_form_with_its_own_token(web, db):
    nina = web("nurse_nina")
    r = nina.post_form("/participants/new", ENROL, from_page="/participants/new")
    assert r.status_code == 302, r.get_data(as_text=True)
    assert count(db, "participants") == 1


# --- sign-in lockout -----------------------------------------------------------------------------------------

def test_it_pauses_the_attackers_address_not_the_nurses_and_audits_the_pause(app, people, db, clock):
    """Issue 15: anyone could lock any account for 15 minutes, again and again. Now the pause holds for the
    e-mail from the attacker's address only (tests/test_sign_in_lockout.py has the whole story)."""
    email = people["nurse_nina"]["email"]
    attacker = WebUser(app.test_client(), email)
    attacker.client.environ_base["REMOTE_ADDR"] = "198.51.100.66"
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        attacker.sign_in("guess-" + "x" * 8)
    assert attacker.sign_in().status_code == 401  # even the right password, from there
    nurse = WebUser(app.test_client(), email)
    nurse.client.environ_base["REMOTE_ADDR"] = "10.1.1.20"
    assert nurse.sign_in().status_code == 302
    reasons = [r[0] for r in db.execute("SELECT reason FROM audit_log WHERE actor = ? AND action LIKE 'sign_in%' "
                                        "ORDER BY id", [email])]
    assert "paused until" in reasons[app.config["MAX_FAILED_LOGINS"] - 1] and "198.51.100.66" in reasons[0]
    assert reasons[-2].startswith("paused for this e-mail from 198.51.100.66") and reasons[-1] == "from 10.1.1.20"


def test_it_answers_the_same_for_an_unknown_account_and_a_wrong_password(app, people):
    """The sign-in page must not tell an attacker which e-mail addresses have accounts."""
    unknown = WebUser(app.test_client(), "nobody@example.org").sign_in()
    wrong = WebUser(app.test_client(), people["nurse_nina"]["email"]).sign_in("not the password")
    assert unknown.status_code == wrong.status_code == 401

    def message(r):
        return re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', r.get_data(as_text=True)).group(1)
    assert message(unknown) == message(wrong)


def test_it_never_echoes_the_password_back(app, people):
    secret = "Tr0ub4dor&3-secret"
    r = WebUser(app.test_client(), people["nurse_nina"]["email"]).sign_in(secret)
    assert secret not in r.get_data(as_text=True)


# --- logs ----------------------------------------------------------------------------------------------------

def test_it_writes_no_secrets_or_patient_data_to_the_logs(app, people, db, caplog):
    caplog.set_level(logging.DEBUG)
    token = users.create_token(db, people["nurse_nina"]["email"], now=NOW)
    secret_password = "Wrong-But-Secret-42"
    client = app.test_client()
    WebUser(client, people["nurse_nina"]["email"]).sign_in(secret_password)
    WebUser(client, people["nurse_nina"]["email"]).sign_in()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/participants", json={**ENROL, "weight_kg": 70}, headers=headers)
    assert r.status_code == 201
    client.post("/api/v1/participants", json={**ENROL, "subject_id": "S01-022", "birth_date": "not-a-date"},
                headers=headers)
    client.get("/api/v1/participants", headers={"Authorization": "Bearer sst_forged"})
    logged = "\n".join(f"{rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records)
    for secret in (PASSWORD, secret_password, token, token[8:], app.config["SECRET_KEY"], ENROL["birth_date"]):
        assert secret not in logged


# --- oversized input -----------------------------------------------------------------------------------------

def test_it_refuses_an_oversized_api_body_with_413(api, app, db):
    limit = app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    body = b'{"subject_id": "S01-030", "verbatim": "' + b"x" * limit + b'"}'
    r = api("nurse_nina").client.post("/api/v1/participants", data=body, content_type="application/json",
                                      headers=api("nurse_nina").headers)
    assert r.status_code == 413 and r.json["error"]["code"] == "request_entity_too_large"
    assert count(db, "participants") == 0


def test_it_refuses_an_oversized_upload_with_413(web, app, db):
    import io
    nina = web("nurse_nina")
    token = csrf_from(nina.get("/participants/new").get_data(as_text=True))
    big = io.BytesIO(b"subject_id,analyte\n" + b"S01-001,creatinine\n" * (app.config["MAX_UPLOAD_MB"] * 60_000))
    r = nina.client.post("/participants/new", data={**ENROL, "csrf_token": token, "file": (big, "labs.csv")},
                         content_type="multipart/form-data")
    assert r.status_code == 413
    assert count(db, "participants") == 0


def test_it_refuses_an_oversized_form_post(web, app, db):
    nina = web("nurse_nina")
    token = csrf_from(nina.get("/participants/new").get_data(as_text=True))
    huge = "S" * (app.config["MAX_UPLOAD_MB"] * 1024 * 1024 + 1)
    r = nina.client.post("/participants/new", data={**ENROL, "csrf_token": token, "subject_id": huge})
    assert r.status_code == 413
    assert count(db, "participants") == 0


def test_it_answers_an_injection_attempt_in_a_filter_with_nothing(api, enrol):
    enrol("S01-001")
    enrol("S02-001")
    r = api("safety_sam").get("/api/v1/participants", query_string={"site": "S01' OR '1'='1"})
    assert r.status_code == 200 and r.json == []


def test_it_keeps_the_smtp_password_out_of_logs_and_stored_errors(app, db, caplog):
    """A refused SMTP login is logged and stored as an error to fix; the password itself never is."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from safety_service.domain import outbox
    from safety_service.jobs.mail import send_due

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    password = "Sm7p-Pa55word-do-not-log"
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_USER="mailer", SMTP_PASSWORD=password,
                      MAIL_FROM="safety@trial.example")
    outbox.enqueue(db, key="k", kind="alert", template="alert", recipient="safety_sam@example.org", subject="s",
                   text="t", html="<p>h</p>", mail_from="safety@trial.example", now=NOW)
    server = Controller(Sink(), hostname="127.0.0.1", port=port, auth_required=True, auth_require_tls=False,
                        authenticator=lambda *a: AuthResult(success=False, handled=False))
    caplog.set_level(logging.DEBUG)
    server.start()
    try:
        assert send_due(db, app.extensions["rulebook"], app.config, NOW) == 0
    finally:
        server.stop()
    stored = " ".join(str(v) for r in db.query("SELECT * FROM outbox") for v in r.values())
    stored += " ".join(str(v) for r in db.query("SELECT * FROM audit_log") for v in r.values())
    logged = "\n".join(f"{rec.getMessage()} {rec.exc_text or ''}" for rec in caplog.records)
    assert "535" in stored  # the refusal is kept for the admin to see ...
    assert password not in stored and password not in logged  # ... without the secret
