"""Sign-in and e-signature lockout without enumeration or lockout abuse (issue 15, findings 2 and 5).

Story: mallory, from 198.51.100.66, guesses e-mails and passwords; nurse_nina works from 10.1.1.20;
investigator_ivan leaves his session open and someone tries passwords on the SAE sign-off.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from conftest import NOW, PASSWORD, WebUser
from safety_service.db import atomic
from safety_service.domain import adverse_events, users
from safety_service.domain.errors import InvalidInput

MALLORY, NINA_PC = "198.51.100.66", "10.1.1.20"


def client(app, email, address):
    user = WebUser(app.test_client(), email)
    user.client.environ_base["REMOTE_ADDR"] = address
    return user


def message(response) -> str:
    return re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1)


@pytest.fixture
def verifications(monkeypatch):
    """Counts argon2 verifications: the cost an attacker can time."""
    calls = []
    hasher = users._hasher
    real = hasher.verify

    class Counting:
        def __getattr__(self, name):
            return getattr(hasher, name)

        def verify(self, h, p):
            calls.append(h)
            return real(h, p)
    monkeypatch.setattr(users, "_hasher", Counting())
    return calls


def test_it_spends_one_argon2_verification_on_an_unknown_email_as_on_a_real_one(app, people, verifications):
    """Before: a real account's wrong password took ~300 ms (argon2), an unknown e-mail 3 ms (none)."""
    unknown = client(app, "nobody@example.org", MALLORY).sign_in("some password")
    assert len(verifications) == 1
    wrong = client(app, people["nurse_nina"]["email"], MALLORY).sign_in("some password")
    assert len(verifications) == 2
    assert unknown.status_code == wrong.status_code == 401 and message(unknown) == message(wrong)


def test_it_gives_one_message_for_unknown_wrong_paused_locked_and_inactive(app, db, people, clock):
    nina = people["nurse_nina"]["email"]
    answers = {"unknown": client(app, "nobody@example.org", MALLORY).sign_in(),
               "wrong": client(app, nina, MALLORY).sign_in("not it at all")}
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        client(app, nina, MALLORY).sign_in("not it at all")
    answers["paused"] = client(app, nina, MALLORY).sign_in()
    db.execute("UPDATE users SET locked_until = '2026-06-15T11:00:00+00:00' WHERE email = ?",
               [people["investigator_ivan"]["email"]])
    answers["locked"] = client(app, people["investigator_ivan"]["email"], NINA_PC).sign_in()
    users.set_active(db, people["auditor_ada"]["id"], False, actor=people["admin_alex"], reason="left", now=NOW)
    answers["inactive"] = client(app, people["auditor_ada"]["email"], NINA_PC).sign_in()
    assert {r.status_code for r in answers.values()} == {401}
    assert len({message(r) for r in answers.values()}) == 1, {k: message(r) for k, r in answers.items()}
    assert "locked" not in message(answers["wrong"]).split("or")[0]


def test_it_lets_the_nurse_in_from_her_computer_while_the_attacker_is_paused(app, people):
    nina = people["nurse_nina"]["email"]
    for _ in range(app.config["MAX_FAILED_LOGINS"] * 3):
        client(app, nina, MALLORY).sign_in("guess-guess-guess")
    assert client(app, nina, MALLORY).sign_in().status_code == 401
    assert client(app, nina, NINA_PC).sign_in().status_code == 302


def test_it_doubles_the_pause_each_time_the_attacker_comes_back(app, people, clock, db):
    nina, pause = people["nurse_nina"]["email"], app.config["LOCKOUT_MINUTES"]
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        client(app, nina, MALLORY).sign_in("guess-guess-guess")
    clock.advance(minutes=pause + 1)  # first pause over: five more guesses
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        client(app, nina, MALLORY).sign_in("guess-guess-guess")
    clock.advance(minutes=2 * pause - 1)
    assert client(app, nina, MALLORY).sign_in().status_code == 401  # still paused: the second pause is twice as long
    clock.advance(minutes=2)
    assert client(app, nina, MALLORY).sign_in().status_code == 302
    assert db.execute("SELECT count(*) FROM sign_in_throttle").fetchone()[0] == 0  # a success clears the pair


def test_it_does_not_count_guesses_while_paused(app, people, clock, db):
    nina = people["nurse_nina"]["email"]
    for _ in range(app.config["MAX_FAILED_LOGINS"] + 10):
        client(app, nina, MALLORY).sign_in("guess-guess-guess")
    pair = db.execute("SELECT failures, pauses FROM sign_in_throttle").fetchone()
    assert pair == (0, 1)


# --- e-signatures ----------------------------------------------------------------------------------------------

@pytest.fixture
def sae(app, db, people, enrol):
    enrol("S01-001")
    rb = app.extensions["rulebook"]
    return adverse_events.create(db, {
        "subject_id": "S01-001", "term": "Hematuria", "verbatim": "blood in urine", "grade": 3, "onset": "2026-06-14",
        "serious": True, "seriousness": ["hospitalization"], "relatedness_product": "possible",
        "relatedness_procedure": "probable", "expected": False, "action_taken": "not_applicable",
        "outcome": "recovering"}, catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
        actor=people["nurse_nina"], now=NOW)


