"""The JSON API for adverse events and the CTCAE catalogue (CONTRACT.md): parse, call one domain function, reply."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..domain import adverse_events
from ..domain.errors import InvalidInput, NotFound, VersionRequired
from ..domain.once import idempotency
from .api import json_body
from .context import get_db, now, rulebook, study, tz
from .guard import requires
from .openapi import add_paths, body, err, ok, path_param, query

# Same /api/v1 prefix as web/api.py; a blueprint of its own so the AE routes live beside their spec.
bp = Blueprint("api_ae", __name__, url_prefix="/api/v1")


def catalogue():
    return rulebook().ctcae


def _ae_id(ae_id: str) -> int:
    if not (ae_id.isascii() and ae_id.isdigit()):  # "²".isdigit() is True, and int("²") raises
        raise NotFound(f"no adverse event {ae_id}")
    return int(ae_id)


@bp.post("/adverse-events")
@requires("ae.create")
def ae_create():
    """Record an AE; with an ``Idempotency-Key`` header a repeat returns the first AE and stores nothing."""
    data = json_body()

    def make():
        return adverse_events.create(get_db(), dict(data), catalogue=catalogue(), study=study(), tz=tz(),
                                     actor=g.user, now=now()), 201

    key = request.headers.get("Idempotency-Key")
    if key is None:
        body, status = make()
        return jsonify(body), status
    outcome = idempotency.run_once(get_db(), user=g.user, key=key, scope="POST /api/v1/adverse-events",
                                   payload=data, entity="adverse_event", now=now(), make=make)
    response = jsonify(outcome.body)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, outcome.status


@bp.get("/adverse-events")
@requires("ae.view")
def ae_index():
    return jsonify(adverse_events.list_aes(get_db(), g.user, request.args.to_dict()))


@bp.get("/adverse-events/<ae_id>")
@requires("ae.view")
def ae_show(ae_id):
    return jsonify(adverse_events.get(get_db(), _ae_id(ae_id), user=g.user))


@bp.patch("/adverse-events/<ae_id>")
@requires("ae.amend")
def ae_amend(ae_id):
    """Changed fields and a reason -> the new version; {"status": "entered_in_error", "reason"} withdraws it."""
    data = json_body()
    reason, version = data.pop("reason", None), data.pop("version", None)
    if version is None:
        adverse_events.get(get_db(), _ae_id(ae_id), user=g.user)  # another site's AE stays a 404
        raise VersionRequired("send the version you amend (the AE's current \"version\"): a change against an "
                              "unknown version could overwrite someone else's", {"version": "required"})
    if data.get("status") == "entered_in_error":
        if len(data) > 1:
            raise InvalidInput({"status": "entered_in_error is sent alone, with a reason"})
        ae = adverse_events.mark_entered_in_error(get_db(), _ae_id(ae_id), reason=reason, actor=g.user, now=now(),
                                                  expected_version=version)
    else:
        ae = adverse_events.amend(get_db(), _ae_id(ae_id), data, reason=reason, catalogue=catalogue(),
                                  study=study(), tz=tz(), actor=g.user, now=now(), expected_version=version)
    return jsonify(ae)


@bp.get("/adverse-events/<ae_id>/versions")
@requires("ae.view")
def ae_versions(ae_id):
    history = adverse_events.versions(get_db(), _ae_id(ae_id), user=g.user)
    return jsonify([{**v, "changes": [{"field": f, "old": o, "new": n} for f, o, n in v["changes"]]}
                    for v in history])


@bp.post("/adverse-events/<ae_id>/report-sent")
@requires("ae.report_sent")
def ae_report_sent(ae_id):
    data = request.get_json(silent=True) or {}
    return jsonify(adverse_events.record_report_sent(get_db(), _ae_id(ae_id), actor=g.user, now=now(), tz=tz(),
                                                     sent_at=data.get("sent_at")))


@bp.get("/ctcae/terms")
@requires("ctcae.view")
def ctcae_terms():
    """Terms matching ``q`` (name, synonym or code; prefix matches first), or the whole catalogue without it."""
    cat, q = catalogue(), request.args.get("q", "")
    try:
        limit = int(request.args.get("limit") or (20 if q.strip() else len(cat.terms)))
    except ValueError:
        raise InvalidInput({"limit": "must be a whole number"}) from None
    if not 1 <= limit <= 500:
        raise InvalidInput({"limit": "must be between 1 and 500"})
    found = cat.search(q, limit) if q.strip() else cat.terms[:limit]
    return jsonify([t.to_dict(cat.version) for t in found])


@bp.get("/ctcae/terms/<term_or_code>")
@requires("ctcae.view")
def ctcae_term(term_or_code):
    cat = catalogue()
    term = cat.get(term_or_code)
    if term is None:
        raise NotFound(cat.unknown_term_message(term_or_code))
    return jsonify(term.to_dict(cat.version))


# ---------------------------------------------------------------------------------------------------- spec

_REL = {"type": "string", "enum": ["not_related", "unlikely", "possible", "probable", "definite"]}
_CRITERIA = {"type": "array", "items": {"type": "string", "enum": [
    "death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "important_medical_event"]}}
_ACTION = {"type": "string", "enum": ["not_applicable", "dose_not_changed", "drug_withdrawn", "drug_interrupted",
                                      "unknown"]}
_OUTCOME = {"type": "string", "enum": ["recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal",
                                       "unknown"]}
_NDATE = {"type": ["string", "null"], "format": "date"}
_NDT = {"type": ["string", "null"], "format": "date-time"}
_ENTERED = {
    "term": {"type": "string", "description": "CTCAE v5.0 term or its MedDRA code", "example": "Hematuria"},
    "verbatim": {"type": "string", "maxLength": 200, "example": "pink urine after the injection"},
    "grade": {"type": "integer", "minimum": 1, "maximum": 5},
    "onset": {"type": "string", "description": "date YYYY-MM-DD or ISO 8601 datetime", "example": "2026-06-10"},
    "onset_time": {"type": ["string", "null"], "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    "end_date": _NDATE, "serious": {"type": "boolean"}, "seriousness": _CRITERIA,
    "relatedness_product": _REL, "relatedness_procedure": _REL, "expected": {"type": ["boolean", "null"]},
    "action_taken": _ACTION, "other_action": {"type": ["string", "null"], "maxLength": 200}, "outcome": _OUTCOME,
    "description": {"type": ["string", "null"], "maxLength": 4000},
    "awareness_at": {"type": "string", "format": "date-time", "description": "when the site learned of it; default now"},
}
AE_IN = {"type": "object", "required": ["subject_id", "term", "verbatim", "grade", "onset", "relatedness_product",
                                        "relatedness_procedure", "outcome"],
         "properties": {"subject_id": {"type": "string", "example": "S01-001"}, **_ENTERED}}
AE_PATCH = {"type": "object", "required": ["reason", "version"], "properties": {
    **_ENTERED, "reason": {"type": "string", "minLength": 1}, "version": {"type": "integer"},
    "status": {"type": "string", "enum": ["entered_in_error"]}}}
AE = {"type": "object", "required": ["id", "subject_id", "seq", "term", "grade", "phase", "onset_day", "status",
                                     "version"], "properties": {
    **_ENTERED, "id": {"type": "integer"}, "subject_id": {"type": "string"}, "site": {"type": "string"},
    "seq": {"type": "integer"}, "meddra_code": {"type": "string"}, "soc": {"type": "string"},
    "ctcae_version": {"type": "string"}, "related": {"type": "boolean"},
    "onset_day": {"type": ["integer", "null"]}, "end_day": {"type": ["integer", "null"]},
    "phase": {"type": ["string", "null"], "enum": ["early", "late", None]},
    "treatment_emergent": {"type": "boolean"}, "report_due_at": _NDT, "expedited_due_at": _NDT,
    "susar": {"type": "boolean"}, "status": {"type": "string", "enum": ["active", "entered_in_error"]},
    "version": {"type": "integer"}, "created_at": {"type": "string"}, "created_by": {"type": "string"},
    "updated_at": {"type": "string"}, "updated_by": {"type": "string"}, "signed_off_at": _NDT,
    "signed_off_by": {"type": ["string", "null"]}, "signed_off_version": {"type": ["integer", "null"]},
    "report_sent_at": _NDT, "report_sent_by": {"type": ["string", "null"]},
    "susar_status": {"type": ["string", "null"], "enum": ["susar", "possible", None]}}}
TERM = {"type": "object", "required": ["term", "soc", "meddra_code", "grades", "ctcae_version"], "properties": {
    "term": {"type": "string"}, "soc": {"type": "string"}, "meddra_code": {"type": "string"},
    "meddra_pt_code": {"type": ["string", "null"]}, "definition": {"type": ["string", "null"]},
    "grades": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
    "allowed_grades": {"type": "array", "items": {"type": "integer"}},
    "synonyms": {"type": "array", "items": {"type": "string"}}, "note": {"type": ["string", "null"]},
    "ctcae_version": {"type": "string"}}}
_AE_REF = {"$ref": "#/components/schemas/AdverseEvent"}
_ID = path_param("ae_id")

add_paths({
    "/adverse-events": {
        "post": {"summary": "Record an adverse event (a repeat with the same Idempotency-Key returns the first)",
                 "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                 "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                            "pattern": "^[!-~]+$"}}],
                 "requestBody": body(AE_IN),
                 "responses": {**ok(_AE_REF, 201, "Created"), **err(400, 401, 403, 409, 422)}},
        "get": {"summary": "Adverse events visible to the caller",
                "parameters": [query("subject_id"), query("site"), query("serious", {"type": "boolean"}),
                               query("min_grade", {"type": "integer", "minimum": 1, "maximum": 5}),
                               query("phase", {"type": "string", "enum": ["early", "late"]}),
                               query("related", {"type": "boolean"}),
                               query("from", {"type": "string", "format": "date"}),
                               query("to", {"type": "string", "format": "date"})],
                "responses": {**ok({"type": "array", "items": _AE_REF}), **err(401, 403, 422)}},
    },
    "/adverse-events/{ae_id}": {
        "get": {"summary": "One adverse event", "parameters": [_ID],
                "responses": {**ok(_AE_REF), **err(401, 403, 404)}},
        "patch": {"summary": "Amend (changed fields + reason) or mark entered in error", "parameters": [_ID],
                  "requestBody": body(AE_PATCH),
                  "responses": {**ok(_AE_REF), **err(400, 401, 403, 404, 409, 422, 428)}},
    },
    "/adverse-events/{ae_id}/versions": {"get": {
        "summary": "Every version of an adverse event with what each amendment changed", "parameters": [_ID],
        "responses": {**ok({"type": "array", "items": {"type": "object"}}), **err(401, 403, 404)}}},
    "/adverse-events/{ae_id}/report-sent": {"post": {
        "summary": "Record that the SAE report went to the sponsor", "parameters": [_ID],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"sent_at": {"type": "string", "format": "date-time"}}}}}},
        "responses": {**ok(_AE_REF), **err(400, 401, 403, 404, 409, 422)}}},
    "/ctcae/terms": {"get": {
        "summary": "CTCAE v5.0 terms matching q (name, synonym or MedDRA code), with grade definitions",
        "parameters": [query("q"), query("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
        "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/CtcaeTerm"}}),
                      **err(401, 403, 422)}}},
    "/ctcae/terms/{term_or_code}": {"get": {
        "summary": "One CTCAE v5.0 term by name or MedDRA code", "parameters": [path_param("term_or_code")],
        "responses": {**ok({"$ref": "#/components/schemas/CtcaeTerm"}), **err(401, 403, 404)}}},
}, {"AdverseEvent": AE, "CtcaeTerm": TERM})
