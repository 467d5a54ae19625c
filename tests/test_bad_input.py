"""Bad input of every kind a site can send: malformed CSV, impossible dates, unknown units, odd Unicode in every
text field. Each is refused with the field (and for a file, the row and column) named and nothing stored, or
accepted and read back exactly as sent; never a 500.
"""
from __future__ import annotations

import io

import pytest

from conftest import NOW, PASSWORD, PERSONAS, ApiUser, WebUser, csrf_from
from safety_service import create_app
from safety_service.clock import FixedClock
from safety_service.db import connect
from safety_service.domain import participants, users

HEADER = "subject_id,analyte,value,unit,collected_at,visit"
GOOD_ROW = "S01-001,creatinine,1.42,mg/dL,2026-02-10T08:00:00+00:00,"
AE = {"subject_id": "S01-001", "term": "Nausea", "verbatim": "nausea after lunch", "grade": 2, "onset": "2026-06-10",
      "serious": False, "relatedness_product": "unlikely", "relatedness_procedure": "not_related", "expected": False,
      "action_taken": "not_applicable", "outcome": "recovering"}


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


class Site:
    """One app for the module: these tests only add refused input (nothing stored) or new AEs, so they can share
    it, which keeps ~100 cases to seconds. Counts are compared before and after, never against zero."""

    def __init__(self, tmp):
        self.app = create_app({"TESTING": True, "DATABASE": str(tmp / "safety.db"), "CLOCK": FixedClock(NOW),
                               "INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "test-secret"})
        self.db = connect(self.app.config["DATABASE"])
        names = ("nurse_nina", "investigator_ivan", "safety_sam")
        self.people = {n: users.create(self.db, email=f"{n}@example.org", role=PERSONAS[n][0], site=PERSONAS[n][1],
                                       password=PASSWORD, now=NOW) for n in names}
        self.tokens = {n: users.create_token(self.db, p["email"], now=NOW) for n, p in self.people.items()}
        participants.create(self.db, {"subject_id": "S01-001", "site": "S01", "sex": "F", "birth_date": "1968-03-02",
                                      "weight_kg": 72.5, "consent_on": "2026-01-05", "enrolled_on": "2026-01-08",
                                      "injection_at": "2026-01-12T09:30:00+00:00"},
                            study=self.app.extensions["rulebook"].study, tz=self.app.config["TIMEZONE"],
                            actor=self.people["nurse_nina"], now=NOW)
        self._web: dict[str, WebUser] = {}

    def api(self, persona: str) -> ApiUser:
        return ApiUser(self.app.test_client(), self.tokens[persona])

    def web(self, persona: str) -> WebUser:
        if persona not in self._web:
            user = WebUser(self.app.test_client(), self.people[persona]["email"])
            assert user.sign_in().status_code == 302
            self._web[persona] = user
        return self._web[persona]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("bad-input"))
    yield s
    s.db.conn.close()


@pytest.fixture
def app(site):
    return site.app


@pytest.fixture
def db(site):
    return site.db


@pytest.fixture
def api(site):
    return site.api


@pytest.fixture
def web(site):
    return site.web


@pytest.fixture
def subject(site):
    return "S01-001"


class Unchanged:
    """Counts of a table before and after: `with Unchanged(db, "labs"):` asserts nothing was stored."""

    def __init__(self, db, *tables):
        self.db, self.tables = db, tables or ("labs", "adverse_events", "participants", "audit_log")

    def __enter__(self):
        self.before = {t: count(self.db, t) for t in self.tables}
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            assert {t: count(self.db, t) for t in self.tables} == self.before


# --- malformed CSV (the lab import) ---------------------------------------------------------------------------

BAD_FILES = {
    "empty file": ("", "(header)"),
    "header only": (HEADER + "\n", "(file)"),
    "semicolons (a German spreadsheet)": (HEADER.replace(",", ";") + "\n" + GOOD_ROW.replace(",", ";"), "subject_id"),
    "a column missing": ("subject_id,analyte,value,collected_at\nS01-001,creatinine,1.4,2026-02-10T08:00:00Z", "unit"),
    "an unknown column": (HEADER + ",comment\n" + GOOD_ROW + ",ok", "comment"),
    "a cell too many": (HEADER + "\n" + GOOD_ROW + ",extra", "(row)"),
    "an unknown participant": (HEADER + "\nS01-999,creatinine,1.4,mg/dL,2026-02-10T08:00:00Z,", "subject_id"),
    "a value that is a formula": (HEADER + "\nS01-001,creatinine,=1+1,mg/dL,2026-02-10T08:00:00Z,", "value"),
    "a value with a decimal comma": (HEADER + "\nS01-001,creatinine,\"1,42\",mg/dL,2026-02-10T08:00:00Z,", "value"),
    "an overflowing value": (HEADER + "\nS01-001,creatinine,1e400,mg/dL,2026-02-10T08:00:00Z,", "value"),
    "NaN": (HEADER + "\nS01-001,creatinine,NaN,mg/dL,2026-02-10T08:00:00Z,", "value"),
    "an unknown unit": (HEADER + "\nS01-001,creatinine,1.4,mg%,2026-02-10T08:00:00Z,", "unit"),
    "a unit of another analyte": (HEADER + "\nS01-001,creatinine,1.4,U/L,2026-02-10T08:00:00Z,", "unit"),
    "an unknown analyte": (HEADER + "\nS01-001,kreatinin,1.4,mg/dL,2026-02-10T08:00:00Z,", "analyte"),
    "the 30th of February": (HEADER + "\nS01-001,creatinine,1.4,mg/dL,2026-02-30T08:00:00Z,", "collected_at"),
    "a day-first date": (HEADER + "\nS01-001,creatinine,1.4,mg/dL,10/02/2026 08:00,", "collected_at"),
    "a date in the future": (HEADER + "\nS01-001,creatinine,1.4,mg/dL,2027-02-10T08:00:00Z,", "collected_at"),
    "an unknown visit": (HEADER + "\nS01-001,creatinine,1.4,mg/dL,2026-02-10T08:00:00Z,M99", "visit"),
    "two values for one sample": (HEADER + "\n" + GOOD_ROW + "\n" + GOOD_ROW.replace("1.42", "1.50"), "value"),
    "a NUL byte in a cell": (HEADER + "\nS01-001,creatinine,1.4\x00,mg/dL,2026-02-10T08:00:00Z,", "value"),
    "a quoted newline in a cell": (HEADER + "\nS01-001,\"creat\ninine\",1.4,mg/dL,2026-02-10T08:00:00Z,", "analyte"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_it_refuses_a_malformed_csv_naming_row_and_column_and_stores_nothing(app, db, subject, case, tmp_path):
    text, column = BAD_FILES[case]
    path = tmp_path / "labs.csv"
    path.write_text(text, encoding="utf-8")
    with Unchanged(db):
        result = app.test_cli_runner().invoke(args=["import", "labs", str(path), "--now", NOW.isoformat()])
    assert result.exit_code != 0, result.output
    message = result.output.strip().splitlines()[-1]
    assert "nothing imported" in message and f"column {column}" in message, message


def test_it_refuses_a_file_that_is_not_utf8(app, db, subject, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_bytes((HEADER + "\nS01-001,creatinine,1.4,µmol/L,2026-02-10T08:00:00Z,\n").encode("latin-1"))
    with Unchanged(db):
        result = app.test_cli_runner().invoke(args=["import", "labs", str(path), "--now", NOW.isoformat()])
    assert result.exit_code != 0 and "UTF-8" in result.output


def test_it_reads_a_spreadsheets_bom_crlf_and_padding(app, db, subject, tmp_path):
    """What Excel writes ("CSV UTF-8"): a byte-order mark, CRLF line ends, spaces around cells, a blank line."""
    text = "\ufeff" + " Subject_ID , analyte ,value,unit,collected_at,visit\r\n" \
           " S01-001 , creatinine , 125.6 , µmol/L , 2026-02-10T08:00:00+00:00 ,\r\n\r\n" \
           "S01-001,ALT,35,u/l,2026-02-10T08:00:00Z,\r\n"
    path = tmp_path / "labs.csv"
    path.write_bytes(text.encode("utf-8"))
    result = app.test_cli_runner().invoke(args=["import", "labs", str(path), "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    stored = {r["analyte"]: r for r in db.query("SELECT analyte, value, unit, value_si FROM labs WHERE "
                                                 "collected_at = '2026-02-10T08:00:00+00:00'")}
    assert stored["creatinine"]["value_si"] == pytest.approx(125.6 / 88.4)  # KDIGO: 1 mg/dL = 88.4 umol/L
    assert stored["alt"]["value_si"] == 35


def test_it_refuses_a_malformed_upload_on_the_import_page(web, db, subject):
    nina = web("nurse_nina")
    token = csrf_from(nina.get("/labs/import").get_data(as_text=True))
    data = {"csrf_token": token, "file": (io.BytesIO((HEADER + "\nS01-001,creatinine,abc,mg/dL,x,\n").encode()),
                                          "labs.csv")}
    with Unchanged(db):
        r = nina.client.post("/labs/import", data=data, content_type="multipart/form-data")
        page = r.get_data(as_text=True)
        assert r.status_code == 422 and "value" in page and "collected_at" in page
        bad = {"csrf_token": token, "file": (io.BytesIO("subject_id\nS01-001 é".encode("latin-1")), "labs.csv")}
        r = nina.client.post("/labs/import", data=bad, content_type="multipart/form-data")
        assert r.status_code == 422


# --- malformed dates and units through the API ------------------------------------------------------------------

BAD_DATES = ["2026-02-30", "2026-13-01", "15/06/2026", "2026-6-1", "2026-06-10T25:00", "yesterday",
             "", " ", "0000-00-00", "2026-06-10\x00", "２０２６-０６-１０"]


@pytest.mark.parametrize("value", BAD_DATES)
def test_it_refuses_a_malformed_ae_onset_naming_it(api, db, subject, value):
    with Unchanged(db):
        r = api("nurse_nina").post("/api/v1/adverse-events", json={**AE, "onset": value})
    assert r.status_code == 422 and "onset" in r.json["error"]["fields"], r.json


@pytest.mark.parametrize("value", ["2026-02-30", "15/06/1960", "1960-6-1", "", "1960-06-31", "１９６０-０６-０１"])
def test_it_refuses_a_malformed_birth_date_naming_it(api, db, value):
    with Unchanged(db):
        r = api("nurse_nina").post("/api/v1/participants", json={
            "subject_id": "S01-050", "site": "S01", "sex": "F", "birth_date": value, "weight_kg": 70,
            "consent_on": "2026-06-01", "enrolled_on": "2026-06-02"})
    assert r.status_code == 422 and "birth_date" in r.json["error"]["fields"], r.json


UNIT_CASES = [("mg/dL", True), ("MG/DL", True), ("umol/L", True), ("µmol/L", True), ("μmol/L", True),
              ("mg%", False), ("mmol/L", False), ("", False), ("mg/dL\u200b", False), ("mg／dL", False)]


@pytest.mark.parametrize("unit,ok", UNIT_CASES)
def test_it_accepts_only_listed_units_whatever_their_case(api, db, subject, unit, ok):
    value = 1.4 if unit.lower().startswith("mg") else 124
    before = count(db, "labs")
    minute = 10 + UNIT_CASES.index((unit, ok))  # a sample instant of its own for each case
    r = api("nurse_nina").post("/api/v1/participants/S01-001/labs", json={
        "analyte": "creatinine", "value": value, "unit": unit, "collected_at": f"2026-03-01T08:{minute}:00+00:00"})
    if ok:
        assert r.status_code == 201, r.json
        assert r.json["unit_si"] == "mg/dL" and count(db, "labs") == before + 1
    else:
        assert r.status_code == 422 and "unit" in r.json["error"]["fields"], r.json
        assert count(db, "labs") == before


@pytest.mark.parametrize("query", ["min_grade=abc", "min_grade=9", "from=2026-02-30", "to=next-week", "serious=perhaps",
                                   "phase=middle"])
def test_it_refuses_a_malformed_filter_naming_it(api, subject, query):
    r = api("safety_sam").get(f"/api/v1/adverse-events?{query}")
    assert r.status_code == 422 and query.split("=")[0] in r.json["error"]["fields"], r.json


def test_it_answers_404_for_an_ae_id_of_unicode_digits(app, api, subject, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a 500 answered as in production
    r = api("safety_sam").get("/api/v1/adverse-events/²")
    assert r.status_code == 404


# --- Unicode and odd text in every free-text field ----------------------------------------------------------------

ODD_TEXT = [
    "Übelkeit nach dem Mittagessen",                     # German umlauts
    "恶心，呕吐",                                          # CJK with a full-width comma
    "غثيان",                                               # right-to-left script
    "nausea \u202eevil\u202c",                             # an RTL override
    "n\u0301ausea",                                        # a combining accent
    "nausea 🤢",                                           # an emoji (4-byte UTF-8)
    "<script>alert(1)</script>",                           # markup
    "=HYPERLINK(\"http://x.example\",\"click\")",          # a spreadsheet formula
    "Robert'); DROP TABLE adverse_events;--",              # SQL
    "line one\nline two\ttabbed",                          # control whitespace
]
AE_TEXT_FIELDS = ("verbatim", "description", "other_action")


@pytest.mark.parametrize("field", AE_TEXT_FIELDS)
@pytest.mark.parametrize("text", ODD_TEXT, ids=range(len(ODD_TEXT)))
def test_it_stores_any_unicode_in_an_ae_text_field_exactly(api, db, subject, field, text):
    nina = api("nurse_nina")
    r = nina.post("/api/v1/adverse-events", json={**AE, field: text})
    assert r.status_code == 201, r.json
    back = nina.get(f"/api/v1/adverse-events/{r.json['id']}").json
    assert back[field] == text.strip()


@pytest.mark.parametrize("field", AE_TEXT_FIELDS)
def test_it_refuses_an_ae_text_too_long_naming_the_field(api, db, subject, field):
    with Unchanged(db):
        r = api("nurse_nina").post("/api/v1/adverse-events", json={**AE, field: "x" * 4001})
    assert r.status_code == 422 and field in r.json["error"]["fields"], r.json


def test_it_refuses_a_control_character_in_an_ae_text(api, db, subject):
    refused = []
    for field in AE_TEXT_FIELDS:
        r = api("nurse_nina").post("/api/v1/adverse-events", json={**AE, field: "nausea\x00\x1b[31m"})
        refused.append(r.status_code == 422 and field in r.json["error"]["fields"])
    assert all(refused)


def test_it_escapes_markup_from_a_verbatim_on_every_page_that_shows_it(api, web, subject):
    r = api("nurse_nina").post("/api/v1/adverse-events", json={**AE, "verbatim": "<script>alert(1)</script>"})
    assert r.status_code == 201
    page = web("investigator_ivan").get(f"/ae/{r.json['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for url in ("/participants/S01-001", f"/ae/{r.json['id']}", "/alerts", "/"):
        page = web("investigator_ivan").get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in page, url


@pytest.mark.parametrize("text", ODD_TEXT[:7], ids=range(7))
def test_it_takes_unicode_in_an_alert_comment_and_a_participant_search(api, db, subject, text):
    from safety_service.domain import alerts
    alert = alerts.raise_alert(db, key=f"odd:{hash(text)}", kind="test", severity="low", message="m", now=NOW,
                               subject_id="S01-001", site="S01")
    sam = api("safety_sam")
    r = sam.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={"comment": text})
    assert r.status_code == 200, r.json
    assert sam.get("/api/v1/ctcae/terms", query_string={"q": text}).status_code == 200
    assert sam.get("/api/v1/participants", query_string={"site": text}).status_code == 200