def test_it_counts_failed_sae_signatures_and_refuses_the_right_password_once_locked(app, db, people, sae):
    """Before: twenty wrong sign-off passwords were refused but never counted; the 21st signed."""
    ivan = people["investigator_ivan"]
    for _ in range(20):
        with pytest.raises(InvalidInput):
            adverse_events.sign_off(db, sae["id"], password="guess-guess-guess", actor=ivan, now=NOW)
    with pytest.raises(InvalidInput):
        adverse_events.sign_off(db, sae["id"], password=PASSWORD, actor=ivan, now=NOW)
    assert adverse_events.get(db, sae["id"], user=None)["signed_off_at"] is None
    locked = users.get(db, ivan["id"])["locked_until"]
    assert locked == "2026-06-15T10:15:00+00:00"
    assert db.execute("SELECT count(*) FROM audit_log WHERE entity = 'user' AND action = 'e_signature_failed' "
                      "AND field = 'failed_signatures'").fetchone()[0] == 20


def test_it_ends_the_session_and_refuses_sign_in_everywhere_once_signatures_lock_the_account(app, db, web, people,
                                                                                               sae, clock):
    ivan = web("investigator_ivan")
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        r = ivan.post_form(f"/ae/{sae['id']}/sign-off", {"password": "guess-guess-guess"},
                           from_page=f"/ae/{sae['id']}/sign-off")
    assert r.status_code in (302, 422)
    page = ivan.get(f"/ae/{sae['id']}")
    assert page.status_code == 302 and "/login" in page.headers["Location"]  # the open session ended
    assert client(app, people["investigator_ivan"]["email"], NINA_PC).sign_in().status_code == 401
    clock.advance(minutes=app.config["LOCKOUT_MINUTES"] + 1)
    assert client(app, people["investigator_ivan"]["email"], NINA_PC).sign_in().status_code == 302


def test_it_resets_the_signature_count_after_a_good_signature(db, people):
    ivan = people["investigator_ivan"]
    for _ in range(4):
        assert not users.verify_signature(db, ivan["id"], "guess-guess-guess", now=NOW)
    assert users.verify_signature(db, ivan["id"], PASSWORD, now=NOW)
    assert users.get(db, ivan["id"])["failed_logins"] == 0


def test_it_refuses_to_count_a_signature_inside_a_transaction_that_could_roll_it_back(db, people):
    with pytest.raises(RuntimeError, match="outside a transaction"):
        with atomic(db):
            users.verify_signature(db, people["investigator_ivan"]["id"], "guess-guess-guess", now=NOW)


from test_eligibility import screening  # noqa: E402,F401  (the fixture: a screened participant failing IN05)


def test_it_counts_failed_protocol_deviation_signatures_toward_the_same_lock(app, db, people, screening):
    """Any e-signature, not only the SAE sign-off: the deviation signature goes through users.verify_signature."""
    screening.labs(uacr=(3500, None))
    screening.answer_all()
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        with pytest.raises(InvalidInput):
            screening.sign(password="guess-guess-guess")
    with pytest.raises(InvalidInput):
        screening.sign()  # the right password, once the account is locked
    assert users.get(db, people["investigator_ivan"]["id"])["locked_until"] == "2026-06-15T10:15:00+00:00"


def test_it_takes_the_client_address_from_the_proxy_when_told_to(tmp_path, clock):
    """Behind nginx every request comes from 127.0.0.1: without SAFETY_PROXY_HOPS one attacker pauses everyone."""
    from safety_service import create_app
    from safety_service.db import connect
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "p.db"), "INSTANCE_PATH": str(tmp_path / "i"),
                      "CLOCK": clock, "SECRET_KEY": "test-secret", "PROXY_HOPS": 1})
    db = connect(app.config["DATABASE"])
    users.create(db, email="nina@example.org", role="nurse", site="S01", password=PASSWORD, now=NOW)
    db.conn.close()
    attacker, nurse = client(app, "nina@example.org", "127.0.0.1"), client(app, "nina@example.org", "127.0.0.1")
    attacker.client.environ_base["HTTP_X_FORWARDED_FOR"] = MALLORY
    nurse.client.environ_base["HTTP_X_FORWARDED_FOR"] = NINA_PC
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        attacker.sign_in("guess-guess-guess")
    assert attacker.sign_in().status_code == 401
    assert nurse.sign_in().status_code == 302


def test_it_forgets_guessed_emails_quiet_for_two_days(app, db, clock):
    for n in range(3):
        client(app, f"guess{n}@example.org", MALLORY).sign_in("guess-guess-guess")
    assert db.execute("SELECT count(*) FROM sign_in_throttle").fetchone()[0] == 3
    clock.advance(timedelta(days=2, minutes=1))
    client(app, "another@example.org", MALLORY).sign_in("guess-guess-guess")
    assert [r[0] for r in db.execute("SELECT email FROM sign_in_throttle")] == ["another@example.org"]
