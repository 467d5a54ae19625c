"""The password policy (issue 15, finding 7): length, not the e-mail, not a common password; passphrases welcome.

Story: admin_alex creates accounts and nurses choose their own passwords; before, any 10 characters passed.
"""
from __future__ import annotations

import pytest

from conftest import NOW
from safety_service.domain import users
from safety_service.domain.security import passwords

EMAIL = "nina.berg@site-s01.example.org"


@pytest.mark.parametrize("password", ["1234567890", "qwertyuiop", "password123", "1qaz2wsx3edc", "PASSWORD123"])
def test_it_refuses_a_common_password(password):
    assert "most common" in passwords.problem(password, EMAIL)


@pytest.mark.parametrize("password", [EMAIL, EMAIL.upper(), "nina.berg!", "ninaberg2026", "Nina-Berg!!"])
def test_it_refuses_the_accounts_email_and_its_name_part(password):
    problem = passwords.problem(password, EMAIL)
    assert problem and "e-mail" in problem


@pytest.mark.parametrize("password", ["correct horse battery staple", "blue kettle on the stove",
                                      "ein langer satz aus wörtern", "tr4v3l-m0untain-s0up"])
def test_it_accepts_a_passphrase_without_composition_rules(password):
    assert passwords.problem(password, EMAIL) is None


def test_it_measures_length_only_at_the_boundaries():
    assert passwords.problem("a" * 9 + "z", EMAIL) is None or "common" in passwords.problem("a" * 9 + "z", EMAIL)
    assert "at least 10" in passwords.problem("zq9vx7wk3", EMAIL)       # 9 characters
    assert passwords.problem("zq9vx7wk3m", EMAIL) is None               # exactly 10
    assert passwords.problem("w" * 256, EMAIL) is None                   # exactly the maximum
    assert "at most 256" in passwords.problem("w" * 257, EMAIL)


def test_it_ships_the_list_with_its_source_and_ten_thousand_entries():
    head = passwords.LIST_FILE.read_text(encoding="utf-8").splitlines()[:5]
    assert any("Source" in line for line in head) and any("MIT" in line for line in head)
    assert len(passwords.common()) == 10_000


def test_it_applies_the_policy_when_an_account_is_created(db):
    with pytest.raises(users.UserError) as e:
        users.create(db, email=EMAIL, role="nurse", site="S01", password="qwerty123456", now=NOW)
    assert e.value.field == "password"
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_it_applies_the_policy_from_the_cli(app):
    r = app.test_cli_runner().invoke(args=["user", "add", EMAIL, "--role", "auditor", "--password-stdin"],
                                     input="nina.berg.2026\n")
    assert r.exit_code == 1 and "e-mail" in r.output
