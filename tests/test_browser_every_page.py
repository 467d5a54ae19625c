"""Every page of every role in the demo, reached by following links in Debian's chromium, one page per route:

- axe-core (WCAG 2.1 A and AA rules) finds nothing: contrast, names, scrolling regions, ARIA (issue 16, item 12);
- what people read has no scientific notation, no float with more decimals than its analyte is reported with,
  no microseconds and no UTC time next to the study's local times (items 4 and 5).
"""
from __future__ import annotations

import re

import pytest

from safety_service.domain import numbers
from safety_service.domain.units import ANALYTES
from walk import axe_violations, walk, with_axe

pytestmark = pytest.mark.browser

ROLES = ("nurse:S01", "investigator:S01", "safety_officer", "auditor", "admin")
SCIENTIFIC = re.compile(r"(?<![0-9a-fA-F])\d(?:\.\d+)?[eE][+-]\d")  # 1.36e+03, not a hash like 12854e035
MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d")
UTC_TIME = re.compile(r"\d\d:\d\d(?::\d\d)?(?:\s*UTC|Z\b|\+00:00)|\d{4}-\d\d-\d\dT\d\d:\d\d")
LONG_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{5,}(?![\d.])")  # five decimals or more: never a clinical value
# "Serum creatinine 2.368": an analyte's name followed by a value
BY_LABEL = [(a.name, re.compile(re.escape(a.label) + r"\s+(-?\d+(?:\.(\d+))?)(?:\s*([^\s,;)]+))?"))
            for a in ANALYTES.values()]


# Every text node people read, one apart from the next (adjacent chart labels must not run together as "31.42025"),
# leaving out scripts, styles and values shown exactly as stored.
READABLE_TEXT = """() => {
  const out = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement.closest('[data-stored], script, style')) out.push(n.nodeValue);
  }
  return out.join(' ');
}"""


def reading_problems(text: str) -> list[str]:
    """What a person should not have to read on a page of the service."""
    found = []
    for name, pattern in (("scientific notation", SCIENTIFIC), ("microseconds", MICROSECONDS),
                          ("UTC time", UTC_TIME), ("raw float", LONG_FLOAT)):
        found += [f"{name}: …{text[max(0, m.start() - 40):m.end() + 10]}…" for m in pattern.finditer(text)]
    for analyte, pattern in BY_LABEL:
        for m in pattern.finditer(text):
            if m.group(2) and len(m.group(2)) > numbers.decimals(analyte, m.group(3)):
                found.append(f"{analyte} with {len(m.group(2))} decimals: …{m.group(0)}…")
    return found


def lab_cell_problems(page) -> list[str]:
    """Lab tables (rows with data-analyte): the value cells carry at most the analyte's decimals."""
    found = []
    for analyte, cells in page.eval_on_selector_all(
            "tr[data-analyte]", "rows => rows.map(r => [r.dataset.analyte, Array.from(r.cells).map(c => c.innerText)])"):
        for cell in cells[3:6]:  # value as entered, canonical value, eGFR
            for m in re.finditer(r"(-?\d+)\.(\d+)\s*(\S+)?", cell):
                unit = m.group(3) or None
                allowed = numbers.decimals(analyte, unit) if unit else max(numbers.decimals(analyte), 1)
                if len(m.group(2)) > allowed:
                    found.append(f"{analyte} cell {cell!r}")
    return found


def test_it_finds_reading_problems_where_they_are():
    """The checks themselves: each one catches what the issue quoted, and passes what the pages now show."""
    assert reading_problems("Baseline 1.36e+03") and reading_problems("Dose 1.10e+08 cells")
    assert not reading_problems("rules files (SHA-256): ctcae.toml 7a6f6ba12854e035")
    assert reading_problems("2026-06-16 04:00 UTC") and reading_problems("at 2026-06-15T10:00:00+00:00")
    assert reading_problems("10:00:00.123456") and reading_problems("HbA1c 6.36008 %")
    assert reading_problems("Serum creatinine 2.368 vs lowest")
    assert not reading_problems("Serum creatinine 2.37 vs lowest 1.42 · 2026-06-15 12:00 CEST · Dose 1.1 × 10⁸ cells")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_passes_axe_and_reads_as_people_read(as_role, demo_site, role):
    page = with_axe(as_role(role))
    visited, problems = [], []
    for url, endpoint in walk(page, demo_site.app):
        visited.append(endpoint)
        for v in axe_violations(page):
            problems.append(f"{url}: axe {v['id']} ({v['impact']}) {v['help']} at {v['targets']}")
        # values shown exactly as stored (the audit trail's old and new values) are evidence, not for reading
        text = page.evaluate(READABLE_TEXT)
        problems += [f"{url}: {p}" for p in reading_problems(text) + lab_cell_problems(page)]
    assert "pages.home" in visited and len(visited) >= 8, visited
    assert not problems, "\n".join(problems)
