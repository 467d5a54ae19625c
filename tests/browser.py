"""Shared Playwright fixtures: the app with the demo study on a loopback port, Debian's chromium, personas.

Loaded for every test module by ``pytest_plugins`` in conftest.py, so the server starts once per session and the
browser once per run of browser tests. Import the helpers you need (``from browser import shoot``), never the
fixtures: a fixture imported into a test module becomes that module's own (its own demo site, its own browser).
The server runs in a thread of the test process (werkzeug, threaded) on a SQLite file of its own, with a fixed
clock at conftest's NOW so the demo, its screenshots and the charts are the same on every run. The demo's
accounts are created with random passwords which ``load_demo`` returns: the fixtures sign in with those.
Chromium is Debian's (/usr/bin/chromium): never ``playwright install``, nothing is downloaded.
Screenshots go to test-artifacts/ (gitignored).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from conftest import NOW
from safety_service import create_app
from safety_service.clock import FixedClock
from safety_service.db import connect
from safety_service.mail.notify import install as install_mail_hook
from safety_service.settings import served_base_url
from safety_service.demo import load_demo

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class DemoSite:
    url: str
    app: object
    accounts: dict[str, dict]     # "nurse:S01", "investigator:S01", "safety_officer", "auditor", "admin"

    def db(self):
        return connect(self.app.config["DATABASE"])


@contextmanager
def served_demo(home: Path) -> Iterator[DemoSite]:
    """The app with the demo study in ``home``, served on 127.0.0.1 on a free port while the block runs."""
    app = create_app({"TESTING": True, "DATABASE": str(home / "safety.db"), "INSTANCE_PATH": str(home / "instance"),
                      "CLOCK": FixedClock(NOW), "SECRET_KEY": "browser-tests", "SCHEDULER_ENABLED": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # as run.py does: links in the demo's mails point at the port actually served (a mail link can be followed)
    app.config["BASE_URL"] = served_base_url("127.0.0.1", server.server_port)
    install_mail_hook(app)
    db = connect(app.config["DATABASE"])
    try:
        accounts = load_demo(db, app.extensions["rulebook"], app.config, now=NOW)
    finally:
        db.conn.close()
    by_role = {}
    for a in accounts:
        by_role.setdefault(a["role"], a)
        if a["site"]:
            by_role[f"{a['role']}:{a['site']}"] = a
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield DemoSite(f"http://127.0.0.1:{server.server_port}", app, by_role)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """The demo study served for the whole session. A module whose stories must not show on the other modules'
    pages (or see theirs) overrides it with a module-scoped one of its own, also made by ``served_demo``."""
    with served_demo(tmp_path_factory.mktemp("browser")) as site:
        yield site


class _Chromium:
    """One Playwright and one headless chromium for a run of consecutive browser tests.

    Why not a session fixture: while Playwright's sync API is open it marks an asyncio loop as running in the main
    thread, so a test after the browser tests that starts a loop (or a second sync_playwright()) would fail. Why not a
    module fixture: starting Playwright and chromium again cost each browser module ~1.5 s.
    """

    def __init__(self):
        self.playwright = self.browser = None

    def get(self):
        if self.browser is None:
            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                           headless=True)
        return self.browser

    def close(self):
        if self.playwright is not None:
            try:
                if self.browser is not None:
                    self.browser.close()
            finally:
                self.playwright.stop()
                self.playwright = self.browser = None


_chromium = _Chromium()


@pytest.fixture
def chromium():
    """Debian's chromium, headless: started by the first browser test, closed after the last one of a run of them."""
    return _chromium.get()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Close chromium once the test's own fixtures (its browser contexts) are torn down, unless the next test uses it."""
    try:
        return (yield)
    finally:
        if nextitem is None or "chromium" not in getattr(nextitem, "fixturenames", ()):
            _chromium.close()


def pytest_sessionfinish(session):
    _chromium.close()  # a run stopped in the middle of the browser tests (-x, Ctrl+C)


@pytest.fixture
def as_role(demo_site, chromium):
    """as_role("safety_officer", viewport=...) -> a Page signed in as that demo account, in a fresh context."""
    contexts = []

    def make(role: str, viewport: dict | None = None, accept_downloads: bool = False) -> Page:
        account = demo_site.accounts[role]
        context = chromium.new_context(viewport=viewport or DESKTOP, accept_downloads=accept_downloads,
                                       base_url=demo_site.url)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login")
        page.fill("input[name=email]", account["email"])
        page.fill("input[name=password]", account["password"])
        page.click("main form button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{role} could not sign in"
        return page

    yield make
    for context in contexts:
        context.close()


def shoot(page: Page, name: str, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 = no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
