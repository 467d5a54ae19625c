"""Shared fixtures: an app on a real SQLite file per test, a fixed clock, personas and their clients.

Personas: nurse_nina (nurse, S01), nurse_noah (nurse, S02), investigator_ivan (investigator, S01),
safety_sam (safety officer), auditor_ada (auditor), admin_alex (admin). Every persona's password is PASSWORD.
"""
from __future__ import annotations

import copy
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jinja2 import BytecodeCache

from safety_service import create_app
from safety_service.clock import FixedClock
from safety_service.db import connect
from safety_service.domain import participants, users

pytest_plugins = ["browser"]  # the Playwright fixtures: demo_site, chromium, as_role (tests/browser.py)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"
PERSONAS = {
    "nurse_nina": ("nurse", "S01"),
    "nurse_noah": ("nurse", "S02"),
    "investigator_ivan": ("investigator", "S01"),
    "safety_sam": ("safety_officer", None),
    "auditor_ada": ("auditor", None),
    "admin_alex": ("admin", None),
}


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2():
    """Real argon2id hashes, at the lowest cost: production parameters would spend ~1 s per test on personas."""
    from argon2 import PasswordHasher
    kept = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    users._hasher = kept


@pytest.fixture(autouse=True, scope="session")
def _url_builders_compiled_once():
    """Each app's routes with the URL builders werkzeug compiled for the first app of the session.

    Why: werkzeug compiles a builder for every route of every app (~0.1 s an app, half a test's set-up). A builder is
    generated from the rule's text, parts and defaults only, and reads the rule it is bound to when called, so the
    function compiled for the same rule before is the one werkzeug would compile again.
    """
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:  # another werkzeug: compile as it does
        yield
        return
    compiled = {}

    def once(rule, append_unknown=True):
        key = (rule.rule, tuple(rule._trace), repr(sorted((rule.defaults or {}).items())), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(rule, append_unknown)
        return compiled[key]

    Rule._compile_builder = once
    yield
    Rule._compile_builder = compile_builder


@pytest.fixture(autouse=True, scope="session")
def _rules_parsed_once():
    """Each app's rulebook with the rules models parsed for the first app that read the same rules files.

    Why: parsing the TOML files (the CTCAE catalogue most) cost every test's app ~35 ms. The models are frozen and
    the key is the bytes of every file in the folder, so a test that edits or breaks a rules file has it read (and
    refused) as before; each app gets a Rulebook object of its own.
    """
    from safety_service import rulebook

    load = rulebook.load_rulebook
    parsed = {}

    def load_once(rules_dir):
        folder = Path(rules_dir)
        key = (str(folder), tuple(sorted((str(f), f.read_bytes()) for f in folder.rglob("*") if f.is_file())))
        if key not in parsed:
            parsed[key] = load(rules_dir)
        return copy.copy(parsed[key])

    rulebook.load_rulebook = load_once
    yield
    rulebook.load_rulebook = load


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates shared by the session's apps; Jinja compiles again when a template's source changed.

    Why: each test's app has its own Jinja environment, which compiled each template it rendered again (~18 ms a template).
    """

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


@pytest.fixture
def clock():
    return FixedClock(NOW)


def app_config(home, clock) -> dict:
    """The test app's settings: its database and instance folder (which holds the audit key) under ``home``."""
    return {"TESTING": True, "DATABASE": str(home / "safety.db"), "INSTANCE_PATH": str(home / "instance"),
            "CLOCK": clock, "SECRET_KEY": "test-secret"}


@pytest.fixture(scope="session")
def migrated(tmp_path_factory):
    """A database that create_app has migrated, beside the instance folder whose audit key chained its start-up
    entries; made once per session. Each test's app starts on a copy of both, as a restarted service would.

    Why: migrating a new file cost every test ~50 ms, a copy costs ~1 ms. The app is still built by create_app on the
    copy (nothing pending to migrate, rules files as recorded), and test_migrations migrates empty files itself.
    """
    home = tmp_path_factory.mktemp("migrated")
    create_app(app_config(home, FixedClock(NOW)))  # its connections are closed: no -wal file is left beside the db
    return home


def create_personas(db) -> dict[str, dict]:
    return {name: users.create(db, email=f"{name}@example.org", role=role, site=site, password=PASSWORD,
                               name=name.replace("_", " ").title(), now=NOW)
            for name, (role, site) in PERSONAS.items()}


@pytest.fixture(scope="session")
def migrated_with_people(migrated, tmp_path_factory):
    """The migrated database with the personas created in it, once per session (six audited accounts cost every
    test that asks for ``people`` ~15 ms)."""
    home = tmp_path_factory.mktemp("people")
    shutil.copytree(migrated, home, dirs_exist_ok=True)
    database = connect(create_app(app_config(home, FixedClock(NOW))).config["DATABASE"])
    try:
        create_personas(database)
    finally:
        database.conn.close()
    return home


@pytest.fixture
def app(request, tmp_path, clock, migrated):
    """The app on a copy of the migrated database; a test that asks for ``people`` has them in it already."""
    template = request.getfixturevalue("migrated_with_people") if "people" in request.fixturenames else migrated
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    app = create_app(app_config(tmp_path, clock))
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    return app


@pytest.fixture
def db(app):
    database = connect(app.config["DATABASE"])
    yield database
    database.conn.close()


@pytest.fixture
def people(db):
    """The personas as user dicts, by persona name."""
    found = {name: users.by_email(db, f"{name}@example.org") for name in PERSONAS}
    return found if all(found.values()) else create_personas(db)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class WebUser:
    """A browser-like session for one persona: signs in, and posts forms with the page's CSRF token."""

    def __init__(self, client, email: str):
        self.client, self.email = client, email

    def sign_in(self, password: str = PASSWORD):
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post("/login", data={"email": self.email, "password": password, "csrf_token": token})

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post_form(self, url, data: dict, from_page: str | None = None, **kw):
        """POST like a browser: take the CSRF token from a page of this session first."""
        page = self.client.get(from_page or "/").get_data(as_text=True)
        return self.client.post(url, data={**data, "csrf_token": csrf_from(page)}, **kw)


class ApiUser:
    """A JSON API client with a Bearer token."""

    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self.headers, **kw)

    def patch(self, url, json=None, **kw):
        return self.client.patch(url, json=json, headers=self.headers, **kw)


