"""CSV import of lab results: all rows or none, problems named by row and column; CLI and upload page."""
import io

import pytest

from safety_service.db import rows
from safety_service.domain.labs_import import ImportRefused, import_labs

from conftest import NOW

HEADER = "subject_id,analyte,value,unit,collected_at,visit,uln,lln\n"
GOOD = HEADER + (
    "S01-001,creatinine,106.08,umol/L,2025-12-29T08:00:00+00:00,SCR,,\n"
    "S01-001,creatinine,1.2,mg/dL,2026-01-12T07:30:00+00:00,D0,,\n"
    "S01-001,hemoglobin,75,g/L,2026-02-10T08:00:00+00:00,M1,,\n"
    "S01-001,alt,30,U/L,2026-02-10T08:00:00+00:00,M1,40,7\n"
)


@pytest.fixture
def run(app, db, people, enrol):
    """run(text, persona=None) -> ImportReport; persona None is the command line (study-wide)."""
    enrol("S01-001")
    enrol("S02-001")
    rb = app.extensions["rulebook"]

    def make(text, persona=None):
        user = people[persona] if persona else None
        return import_labs(db, text, rules=rb.lab_rules, study=rb.study, tz=app.config["TIMEZONE"], user=user,
                           actor=user["email"] if user else "cli", now=NOW)
    return make


def count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_it_imports_every_row_and_raises_the_alerts(run, db):
    report = run(GOOD)
    # hemoglobin < 8: one finding, one alert (CTCAE Anemia grade 3 is the same finding, issue 12)
    assert (report.imported, report.skipped, report.alerts) == (4, [], 1)
    stored = rows(db, "SELECT analyte, value_si, uln, range_source, source, entered_by FROM labs ORDER BY id")
    assert [(r["analyte"], r["value_si"]) for r in stored] == [("creatinine", 1.2), ("creatinine", 1.2),
                                                              ("hemoglobin", 7.5), ("alt", 30.0)]
    assert (stored[3]["uln"], stored[3]["range_source"]) == (40.0, "lab")
    assert {(r["source"], r["entered_by"]) for r in stored} == {("csv", "cli")}


def test_one_bad_row_stores_nothing_and_names_its_row_and_column(run, db):
    audit_before = count(db, "audit_log")
    bad = GOOD + "S01-001,hemoglobin,7.1,mmol,2026-03-10T08:00:00+00:00,M3,,\n"
    with pytest.raises(ImportRefused) as e:
        run(bad)
    assert [(p.row, p.column) for p in e.value.problems] == [(6, "unit")]
    assert "g/dL" in e.value.problems[0].message
    assert count(db, "labs") == 0 and count(db, "alerts") == 0 and count(db, "audit_log") == audit_before


def test_it_lists_every_problem_of_the_file_in_row_order(run):
    bad = HEADER + (
        "S01-001,creatinine,1.2,mg/dL,2026-02-10T08:00:00+00:00,M1,,\n"
        "S01-999,creatinine,1.2,mg/dL,2026-02-10T08:00:00+00:00,M1,,\n"
        "S01-001,sodium,140,mmol/L,,M9,,\n"
        "S01-001,creatinine,4000,mg/dL,2026-02-11T08:00:00+00:00,,,\n"
    )
    with pytest.raises(ImportRefused) as e:
        run(bad)
    assert [(p.row, p.column) for p in e.value.problems] == [
        (3, "subject_id"), (4, "analyte"), (4, "collected_at"), (5, "value")]
    assert e.value.one_line().startswith("nothing imported: row 3, column subject_id: no participant 'S01-999'")


@pytest.mark.parametrize("text, problem", [
    ("subject_id,analyte,value,unit\nS01-001,alt,30,U/L\n", (1, "collected_at")),
    (HEADER.replace("lln", "lnn") + "S01-001,alt,30,U/L,2026-02-10T08:00:00Z,,,\n", (1, "lnn")),
    ("", (1, "(header)")),
    (HEADER, (2, "(file)")),
    (HEADER + "S01-001,alt,30,U/L,2026-02-10T08:00:00Z,,,,extra\n", (2, "(row)")),
])
def test_it_refuses_a_malformed_file(run, db, text, problem):
    with pytest.raises(ImportRefused) as e:
        run(text)
    assert (e.value.problems[0].row, e.value.problems[0].column) == problem
    assert count(db, "labs") == 0


