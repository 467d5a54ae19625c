"""Walk every page a role can reach in the demo by following its links, one page per route, in a real browser.

Used by the accessibility walk (axe-core, WCAG 2.1 A/AA) and the reading walk (numbers, times). axe-core comes
from the PyPI package axe-playwright-python (it ships axe.min.js; nothing is downloaded at test time).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Page
from werkzeug.exceptions import HTTPException

# Links that are not pages to read: files, sign-out, and the API.
# A mail's HTML part (/outbox/<id>/html) is served sandboxed, as the mail it is: no script runs there, axe neither.
NOT_PAGES = re.compile(r"\.(csv|xlsx|pdf|xpt|json|xml|zip|txt|svg|png|js|css)$|^/api/|^/logout|^/static/|^/outbox/\d+/html$")
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def walk(page: Page, app, start: str = "/", per_route: int = 1, limit: int = 80):
    """Yield (url, endpoint) for each page reached from ``start`` by links, ``per_route`` pages per endpoint.

    The page is left on that URL while the caller inspects it. Only 200 HTML pages are yielded.
    """
    adapter = app.url_map.bind("localhost")
    seen_urls, per_endpoint, queue, served = set(), {}, [start], 0
    while queue and served < limit:
        url = queue.pop(0)
        path = urlsplit(url).path
        if url in seen_urls or NOT_PAGES.search(path):
            continue
        seen_urls.add(url)
        try:
            endpoint = adapter.match(path, "GET")[0]
        except HTTPException:
            continue
        if per_endpoint.get(endpoint, 0) >= per_route:
            continue
        response = page.goto(url)
        if response is None or response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        per_endpoint[endpoint] = per_endpoint.get(endpoint, 0) + 1
        served += 1
        yield url, endpoint
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            if href and href.startswith("/") and not href.startswith("//"):
                queue.append(href.split("#")[0])


def with_axe(page: Page) -> Page:
    """The page, with axe-core put in each document it loads from now on.

    Why: sent with page.evaluate, axe.min.js (~0.5 MB) went to the browser again for every page (~0.1 s a page).
    """
    page.add_init_script(AXE_SCRIPT)
    return page


def axe_violations(page: Page, tags: list[str] = WCAG_21_AA) -> list[dict]:
    """axe-core's violations of the given rule tags on the page as it is now: [{id, impact, help, targets}]."""
    if not page.evaluate("typeof axe === 'object' && typeof axe.run === 'function'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
                           tags)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "targets": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]