@pytest.fixture
def web(app, people):
    """web("nurse_nina") -> a signed-in WebUser with its own cookie jar."""
    def make(persona: str) -> WebUser:
        user = WebUser(app.test_client(), people[persona]["email"])
        response = user.sign_in()
        assert response.status_code == 302, response.get_data(as_text=True)
        return user
    return make


@pytest.fixture
def api(app, db, people):
    """api("safety_sam") -> an ApiUser with a fresh token."""
    def make(persona: str) -> ApiUser:
        return ApiUser(app.test_client(), users.create_token(db, people[persona]["email"], now=NOW))
    return make


@pytest.fixture
def enrol(app, db, people):
    """enrol("S01-001", injection_at=...) -> a participant, enrolled by the site's nurse."""
    def make(subject_id: str = "S01-001", **overrides) -> dict:
        site = subject_id.split("-")[0]
        nurse = next(p for p in people.values() if p["role"] == "nurse" and p["site"] == site) \
            if site in ("S01", "S02") else people["admin_alex"]
        data = {"subject_id": subject_id, "site": site, "sex": "F", "birth_date": "1968-03-02", "weight_kg": 72.5,
                "consent_on": "2026-01-05", "enrolled_on": "2026-01-08", "injection_at": "2026-01-12T09:30:00+00:00"}
        data.update(overrides)
        return participants.create(db, data, study=app.extensions["rulebook"].study, tz=app.config["TIMEZONE"],
                                   actor=nurse, now=NOW)
    return make
