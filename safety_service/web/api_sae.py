"""The JSON API of a serious AE after its save: the report series, the investigator's sign-off, the CIOMS I form.
Views parse, call one domain function, reply (CONTRACT.md, second round)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from ..domain import adverse_events
from ..domain.errors import InvalidInput
from ..domain.sae import reports
from .api import json_body
from .api_ae import _ae_id
from .context import get_db, now, rulebook, tz
from .guard import requires
from .openapi import add_paths, body, err, ok, path_param, query

bp = Blueprint("api_sae", __name__, url_prefix="/api/v1")


@bp.get("/adverse-events/<ae_id>/reports")
@requires("ae.view")
def report_index(ae_id):
    return jsonify(reports.series(get_db(), _ae_id(ae_id), user=g.user, tz=tz(), now=now()))


@bp.post("/adverse-events/<ae_id>/reports")
@requires("ae.report_sent")
def report_create(ae_id):
    report = reports.record(get_db(), _ae_id(ae_id), json_body(), actor=g.user, tz=tz(), now=now())
    return jsonify(report), 201


@bp.post("/adverse-events/<ae_id>/sign-off")
@requires("ae.sign_off")
def sign_off(ae_id):
    """The investigator's e-signature: the same domain call as the page (password checked through domain/users)."""
    password = json_body().get("password")
    if password is not None and not isinstance(password, str):
        raise InvalidInput({"password": "must be text"})
    return jsonify(adverse_events.sign_off(get_db(), _ae_id(ae_id), password=password or "", actor=g.user,
                                           now=now()))


@bp.get("/adverse-events/<ae_id>/cioms.pdf")
@requires("ae.cioms")
def cioms_pdf(ae_id):
    """The CIOMS I form of report ``report`` (default the latest sent) of a serious AE."""
    from ..reports import cioms  # fpdf2 and fonts only when a form is asked for

    raw = request.args.get("report")
    number = None
    if raw not in (None, ""):
        if not (raw.isascii() and raw.isdigit()):
            raise InvalidInput({"report": "must be a report number (0 = initial, 1.. follow-ups)"})
        number = int(raw)
    data, name = cioms.for_request(get_db(), _ae_id(ae_id), number, user=g.user, rulebook=rulebook(), tz=tz(),
                                   actor=g.user["email"], now=now())
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


_NDT = {"type": ["string", "null"], "format": "date-time"}
CLOCK = {"type": "object", "properties": {
    "clock": {"type": "string"}, "number": {"type": "integer"}, "kind": {"type": "string"},
    "due_at": {"type": "string", "format": "date-time"}, "title": {"type": "string"},
    "citation": {"type": "string"}, "met": {"type": "boolean"}}}
REPORT = {"type": "object", "required": ["number", "kind", "status", "due_at", "sent_at"], "properties": {
    "id": {"type": ["integer", "null"]}, "ae_id": {"type": "integer"}, "number": {"type": "integer", "minimum": 0},
    "kind": {"type": "string", "enum": ["initial", "follow_up"]}, "due_at": _NDT, "sent_at": _NDT,
    "sent_by": {"type": ["string", "null"]}, "recipient": {"type": ["string", "null"]},
    "summary": {"type": ["string", "null"]}, "changes": {"type": "array", "items": {"type": "string"}},
    "ae_version": {"type": ["integer", "null"]}, "status": {"type": "string", "enum": ["sent", "due", "overdue"]},
    "created_at": {"type": ["string", "null"]}, "created_by": {"type": ["string", "null"]},
    "expedited": {"type": "boolean"}, "clocks": {"type": "array", "items": CLOCK}}}
REPORT_IN = {"type": "object", "required": ["kind", "recipient"], "properties": {
    "kind": {"type": "string", "enum": ["initial", "follow_up"]},
    "sent_at": {"type": "string", "format": "date-time", "description": "default now; local time without offset"},
    "recipient": {"type": "string", "minLength": 1, "maxLength": 200, "example": "Sponsor safety desk"},
    "summary": {"type": "string", "maxLength": 4000, "description": "required for a follow-up: what is new"},
    "expedited": {"type": "boolean", "description": "the sponsor's expedited report to the competent authority "
                                                    "and ethics committee (ICH E2A); meets a SUSAR's 7/15-day clock"}}}
_ID = path_param("ae_id")
add_paths({
    "/adverse-events/{ae_id}/reports": {
        "get": {"summary": "The SAE's reports, numbered, sent and still due, each with its due date",
                "parameters": [_ID],
                "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/SaeReport"}}),
                              **err(401, 403, 404)}},
        "post": {"summary": "Record a report of the series as sent (initial = 0, follow-ups 1..)",
                 "parameters": [_ID], "requestBody": body(REPORT_IN),
                 "responses": {**ok({"$ref": "#/components/schemas/SaeReport"}, 201, "Created"),
                               **err(400, 401, 403, 404, 409, 422)}},
    },
    "/adverse-events/{ae_id}/sign-off": {"post": {
        "summary": "The investigator's electronic signature on an SAE (password re-entered)", "parameters": [_ID],
        "requestBody": body({"type": "object", "required": ["password"],
                             "properties": {"password": {"type": "string"}}}),
        "responses": {**ok({"$ref": "#/components/schemas/AdverseEvent"}), **err(400, 401, 403, 404, 409, 422)}}},
    "/adverse-events/{ae_id}/cioms.pdf": {"get": {
        "summary": "The CIOMS I form of a serious AE's report (default the latest sent)",
        "parameters": [_ID, query("report", {"type": "integer", "minimum": 0})],
        "responses": {"200": {"description": "the form", "content": {"application/pdf": {
            "schema": {"type": "string", "format": "binary"}}}}, **err(401, 403, 404, 409, 422)}}},
}, {"SaeReport": REPORT})
