"""A data clarification query in Debian's chromium, end to end against the demo study:

the safety officer queries an AE's relatedness from the AE page; the nurse of the site sees the badge, opens the
query and answers it by amending the AE (one form, one step); the safety officer reads the answer with the version
it made and closes the query; the auditor finds the three steps in the audit trail, linked to the amendment.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser import horizontal_overflow, served_demo, shoot
from safety_service.db import row

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """A demo study of this module's own: the records and mails its stories add stay off the other modules' pages."""
    with served_demo(tmp_path_factory.mktemp("browser")) as site:
        yield site


@pytest.fixture
def unqueried_ae(demo_site):
    """An active, non-serious AE at S01 that no query names yet, not S01-001's (other stories use that one)."""
    db = demo_site.db()
    try:
        return row(db, "SELECT * FROM adverse_events ae WHERE site = 'S01' AND status = 'active' AND serious = 0"
                       " AND subject_id != 'S01-001' AND relatedness_product != 'not_related'"
                       " AND NOT EXISTS (SELECT 1 FROM queries q WHERE q.entity = 'ae' AND q.entity_id = ae.id)"
                       " ORDER BY id DESC LIMIT 1")
    finally:
        db.conn.close()


def test_it_queries_relatedness_answers_by_amending_closes_and_links_the_steps(as_role, unqueried_ae):
    ae = unqueried_ae
    assert ae, "the demo has an unqueried AE at S01"
    name = f"{ae['subject_id']}-AE{ae['seq']}"

    # 1. The safety officer raises the query from the AE page, on the relatedness to the cells.
    sam = as_role("safety_officer")
    sam.goto(f"/ae/{ae['id']}")
    sam.get_by_role("link", name="Raise a query on this AE").click()
    expect(sam.locator("h1")).to_contain_text(f"Raise a query on {name}")
    sam.select_option("#f-field", "relatedness_product")
    sam.fill("#f-text", "Relatedness to the cells: the narrative points at the procedure. Please reassess.")
    sam.get_by_role("button", name="Raise the query").click()
    expect(sam).to_have_url(re.compile(r"/queries/\d+$"))
    query_url = sam.url
    qid = int(query_url.rsplit("/", 1)[1])
    expect(sam.locator("h1 [data-status]")).to_have_text("open")

    # 2. The nurse of S01 sees the badges on the AE page, opens the query and answers it by amending the AE.
    nina = as_role("nurse:S01")
    nina.goto(f"/ae/{ae['id']}")
    expect(nina.locator('h1 [data-queries="open"]')).to_have_text("1 open query")
    expect(nina.locator('[data-query-field~="relatedness_product"]')).to_have_text("1 query")
    nina.locator(f'#queries a[href="/queries/{qid}"]').click()
    nina.get_by_role("link", name="Answer by amending the AE…").click()
    expect(nina.locator("h1")).to_contain_text(f"Answer Q{qid} by amending {name}")
    assert horizontal_overflow(nina) == 0
    new_value = "not_related"
    nina.select_option("#f-relatedness_product", new_value)
    nina.fill("#f-text", "Reassessed with the investigator: not related to the cells, the procedure caused it.")
    nina.get_by_role("button", name="Amend and answer").click()
    expect(nina).to_have_url(query_url)
    expect(nina.locator("h1 [data-status]")).to_have_text("answered")
    amended = nina.locator("[data-amended-version]")
    expect(amended).to_have_attribute("data-amended-version", str(ae["version"] + 1))
    shoot(nina, "query-answered-by-amendment")

    # 3. The safety officer reads the answer and closes the query.
    sam.goto(query_url)
    expect(sam.locator('[data-step="answered"]')).to_contain_text("not related to the cells")
    sam.fill("#f-close", "Reassessment accepted.")
    sam.get_by_role("button", name="Close the query").click()
    expect(sam.locator("h1 [data-status]")).to_have_text("closed")
    expect(sam.locator("[data-step]")).to_have_count(3)
    sam.goto(f"/ae/{ae['id']}")
    expect(sam.locator('h1 [data-queries]')).to_have_count(0)  # no open query left on the record

    # 4. The auditor finds the three steps in the audit trail, linked to the amendment and back.
    ada = as_role("auditor")
    ada.goto(f"/audit?entity=query&entity_id={qid}")
    trail = ada.locator("main").inner_text()
    for step in ("raised", "answered", "closed"):
        assert re.search(rf"query[_ ]{step}", trail), step
    assert f"adverse_event {ae['id']} version {ae['version'] + 1}" in trail
    ada.goto(f"/audit?entity=adverse_event&entity_id={ae['id']}")
    assert f"Answer to query Q{qid}: Reassessed with the investigator" in ada.locator("main").inner_text()
    shoot(ada, "query-audit-trail")
