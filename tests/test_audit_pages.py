"""The auditor's audit trail pages: browse by entity, user and date; verify; download the CSV and re-verify it."""
from __future__ import annotations

import csv
import io
import re

import pytest

from conftest import NOW
from safety_service.domain import audit
from safety_service.exports import audit_trail


@pytest.fixture
def trail(db, people, enrol, clock):
    """Enrolments on two days by two nurses, on top of the accounts' and rules' entries."""
    enrol("S01-001")
    clock.advance(days=1)
    audit.record(db, actor="nurse_noah@example.org", action="create", entity="participant", entity_id="S02-009",
                 at=clock.now(), changes={"weight_kg": (None, 80.0), "note": (None, "=SUM(A1)"), "blank": (None, ""),
                                          "quote": (None, "'quoted")})
    return db


def entry_ids(html: str) -> list[int]:
    body = html.split('id="audit-entries"')[1].split("</table>")[0]
    # one row per change; its entries' ids in data-entries, newest first
    return [int(i) for ids in re.findall(r'data-entries="([^"]+)"', body) for i in ids.split()]


def test_it_lists_the_newest_entries_first(web, trail):
    html = web("auditor_ada").get("/audit").get_data(as_text=True)
    ids = entry_ids(html)
    assert ids == sorted(ids, reverse=True) and ids[0] == audit.verify(trail).checked


def test_it_filters_by_entity_and_id_user_and_date(web, trail):
    ada = web("auditor_ada")
    by_entity = ada.get("/audit?entity=participant&entity_id=S02-009").get_data(as_text=True)
    expected = [r["id"] for r in audit.history(trail, "participant", "S02-009")]
    assert entry_ids(by_entity) == sorted(expected, reverse=True)
    by_actor = ada.get("/audit?actor=nurse_nina@example.org").get_data(as_text=True)
    assert entry_ids(by_actor) and "nurse_noah@example.org</td>" not in by_actor
    next_day = (NOW.date().replace(day=NOW.day + 1)).isoformat()
    by_date = ada.get(f"/audit?from={next_day}&to={next_day}").get_data(as_text=True)
    on_next_day = [r["id"] for r in trail.query("SELECT id FROM audit_log WHERE substr(at, 1, 10) = ?", [next_day])]
    assert set(expected) <= set(on_next_day)  # with ada's sign-in, also that day
    assert sorted(entry_ids(by_date)) == sorted(on_next_day)
    before = ada.get(f"/audit?to={NOW.date().isoformat()}").get_data(as_text=True)
    assert not set(entry_ids(before)) & set(expected)


def test_it_pages_back_through_older_entries(web, trail):
    for i in range(audit_trail.PAGE_SIZE + 5):
        audit.record(trail, actor="system", action="tick", entity="job", entity_id=str(i), at=NOW)
    ada = web("auditor_ada")
    first = ada.get("/audit?entity=job").get_data(as_text=True)
    assert len(entry_ids(first)) == audit_trail.PAGE_SIZE and 'rel="next"' in first
    older_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = ada.get(older_url).get_data(as_text=True)
    assert len(entry_ids(second)) == 5 and 'rel="next"' not in second
    assert max(entry_ids(second)) < min(entry_ids(first))


def test_it_names_a_bad_filter(web, trail):
    response = web("auditor_ada").get("/audit?from=last-week&colour=red")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-field="from"' in html and 'data-field="colour"' in html


def test_it_shows_the_chain_intact_or_the_first_broken_entry(web, trail):
    ada = web("auditor_ada")
    assert "Intact:" in ada.get("/audit/verify").get_data(as_text=True)
    trail.execute("DROP TRIGGER audit_log_no_update")
    trail.execute("UPDATE audit_log SET actor = 'someone_else' WHERE id = 4")
    html = ada.get("/audit/verify").get_data(as_text=True)
    assert "Broken at entry 4" in html and "changed" in html


def test_it_lets_the_admin_browse_but_only_the_auditor_download(web, api, trail):
    assert web("admin_alex").get("/audit").status_code == 200
    assert web("admin_alex").get("/audit/export.csv").status_code == 403
    assert web("nurse_nina").get("/audit").status_code == 403
    assert api("safety_sam").get("/api/v1/exports/audit.csv").status_code == 403


def test_it_downloads_a_csv_that_verifies_from_the_file_alone(api, trail):
    response = api("auditor_ada").get("/api/v1/exports/audit.csv")
    assert response.status_code == 200
    assert response.headers["X-Audit-Verification"].startswith("audit trail intact")
    result = audit_trail.verify_csv(response.data)
    assert result.ok and result.checked == int(response.headers["X-Export-Rows"])
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8").split("\r\n", 1)[1], newline="")))
    values = {r["field"]: r["new_value"] for r in rows if r["entity_id"] == "S02-009"}
    assert values["note"] == "'=SUM(A1)"  # a formula is neutralised...
    assert values["blank"] == "'" and values["quote"] == "''quoted"  # ...reversibly


def test_it_finds_a_changed_cell_in_a_downloaded_file(api, trail):
    data = api("auditor_ada").get("/api/v1/exports/audit.csv").data.decode("utf-8")
    tampered = data.replace("nurse_noah@example.org", "nurse_nina@example.org", 1)
    first_noah = next(r for r in csv.DictReader(io.StringIO(data.split("\r\n", 1)[1], newline=""))
                      if "nurse_noah@example.org" in "".join(r.values()))
    result = audit_trail.verify_csv(tampered.encode("utf-8"))
    assert not result.ok and result.broken_id == int(first_noah["id"])


def test_it_records_the_download_itself_in_the_trail(api, db, trail):
    response = api("auditor_ada").get("/api/v1/exports/audit.csv")
    name = response.headers["Content-Disposition"].split('filename="')[1].rstrip('"')
    entries = {e["field"]: e["new_value"] for e in audit.history(db, "export", name)}
    assert entries["kind"] == "audit" and entries["rows"] == response.headers["X-Export-Rows"]
    assert entries["verification"].startswith("audit trail intact")
    assert audit.verify(db).ok


def test_it_escapes_reversibly():
    for value in (None, "", "'", "=1", "-2", "+x", "@y", "\tz", "plain", "'='"):
        assert audit_trail.unescape(audit_trail.escape(value)) == value
    assert audit_trail.escape(None) == "" and audit_trail.escape("-2") == "'-2"
