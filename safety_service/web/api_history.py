"""JSON API for con-meds and medical history (CONTRACT.md "Second round") and an AE's treatment given.

PATCH needs ``version`` (428 without it, 409 when stale) and a ``reason``, as the AE PATCH does;
``{"status": "entered_in_error", "reason", "version"}`` withdraws a record.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..domain.errors import InvalidInput, NotFound
from ..domain.history import conmeds, medical_history, records, treatments
from . import api_error
from .api import json_body
from .context import get_db, now, tz
from .guard import requires
from .openapi import add_paths, body, err, ok, path_param, query

bp = Blueprint("api_history", __name__, url_prefix="/api/v1")
KINDS = {"conmeds": conmeds.KIND, "medical-history": medical_history.KIND}


def _flag(name: str) -> bool:
    value = request.args.get(name, "")
    if value.lower() not in ("", "true", "false", "1", "0"):
        raise InvalidInput({name: "must be true or false"})
    return value.lower() in ("true", "1")


def _index(kind, subject_id):
    return jsonify(records.list_for(get_db(), kind, subject_id, user=g.user,
                                    include_entered_in_error=_flag("include_entered_in_error")))


def _create(kind, subject_id):
    return jsonify(records.create(get_db(), kind, subject_id, json_body(), actor=g.user, tz=tz(), now=now())), 201


def _show(kind, subject_id, record_id):
    found = records.get(get_db(), kind, record_id, user=g.user)
    if found["subject_id"] != subject_id:
        raise NotFound(f"no {kind.noun} {record_id} for {subject_id}")
    return jsonify(found)


def _amend(kind, subject_id, record_id):
    data = json_body()
    _show(kind, subject_id, record_id)  # 404 before 428: a record the caller cannot see has no version to send
    if data.get("version") in (None, ""):
        return api_error(428, "version_required", "send the version you amend (GET it first): a change is never "
                         "applied to a version you have not seen", {"version": "required"})
    reason, version = data.pop("reason", None), data.pop("version")
    if data.get("status") == "entered_in_error":
        if len(data) > 1:
            raise InvalidInput({"status": "entered_in_error is sent alone, with a reason"})
        done = records.mark_entered_in_error(get_db(), kind, record_id, reason=reason, actor=g.user, now=now(),
                                             expected_version=version)
    else:
        done = records.amend(get_db(), kind, record_id, data, reason=reason, actor=g.user, tz=tz(), now=now(),
                             expected_version=version)
    return jsonify(done)


def _register(path: str, kind) -> None:
    """The four routes of one kind, each with its own endpoint name and permission."""
    short = "conmed" if kind is conmeds.KIND else "medical_history"
    for suffix, methods, func, action in (
            ("", ["GET"], _index, "history.view"), ("", ["POST"], _create, "history.enter"),
            ("/<record_id>", ["GET"], _show, "history.view"), ("/<record_id>", ["PATCH"], _amend, "history.enter")):
        def view(*args, _func=func, **kwargs):
            return _func(kind, *args, **kwargs)
        view = requires(action)(view)
        bp.add_url_rule(f"/participants/<subject_id>/{path}{suffix}", f"{short}_{func.__name__[1:]}", view,
                        methods=methods)


for _path, _kind in KINDS.items():
    _register(_path, _kind)


def _ae_id(ae_id: str) -> int:
    if not (ae_id.isascii() and ae_id.isdigit()):
        raise NotFound(f"no adverse event {ae_id}")
    return int(ae_id)


@bp.get("/adverse-events/<ae_id>/treatments")
@requires("ae.view")
def treatments_show(ae_id):
    from ..domain import adverse_events

    ae = adverse_events.get(get_db(), _ae_id(ae_id), user=g.user)
    return jsonify(treatments.for_ae(get_db(), ae["id"]))


@bp.put("/adverse-events/<ae_id>/treatments")
@requires("ae.amend")
def treatments_set(ae_id):
    data = json_body()
    ids = data.get("conmed_ids")
    if not isinstance(ids, list):
        raise InvalidInput({"conmed_ids": "must be a list of con-med ids (empty for none)"})
    return jsonify(treatments.set_for_ae(get_db(), _ae_id(ae_id), ids, actor=g.user, now=now(),
                                         reason=data.get("reason") or None))


# ---------------------------------------------------------------------------------------------------- spec

_PDATE = {"type": ["string", "null"], "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$",
          "description": "ISO 8601 date, or YYYY-MM / YYYY when only that is known"}
_COMMON = {"id": {"type": "integer"}, "subject_id": {"type": "string"}, "site": {"type": "string"},
           "seq": {"type": "integer"}, "display_id": {"type": "string", "example": "S01-001-CM1"},
           "status": {"type": "string", "enum": ["active", "entered_in_error"]}, "version": {"type": "integer"},
           "created_at": {"type": "string"}, "created_by": {"type": "string"}, "updated_at": {"type": "string"},
           "updated_by": {"type": "string"}}
_CM_FIELDS = {
    "name": {"type": "string", "maxLength": 200, "example": "Ramipril"},
    "dose": {"type": ["number", "null"], "exclusiveMinimum": 0, "example": 5},
    "unit": {"type": ["string", "null"], "maxLength": 20, "example": "mg", "description": "required with a dose"},
    "route": {"type": ["string", "null"], "enum": [*conmeds.ROUTES, None]},
    "indication": {"type": "string", "maxLength": 200, "example": "Diabetic nephropathy"},
    "start_date": {**_PDATE, "type": "string"}, "stop_date": _PDATE,
    "ongoing": {"type": "boolean", "description": "true: no stop date yet; false: stop_date required"}}
_MH_FIELDS = {"condition": {"type": "string", "maxLength": 200, "example": "Hypertension"}, "onset": _PDATE,
              "ongoing": {"type": "boolean"}}
_PATCH_EXTRA = {"reason": {"type": "string", "minLength": 1}, "version": {"type": "integer"},
                "status": {"type": "string", "enum": ["entered_in_error"]}}
SCHEMAS = {
    "ConMed": {"type": "object", "required": ["id", "subject_id", "seq", "name", "status", "version"],
               "properties": {**_COMMON, **_CM_FIELDS}},
    "MedicalHistory": {"type": "object", "required": ["id", "subject_id", "seq", "condition", "status", "version"],
                       "properties": {**_COMMON, **_MH_FIELDS}},
}
_IN = {"conmeds": {"type": "object", "required": ["name", "indication", "start_date"], "properties": _CM_FIELDS},
       "medical-history": {"type": "object", "required": ["condition"], "properties": _MH_FIELDS}}
_PATCH = {"conmeds": {"type": "object", "required": ["reason", "version"],
                      "properties": {**_CM_FIELDS, **_PATCH_EXTRA}},
          "medical-history": {"type": "object", "required": ["reason", "version"],
                              "properties": {**_MH_FIELDS, **_PATCH_EXTRA}}}
_PATHS = {}
for _path, _schema in (("conmeds", "ConMed"), ("medical-history", "MedicalHistory")):
    _ref = {"$ref": f"#/components/schemas/{_schema}"}
    _sid, _rid = path_param("subject_id"), path_param("record_id")
    _PATHS[f"/participants/{{subject_id}}/{_path}"] = {
        "get": {"summary": f"A participant's {_path.replace('-', ' ')}, by sequence number",
                "parameters": [_sid, query("include_entered_in_error", {"type": "boolean"})],
                "responses": {**ok({"type": "array", "items": _ref}), **err(401, 403, 404, 422)}},
        "post": {"summary": f"Record {_path.replace('-', ' ')} for a participant", "parameters": [_sid],
                 "requestBody": body(_IN[_path]),
                 "responses": {**ok(_ref, 201, "Created"), **err(400, 401, 403, 404, 422)}},
    }
    _PATHS[f"/participants/{{subject_id}}/{_path}/{{record_id}}"] = {
        "get": {"summary": "One record", "parameters": [_sid, _rid], "responses": {**ok(_ref), **err(401, 403, 404)}},
        "patch": {"summary": "Amend (changed fields + reason + version) or mark entered in error",
                  "parameters": [_sid, _rid], "requestBody": body(_PATCH[_path]),
                  "responses": {**ok(_ref), **err(400, 401, 403, 404, 409, 422, 428)}},
    }
_PATHS["/adverse-events/{ae_id}/treatments"] = {
    "get": {"summary": "The con-meds given as treatment for an AE", "parameters": [path_param("ae_id")],
            "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/ConMed"}}),
                          **err(401, 403, 404)}},
    "put": {"summary": "Set the con-meds given as treatment for an AE (audited on the AE)",
            "parameters": [path_param("ae_id")],
            "requestBody": body({"type": "object", "required": ["conmed_ids"], "properties": {
                "conmed_ids": {"type": "array", "items": {"type": "integer"}}, "reason": {"type": "string"}}}),
            "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/ConMed"}}),
                          **err(400, 401, 403, 404, 409, 422)}},
}
add_paths(_PATHS, SCHEMAS)
