"""Every route of the URL map, tried by every role: the access table below is the reviewed answer.

A new route fails ``test_it_has_a_reviewed_rule_for_every_route`` until someone adds it here, with the roles
that may use it, so no page or API route reaches production without a decision on who may call it.
The table is written out by hand on purpose: it is checked against real requests, not against
domain/permissions.py, so widening a permission there without review fails here too.
"""
from __future__ import annotations

import pytest

from conftest import NOW, PASSWORD, PERSONAS, WebUser, csrf_from
from safety_service import create_app
from safety_service.clock import FixedClock
from safety_service.db import connect
from safety_service.domain import adverse_events, labs, participants, users

NURSE, INVESTIGATOR, OFFICER, AUDITOR, ADMIN = ("nurse_nina", "investigator_ivan", "safety_sam", "auditor_ada",
                                                "admin_alex")
EVERYONE = frozenset({NURSE, INVESTIGATOR, OFFICER, AUDITOR, ADMIN})
CLINICAL = frozenset({NURSE, INVESTIGATOR})
PUBLIC = "public"
SIGN_IN_OUT = {"auth.login", "auth.logout"}

# (endpoint, method) -> the personas allowed, or PUBLIC (no sign-in needed).
ACCESS: dict[tuple[str, str], frozenset[str] | str] = {
    ("health.healthz", "GET"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("api.openapi", "GET"): PUBLIC,
    ("auth.logout", "POST"): EVERYONE,
    ("auth.change_password", "GET"): EVERYONE,  # one's own password (issue 15)
    ("auth.change_password", "POST"): EVERYONE,
    ("pages.home", "GET"): EVERYONE,
    ("pages.participant_list", "GET"): EVERYONE,
    ("pages.participant_detail", "GET"): EVERYONE,
    ("pages.participant_new", "GET"): CLINICAL | {ADMIN},
    ("pages.participant_new", "POST"): CLINICAL | {ADMIN},
    ("pages.visit_record", "POST"): CLINICAL,
    ("api.participant_index", "GET"): EVERYONE,
    ("api.participant_show", "GET"): EVERYONE,
    ("api.participant_create", "POST"): CLINICAL | {ADMIN},
    ("api.visit_done", "POST"): CLINICAL,
    ("admin.user_list", "GET"): {ADMIN},
    ("admin.user_list", "POST"): {ADMIN},
    ("admin.user_active", "POST"): {ADMIN},
    ("admin.user_detail", "GET"): {ADMIN},  # one account: unlock, temporary password, role, tokens (issue 15)
    ("admin.user_unlock", "POST"): {ADMIN},
    ("admin.user_reset_password", "POST"): {ADMIN},
    ("admin.user_role", "POST"): {ADMIN},
    ("admin.token_revoke", "POST"): {ADMIN},
    # adverse events: everyone reads (site-scoped), the site team writes, the investigator signs
    ("ae.index", "GET"): EVERYONE,
    ("ae.detail", "GET"): EVERYONE,
    ("ae.new", "GET"): CLINICAL,
    ("ae.new", "POST"): CLINICAL,
    ("ae.amend", "GET"): CLINICAL,
    ("ae.amend", "POST"): CLINICAL,
    ("ae.entered_in_error", "POST"): CLINICAL,
    ("ae.sign_off", "GET"): {INVESTIGATOR},
    ("ae.sign_off", "POST"): {INVESTIGATOR},
    ("ae.report_sent", "POST"): {INVESTIGATOR, OFFICER},
    ("api_ae.ae_index", "GET"): EVERYONE,
    ("api_ae.ae_show", "GET"): EVERYONE,
    ("api_ae.ae_versions", "GET"): EVERYONE,
    ("api_ae.ae_create", "POST"): CLINICAL,
    ("api_ae.ae_amend", "PATCH"): CLINICAL,
    ("api_ae.ae_report_sent", "POST"): {INVESTIGATOR, OFFICER},
    # SAE report series, sign-off and the CIOMS I form (issues 12, 14)
    ("api_sae.report_index", "GET"): EVERYONE,
    ("api_sae.report_create", "POST"): {INVESTIGATOR, OFFICER},
    ("api_sae.sign_off", "POST"): {INVESTIGATOR},
    ("api_sae.cioms_pdf", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("ae.report_record", "POST"): {INVESTIGATOR, OFFICER},
    ("api_ae.ctcae_terms", "GET"): EVERYONE,
    ("api_ae.ctcae_term", "GET"): EVERYONE,
    # labs: everyone reads, the site team enters; an admin may run a file import for a site
    ("labs.lab_new", "GET"): CLINICAL,
    ("labs.lab_new", "POST"): CLINICAL,
    ("labs.offer_dismiss", "POST"): CLINICAL,
    ("labs.lab_import", "GET"): CLINICAL | {ADMIN},
    ("labs.lab_import", "POST"): CLINICAL | {ADMIN},
    ("api_labs.lab_index", "GET"): EVERYONE,
    ("api_labs.lab_create", "POST"): CLINICAL,
    # putting records right (issue 12): everyone reads a result, the site team marks it in error or ends a participant
    ("corrections.api_lab_show", "GET"): EVERYONE,
    ("corrections.api_lab_entered_in_error", "POST"): CLINICAL,
    ("corrections.api_participant_status", "POST"): CLINICAL,
    ("corrections.lab_detail", "GET"): EVERYONE,
    ("corrections.lab_entered_in_error", "POST"): CLINICAL,
    ("corrections.participant_status", "POST"): CLINICAL,
    # con-meds and medical history (issue 14): everyone reads (site-scoped), the site team enters and amends
    ("history.conmed_new", "GET"): CLINICAL,
    ("history.conmed_new", "POST"): CLINICAL,
    ("history.conmed_amend", "GET"): CLINICAL,
    ("history.conmed_amend", "POST"): CLINICAL,
    ("history.conmed_entered_in_error", "POST"): CLINICAL,
    ("history.mh_new", "GET"): CLINICAL,
    ("history.mh_new", "POST"): CLINICAL,
    ("history.mh_amend", "GET"): CLINICAL,
    ("history.mh_amend", "POST"): CLINICAL,
    ("history.mh_entered_in_error", "POST"): CLINICAL,
    ("history.import_page", "GET"): CLINICAL | {ADMIN},
    ("history.import_page", "POST"): CLINICAL | {ADMIN},
    ("history.ae_treatments", "POST"): CLINICAL,
    ("api_history.conmed_index", "GET"): EVERYONE,
    ("api_history.conmed_create", "POST"): CLINICAL,
    ("api_history.conmed_show", "GET"): EVERYONE,
    ("api_history.conmed_amend", "PATCH"): CLINICAL,
    ("api_history.medical_history_index", "GET"): EVERYONE,
    ("api_history.medical_history_create", "POST"): CLINICAL,
    ("api_history.medical_history_show", "GET"): EVERYONE,
    ("api_history.medical_history_amend", "PATCH"): CLINICAL,
    ("api_history.treatments_show", "GET"): EVERYONE,
    ("api_history.treatments_set", "PUT"): CLINICAL,
    ("exports_odm.odm_xml", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    # alerts: seen by those who act on them and by oversight; acted on by the investigator and safety officer
    ("alerts.inbox", "GET"): {INVESTIGATOR, OFFICER, AUDITOR, ADMIN},
    ("alerts.detail", "GET"): {INVESTIGATOR, OFFICER, AUDITOR, ADMIN},
    ("alerts.api_index", "GET"): {INVESTIGATOR, OFFICER, AUDITOR, ADMIN},
    ("alerts.acknowledge", "POST"): {INVESTIGATOR, OFFICER},
    ("alerts.api_acknowledge", "POST"): {INVESTIGATOR, OFFICER},
    ("alerts.resolve", "POST"): {INVESTIGATOR, OFFICER},
    ("outbox.index", "GET"): {ADMIN},
    ("outbox.message", "GET"): {ADMIN},
    ("outbox.html_part", "GET"): {ADMIN},
    # oversight: dashboards, signals, exports, the audit trail; never the nurse (site-bound data entry)
    ("dashboard.index", "GET"): {INVESTIGATOR, OFFICER, AUDITOR, ADMIN},
    ("signals.stopping_page", "GET"): {OFFICER, INVESTIGATOR, AUDITOR},
    ("signals.change_page", "GET"): {OFFICER, INVESTIGATOR, AUDITOR},
    ("signals.rates_page", "GET"): {OFFICER, INVESTIGATOR, AUDITOR},
    ("signals.dsmb_page", "GET"): {OFFICER, AUDITOR},
    ("signals.dsmb_pdf", "GET"): {OFFICER, AUDITOR},
    ("exports.index", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.ae", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.define", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.sdtm", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.suppae", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.labs", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.visits", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("exports.summary", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
    ("audit_pages.index", "GET"): {AUDITOR, ADMIN},
    ("audit_pages.verify", "GET"): {AUDITOR, ADMIN},
    ("audit_pages.export", "GET"): {AUDITOR},
    # data clarification queries: everyone reads (site-scoped); oversight and the investigator raise and close
    # (the domain narrows closing to the raiser or the safety officer); the site team answers
    ("queries.index", "GET"): EVERYONE,
    ("queries.detail", "GET"): EVERYONE,
    ("queries.new", "GET"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("queries.create", "POST"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("queries.answer", "POST"): CLINICAL,
    ("queries.amend", "GET"): CLINICAL,
    ("queries.amend", "POST"): CLINICAL,
    ("queries.close", "POST"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("queries.reopen", "POST"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("queries.export", "GET"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("api_queries.query_raise", "POST"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("api_queries.query_index", "GET"): EVERYONE,
    ("api_queries.query_show", "GET"): EVERYONE,
    ("api_queries.query_answer", "POST"): CLINICAL,
    ("api_queries.query_close", "POST"): {OFFICER, AUDITOR, INVESTIGATOR},
    ("api_queries.query_reopen", "POST"): {OFFICER, AUDITOR, INVESTIGATOR},
    # eligibility screening (issue 13): everyone reads the checklist (site-scoped); the site team answers and
    # records the injection; only the investigator signs a protocol deviation; the screening log is oversight's
    ("eligibility.screening", "GET"): EVERYONE,
    ("eligibility.answer", "POST"): CLINICAL,
    ("eligibility.deviation", "POST"): {INVESTIGATOR},
    ("eligibility.injection", "POST"): CLINICAL,
    ("eligibility.api_eligibility", "GET"): EVERYONE,
    ("eligibility.screening_log", "GET"): {INVESTIGATOR, OFFICER, AUDITOR},
}

# Sample values for URL arguments: records that exist and that every site-bound persona (site S01) may see.
SAMPLE_ARGS = {
    "subject_id": "S01-001",
    "visit": "M1",
    "ae_id": 1,
    "alert_id": 1,
    "lab_id": 1,
    "outbox_id": 1,
    "term_or_code": "Nausea",
    "fmt": "csv",
    "token_id": 1,  # nurse_nina's token, asked for under the spare account: 404, never revoked
    "query_id": 1,
    "criterion": "IN01",  # an eligibility criterion the site answers
    "record_id": 1,  # a con-med or medical history entry (none stored: the views answer 404 past the guard)
}


def route_table(app) -> list[tuple[str, str, str]]:
    return sorted({(rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                   for method in rule.methods - {"HEAD", "OPTIONS"} if rule.endpoint != "static"})


class Site:
    """One app with the personas signed in (web) and holding tokens (API), shared by the module's tests."""

    def __init__(self, tmp_path):
        self.clock = FixedClock(NOW)
        self.app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "safety.db"),
                               "INSTANCE_PATH": str(tmp_path / "instance"), "CLOCK": self.clock,
                               "SECRET_KEY": "test-secret"})
        db = connect(self.app.config["DATABASE"])
        self.people = {name: users.create(db, email=f"{name}@example.org", role=role, site=site, password=PASSWORD,
                                          now=NOW) for name, (role, site) in PERSONAS.items()}
        participants.create(db, {"subject_id": "S01-001", "site": "S01", "sex": "F", "birth_date": "1968-03-02",
                                 "weight_kg": 72.5, "consent_on": "2026-01-05", "enrolled_on": "2026-01-08",
                                 "injection_at": "2026-01-12T09:30:00+00:00"},
                            study=self.app.extensions["rulebook"].study, tz=self.app.config["TIMEZONE"],
                            actor=self.people[NURSE], now=NOW)
        # one record of each kind at site S01 (ids 1), so the routes on an id reach their view
        rb, tz = self.app.extensions["rulebook"], self.app.config["TIMEZONE"]
        adverse_events.create(db, {"subject_id": "S01-001", "term": "Hematuria", "verbatim": "blood in urine",
                                   "grade": 3, "onset": "2026-06-14", "serious": True, "seriousness": ["hospitalization"],
                                   "relatedness_product": "possible", "relatedness_procedure": "probable",
                                   "expected": False, "action_taken": "not_applicable", "outcome": "recovering"},
                              catalogue=rb.ctcae, study=rb.study, tz=tz, actor=self.people[NURSE], now=NOW)
        labs.record(db, "S01-001", {"analyte": "creatinine", "value": 1.6, "unit": "mg/dL",
                                    "collected_at": "2026-06-01T08:00:00+00:00"},
                    rules=rb.lab_rules, study=rb.study, tz=tz, user=self.people[NURSE], source="api", now=NOW)
        for table in ("adverse_events", "alerts", "labs", "outbox"):
            assert db.execute(f"SELECT count(*) FROM {table} WHERE id = 1").fetchone()[0] == 1, table
        # a throwaway account, so admin routes acting on a user id change nobody the tests rely on
        spare = users.create(db, email="spare@example.org", role="auditor", password=PASSWORD, now=NOW)
        self.args = {**SAMPLE_ARGS, "user_id": spare["id"]}
        self.tokens = {name: users.create_token(db, p["email"], now=NOW) for name, p in self.people.items()}
        db.conn.close()
        self.web: dict[str, WebUser] = {}
        for name in EVERYONE:
            self.sign_in(name)

    def sign_in(self, persona: str) -> None:
        user = WebUser(self.app.test_client(), self.people[persona]["email"])
        assert user.sign_in().status_code == 302
        self.web[persona] = user

    def request(self, persona: str | None, endpoint: str, method: str, rule: str):
        url = self.url(rule)
        if rule.startswith("/api/"):
            client = self.app.test_client()
            headers = {"Authorization": f"Bearer {self.tokens[persona]}"} if persona else {}
            return client.open(url, method=method, headers=headers, json={} if method != "GET" else None)
        if persona is None:
            client = self.app.test_client()
            token = csrf_from(client.get("/login").get_data(as_text=True))
        else:
            client = self.web[persona].client
            token = csrf_from(client.get("/").get_data(as_text=True))
        response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
        if persona and endpoint == "auth.logout":
            self.sign_in(persona)
        return response

    def url(self, rule: str) -> str:
        from werkzeug.routing import Map, Rule
        matched = next(r for r in self.app.url_map.iter_rules() if r.rule == rule)
        missing = [a for a in matched.arguments if a not in self.args]
        assert not missing, f"add a sample value for {missing} of {rule} to SAMPLE_ARGS"
        adapter = Map([Rule(rule, endpoint="x")]).bind("localhost")
        return adapter.build("x", {a: self.args[a] for a in matched.arguments})


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return Site(tmp_path_factory.mktemp("routes"))


def signed_out(response) -> bool:
    return response.status_code == 401 or (response.status_code == 302 and "/login" in response.headers["Location"])


def test_it_has_a_reviewed_rule_for_every_route(site):
    routes = {(endpoint, method) for endpoint, method, _ in route_table(site.app)}
    unreviewed = sorted(routes - set(ACCESS))
    assert unreviewed == [], "add these routes to ACCESS with the roles that may use them"
    stale = sorted(set(ACCESS) - routes)
    assert stale == [], "these routes are gone: remove them from ACCESS"


@pytest.mark.parametrize("endpoint,method", sorted(ACCESS))
def test_it_lets_exactly_the_allowed_roles_through(site, endpoint, method):
    rules = [r for e, m, r in route_table(site.app) if (e, m) == (endpoint, method)]
    assert rules, f"{endpoint} {method} is not routed"
    wrong = []
    for rule in rules:
        wrong += check_rule(site, endpoint, method, rule, ACCESS[(endpoint, method)])
    assert wrong == []


def check_rule(site, endpoint: str, method: str, rule: str, allowed) -> list[str]:
    """Every persona and an anonymous visitor on one URL rule; returns what went against the table."""
    wrong = []
    for persona in sorted(EVERYONE):
        r = site.request(persona, endpoint, method, rule)
        may = allowed == PUBLIC or persona in allowed
        # signing in or out answers with 401 or a redirect to /login by design
        if may and (r.status_code == 403 or (signed_out(r) and endpoint not in SIGN_IN_OUT)):
            wrong.append(f"{persona} refused ({r.status_code})")
        if not may and r.status_code != 403:
            wrong.append(f"{persona} let through ({r.status_code})")
    anonymous = site.request(None, endpoint, method, rule)
    if allowed == PUBLIC:
        if anonymous.status_code == 403 or (signed_out(anonymous) and endpoint not in SIGN_IN_OUT):
            wrong.append(f"anonymous refused ({anonymous.status_code}) on a public route")
    elif not signed_out(anonymous):
        wrong.append(f"anonymous not sent to sign in ({anonymous.status_code})")
    return [f"{method} {rule}: {w}" for w in wrong]


def test_it_lets_no_role_act_at_another_site_through_the_url(site):
    """A nurse at S01 asking for an S02 subject sees nothing: site-bound roles are scoped by the data too."""
    db = connect(site.app.config["DATABASE"])
    participants.create(db, {"subject_id": "S02-001", "site": "S02", "sex": "M", "birth_date": "1966-05-02",
                             "weight_kg": 80, "consent_on": "2026-01-05", "enrolled_on": "2026-01-08"},
                        study=site.app.extensions["rulebook"].study, tz=site.app.config["TIMEZONE"],
                        actor=site.people[ADMIN], now=NOW)
    db.conn.close()
    leaks = []
    for endpoint, method, rule in route_table(site.app):
        if method != "GET" or "<subject_id>" not in rule:
            continue
        url = rule.replace("<subject_id>", "S02-001")
        if "<" in url:
            continue
        for persona in sorted(CLINICAL):
            if rule.startswith("/api/"):
                r = site.app.test_client().get(url, headers={"Authorization": f"Bearer {site.tokens[persona]}"})
            else:
                r = site.web[persona].get(url)
            if r.status_code not in (403, 404) or "1966-05-02" in r.get_data(as_text=True):
                leaks.append(f"{persona} {url} -> {r.status_code}")
    assert leaks == []
