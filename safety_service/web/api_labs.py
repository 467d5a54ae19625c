"""JSON API for lab results: POST and GET /api/v1/participants/<subject_id>/labs (CONTRACT.md)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..domain import labs
from ..domain.units import ANALYTES
from .api import json_body
from .context import get_db, now, rulebook, study, tz
from .guard import requires
from .openapi import add_paths, body, err, ok, path_param, query

bp = Blueprint("api_labs", __name__, url_prefix="/api/v1")


@bp.post("/participants/<subject_id>/labs")
@requires("lab.create")
def lab_create(subject_id):
    done = labs.record(get_db(), subject_id, json_body(), rules=rulebook().lab_rules, study=study(), tz=tz(),
                       user=g.user, source="api", now=now(), plausibility=rulebook().plausibility)
    # The same sample sent twice (a retry) answers with the stored result, not a second one.
    return jsonify({**labs.public(done.lab), "breaches": list(done.breaches), "duplicate": done.duplicate}), \
        200 if done.duplicate else 201


@bp.get("/participants/<subject_id>/labs")
@requires("lab.view")
def lab_index(subject_id):
    # Results entered in error are left out unless asked for (then each with its status, issue 12).
    errors = (request.args.get("include_entered_in_error") or "").lower() in ("true", "1", "yes")
    return jsonify(labs.series(get_db(), subject_id, user=g.user, analyte=request.args.get("analyte") or None,
                               include_errors=errors))


LAB = {"type": "object", "required": ["id", "subject_id", "analyte", "value", "unit", "value_si", "unit_si",
                                      "collected_at"], "properties": {
    "id": {"type": "integer"}, "subject_id": {"type": "string"},
    "analyte": {"type": "string", "enum": list(ANALYTES)}, "value": {"type": "number"}, "unit": {"type": "string"},
    "value_si": {"type": "number"}, "unit_si": {"type": "string"},
    "egfr": {"type": ["number", "null"], "description": "CKD-EPI 2021 eGFR, for a creatinine"},
    "kdigo_stage": {"type": ["string", "null"], "description": "KDIGO 2012 G stage (eGFR) or A stage (UACR)"},
    "ctcae_term": {"type": ["string", "null"]}, "ctcae_grade": {"type": ["integer", "null"]},
    "uln": {"type": ["number", "null"]}, "lln": {"type": ["number", "null"]},
    "range_source": {"type": ["string", "null"], "enum": ["lab", "study", None]},
    "visit": {"type": ["string", "null"]}, "collected_at": {"type": "string", "format": "date-time"},
    "source": {"type": "string"}, "entered_at": {"type": "string"}, "entered_by": {"type": "string"},
    "status": {"type": "string", "enum": ["valid", "entered_in_error"]},
    "error_reason": {"type": ["string", "null"]}, "error_at": {"type": ["string", "null"]},
    "error_by": {"type": ["string", "null"]},
    "confirmed_checks": {"type": ["string", "null"], "description": "plausibility checks failed and confirmed"},
    "regrade_reason": {"type": ["string", "null"], "description": "why the CTCAE grade was re-graded"}}}

LAB_CREATED = {"allOf": [{"$ref": "#/components/schemas/Lab"}, {"type": "object", "properties": {
    "breaches": {"type": "array", "items": {"type": "string"}, "description": "ids of the safety rules breached"},
    "duplicate": {"type": "boolean"}}}]}

LAB_IN = {"type": "object", "required": ["analyte", "value", "unit", "collected_at"], "properties": {
    "analyte": {"type": "string", "enum": list(ANALYTES), "example": "creatinine"},
    "value": {"type": "number", "example": 1.42}, "unit": {"type": "string", "example": "mg/dL"},
    "collected_at": {"type": "string", "format": "date-time", "example": "2026-03-02T08:30:00+01:00"},
    "visit": {"type": "string", "example": "M1"}, "uln": {"type": "number", "description": "in the unit given"},
    "lln": {"type": "number", "description": "in the unit given"},
    "confirmed": {"type": "boolean", "description": "save a value that fails a delta or plausibility check"}}}

add_paths({
    "/participants/{subject_id}/labs": {
        "post": {"summary": "Record a lab result (unknown unit or an unconfirmed implausible value: 422; a different "
                            "value for the same sample: 409)",
                 "parameters": [path_param("subject_id")], "requestBody": body(LAB_IN),
                 "responses": {**ok(LAB_CREATED, 201, "Stored"), **ok(LAB_CREATED, 200, "Already stored"),
                               **err(400, 401, 403, 404, 409, 422)}},
        "get": {"summary": "A participant's lab series, oldest first",
                "parameters": [path_param("subject_id"), query("analyte", {"type": "string", "enum": list(ANALYTES)}),
                               query("include_entered_in_error", {"type": "boolean"})],
                "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/Lab"}}),
                              **err(401, 403, 404, 422)}},
    },
}, {"Lab": LAB})
