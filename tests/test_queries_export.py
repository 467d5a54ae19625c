"""The query log (CSV and Excel, read back with the real readers) with age and turnaround, from the exports page,
the API and `safety export queries`; and the open queries per site on the dashboard.

Story: on 1 June safety_sam queried S01-001's AE grade; nurse_nina answered on 3 June 12:00 and safety_sam
closed it on 5 June. On 10 June he queried S02-001's weight, still open on 15 June (NOW).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from safety_service.db import rows
from safety_service.domain import adverse_events, audit, queries

from conftest import NOW

JUNE1 = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def story(app, db, people, enrol):
    enrol("S01-001")
    enrol("S02-001")
    rb = app.extensions["rulebook"]
    ae = adverse_events.create(db, {"subject_id": "S01-001", "term": "Nausea", "verbatim": "queasy", "grade": 2,
                                    "onset": "2026-05-30", "relatedness_product": "unlikely",
                                    "relatedness_procedure": "unlikely", "outcome": "recovering"},
                               catalogue=rb.ctcae, study=rb.study, tz=app.config["TIMEZONE"],
                               actor=people["nurse_nina"], now=JUNE1)
    first = queries.raise_query(db, {"entity": "ae", "entity_id": ae["id"], "field": "grade",
                                     "text": "=HYPERLINK(\"x\") grade 2 needs an intervention: which?"},
                                user=people["safety_sam"], now=JUNE1, visit_codes=())
    queries.answer(db, first["id"], text="Antiemetic given.", user=people["nurse_nina"],
                   now=JUNE1 + timedelta(days=2, hours=2))
    queries.close(db, first["id"], comment="Fine.", user=people["safety_sam"], now=JUNE1 + timedelta(days=4))
    second = queries.raise_query(db, {"entity": "participant", "entity_id": "S02-001", "field": "weight_kg",
                                      "text": "Weight at injection?"}, user=people["safety_sam"],
                                 now=JUNE1 + timedelta(days=9), visit_codes=())
    return {"first": first, "second": second}


def test_it_exports_the_log_as_csv_with_age_and_turnaround(api, db, story):
    ada = api("auditor_ada")
    head = audit.anchor(db)  # what `safety audit anchor` prints just before the export
    r = ada.get("/api/v1/exports/queries.csv")
    assert r.status_code == 200 and r.headers["X-Export-Rows"] == "2"
    context, body = r.get_data(as_text=True).split("\r\n", 1)
    assert context.startswith("#") and head in context
    got = list(csv.DictReader(io.StringIO(body)))
    first, second = got
    assert first["Query"] == f"Q{story['first']['id']}" and first["Record"] == "S01-001-AE1"
    assert first["Status"] == "closed" and first["Field"] == "grade"
    assert first["Age (days)"] == "4.0" and first["Turnaround (days)"] == "2.1"  # 50 h = 2.08 days
    assert first["Question"].startswith("'=HYPERLINK")  # neutralised: a spreadsheet shows it as text
    assert second["Status"] == "open" and second["Age (days)"] == "5.0" and second["Turnaround (days)"] == ""
    exported = [e for e in rows(db, "SELECT * FROM audit_log WHERE action = 'export'") if e["field"] == "kind"]
    assert exported[-1]["new_value"] == "queries" and exported[-1]["actor"] == "auditor_ada@example.org"


def test_it_exports_excel_and_scopes_an_investigator_to_the_site(api, story):
    r = api("investigator_ivan").get("/api/v1/exports/queries.xlsx?status=closed")
    assert r.status_code == 200
    sheet = pd.read_excel(io.BytesIO(r.get_data()), sheet_name="Query log")
    assert list(sheet["Record"]) == ["S01-001-AE1"]
    assert sheet["Age (days)"].tolist() == [4.0] and sheet["Turnaround (days)"].tolist() == [2.1]
    assert api("investigator_ivan").get("/api/v1/exports/queries.csv?site=S02").headers["X-Export-Rows"] == "0"
    assert api("nurse_nina").get("/api/v1/exports/queries.csv").status_code == 403
    bad = api("safety_sam").get("/api/v1/exports/queries.pdf")
    assert bad.status_code == 422 and "format" in bad.get_json()["error"]["fields"]
    bad = api("safety_sam").get("/api/v1/exports/queries.csv?colour=red&status=pending")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"colour"}


def test_it_links_the_log_from_the_exports_page_and_shows_open_queries_per_site_on_the_dashboard(web, story):
    sam = web("safety_sam")
    page = sam.get("/exports").get_data(as_text=True)
    assert "/exports/queries.csv" in page and "/exports/queries.xlsx" in page
    download = sam.get("/exports/queries.xlsx")
    assert download.status_code == 200 and download.headers["X-Export-Rows"] == "2"
    board = sam.get("/dashboard").get_data(as_text=True)
    assert 'id="stat-queries"' in board and 'data-site="S02" data-open="1"' in board and 'data-site="S01"' not in board
    ivan = web("investigator_ivan").get("/dashboard").get_data(as_text=True)
    assert "none waiting" in ivan and 'data-site="S02"' not in ivan


def test_it_exports_from_the_command_line_and_refuses_to_overwrite(app, story, tmp_path):
    target = tmp_path / "queries.csv"
    runner = app.test_cli_runner()
    r = runner.invoke(args=["export", "queries", "--format", "csv", "-o", str(target), "--status", "open",
                            "--now", "2026-06-20T10:00:00+00:00"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"{target}: 1 queries")
    got = list(csv.DictReader(line for line in target.open(encoding="utf-8") if not line.startswith("#")))
    assert [g["Subject"] for g in got] == ["S02-001"] and got[0]["Age (days)"] == "10.0"
    again = runner.invoke(args=["export", "queries", "--format", "csv", "-o", str(target)])
    assert again.exit_code != 0 and "--force" in again.output