def test_it_reads_a_spreadsheet_byte_order_mark_and_skips_blank_lines(run):
    assert run("\ufeff" + GOOD + ",,,,,,,\n\n").imported == 4


def test_a_repeated_sample_with_the_same_value_is_skipped_and_reported(run, db):
    run(GOOD)
    again = GOOD + "S01-001,alt,30.0,IU/L,2026-02-10T09:00:00+01:00,M1,40,7\n"
    with pytest.raises(ImportRefused) as e:   # row 6 repeats row 5's sample with another value: refused
        run(again.replace("S01-001,alt,30.0,IU/L", "S01-001,alt,31,IU/L"))
    assert [(p.row, p.column) for p in e.value.problems] == [(6, "value")]
    assert "row 5 has a different alt" in e.value.problems[0].message
    report = run(again)
    assert report.imported == 0
    assert [(s.row, s.message) for s in report.skipped] == [
        (2, "already present with the same value: skipped"), (3, "already present with the same value: skipped"),
        (4, "already present with the same value: skipped"), (5, "already present with the same value: skipped"),
        (6, "same sample and value as row 5: skipped")]
    assert count(db, "labs") == 4


def test_a_nurse_imports_only_for_her_own_site(run, db):
    text = HEADER + "S01-001,alt,30,U/L,2026-02-10T08:00:00Z,,,\nS02-001,alt,30,U/L,2026-02-10T08:00:00Z,,,\n"
    with pytest.raises(ImportRefused) as e:
        run(text, persona="nurse_nina")
    assert [(p.row, p.column) for p in e.value.problems] == [(3, "subject_id")]
    assert run(text, persona=None).imported == 2 and count(db, "labs") == 2


def test_the_results_are_stored_oldest_first_so_the_baseline_exists_when_they_are_graded(run, db):
    text = HEADER + (   # follow-up first in the file, baseline last
        "S01-001,creatinine,3.0,mg/dL,2026-02-10T08:00:00Z,M1,,\n"
        "S01-001,creatinine,1.0,mg/dL,2026-01-12T07:30:00Z,D0,,\n"
    )
    run(text)
    follow_up = rows(db, "SELECT ctcae_term, ctcae_grade FROM labs WHERE visit = 'M1'")[0]
    assert follow_up["ctcae_grade"] == 3   # eGFR 17 (CKD 3) and 3.0 x baseline 1.0 is exactly grade 2 by baseline


# --- command line and upload page ------------------------------------------------------------------------------

def test_the_command_line_imports_a_file(app, enrol, tmp_path, db):
    enrol("S01-001")
    f = tmp_path / "labs.csv"
    f.write_text(GOOD, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import", "labs", str(f), "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("4 lab results imported, 0 skipped as already present, 1 new safety alerts")
    assert count(db, "labs") == 4


def test_the_command_line_exits_1_with_one_line_naming_row_and_column(app, enrol, tmp_path, db):
    enrol("S01-001")
    f = tmp_path / "labs.csv"
    f.write_text(GOOD + "S01-001,alt,thirty,U/L,2026-03-10T08:00:00Z,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import", "labs", str(f)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: nothing imported: row 6, column value: "
                                                  "'thirty' is not a number"]
    assert count(db, "labs") == 0


def test_nina_uploads_a_file_on_the_import_page(enrol, web, db):
    enrol("S01-001")
    nina = web("nurse_nina")
    assert nina.get("/labs/import").status_code == 200
    response = nina.post_form("/labs/import", {"file": (io.BytesIO(GOOD.encode()), "labs.csv")},
                              from_page="/labs/import", content_type="multipart/form-data")
    assert response.status_code == 200 and "4 results stored" in response.get_data(as_text=True)
    assert count(db, "labs") == 4


def test_the_upload_page_shows_every_problem_and_stores_nothing(enrol, web, db):
    enrol("S01-001")
    nina = web("nurse_nina")
    bad = GOOD + "S01-001,hemoglobin,7.1,mmol,2026-03-10T08:00:00+00:00,M3,,\n"
    response = nina.post_form("/labs/import", {"file": (io.BytesIO(bad.encode()), "labs.csv")},
                              from_page="/labs/import", content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Nothing was imported" in page and "<td>6</td><td>unit</td>" in page
    assert count(db, "labs") == 0
