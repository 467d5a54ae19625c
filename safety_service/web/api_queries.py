"""The queries API (CONTRACT.md "Second round"): raise, list, read, answer (optionally by amending the AE in the
same step), close, reopen. Parse, call one function of domain/queries, reply."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..domain import queries
from ..domain.errors import InvalidInput
from ..domain.queries.amend import answer_by_amending_ae
from .api import json_body
from .context import get_db, now, rulebook, study, tz
from .guard import requires
from .openapi import add_paths, body, err, ok, path_param, query

bp = Blueprint("api_queries", __name__, url_prefix="/api/v1")


def visit_codes() -> tuple[str, ...]:
    return tuple(v.code for v in study().visits)


def with_thread(q: dict) -> dict:
    return {**q, "thread": queries.thread(get_db(), q["id"])}


@bp.post("/queries")
@requires("query.raise")
def query_raise():
    q = queries.raise_query(get_db(), json_body(), user=g.user, now=now(), visit_codes=visit_codes())
    return jsonify(with_thread(q)), 201


@bp.get("/queries")
@requires("query.view")
def query_index():
    found, total = queries.search(get_db(), g.user, request.args.to_dict())
    response = jsonify(found)
    response.headers["X-Total-Count"] = str(total)
    return response


@bp.get("/queries/<query_id>")
@requires("query.view")
def query_show(query_id):
    return jsonify(with_thread(queries.get(get_db(), query_id, user=g.user)))


@bp.post("/queries/<query_id>/answer")
@requires("query.answer")
def query_answer(query_id):
    """``text``; with ``amend`` ({changed AE fields..., "version": n}) the AE is amended in the same step."""
    data = json_body()
    extra = [k for k in data if k not in ("text", "amend")]
    if extra:
        raise InvalidInput({k: "unknown field" for k in extra})
    amend = data.get("amend")
    if amend is None:
        q = queries.answer(get_db(), query_id, text=data.get("text"), user=g.user, now=now())
    else:
        if not isinstance(amend, dict) or not amend:
            raise InvalidInput({"amend": "must be an object of the AE fields that change, with its version"})
        changes = dict(amend)
        version = changes.pop("version", None)
        q = answer_by_amending_ae(get_db(), query_id, text=data.get("text"), changes=changes, version=version,
                                  catalogue=rulebook().ctcae, study=study(), tz=tz(), user=g.user, now=now(),
                                  auto_rules=rulebook().queries)
    return jsonify(with_thread(q))


def _comment() -> str | None:
    data = json_body()
    extra = [k for k in data if k != "comment"]
    if extra:
        raise InvalidInput({k: "unknown field" for k in extra})
    return data.get("comment")


@bp.post("/queries/<query_id>/close")
@requires("query.close")
def query_close(query_id):
    return jsonify(with_thread(queries.close(get_db(), query_id, comment=_comment(), user=g.user, now=now())))


@bp.post("/queries/<query_id>/reopen")
@requires("query.close")
def query_reopen(query_id):
    return jsonify(with_thread(queries.reopen(get_db(), query_id, comment=_comment(), user=g.user, now=now())))


# ---------------------------------------------------------------------------------------------------- spec

_NSTR = {"type": ["string", "null"]}
_STATUS = {"type": "string", "enum": list(queries.STATUSES)}
_ENTITY = {"type": "string", "enum": list(queries.ENTITIES)}
MESSAGE = {"type": "object", "required": ["id", "at", "actor", "step", "text", "status_after"], "properties": {
    "id": {"type": "integer"}, "query_id": {"type": "integer"}, "at": {"type": "string"},
    "actor": {"type": "string"}, "step": {"type": "string", "enum": ["raised", "answered", "closed", "reopened"]},
    "text": {"type": "string"}, "status_after": _STATUS, "amended_entity": _NSTR, "amended_id": _NSTR,
    "amended_version": {"type": ["integer", "null"]}}}
QUERY = {"type": "object", "required": ["id", "entity", "entity_id", "subject_id", "site", "status", "text"],
         "properties": {
    "id": {"type": "integer"}, "entity": _ENTITY, "entity_id": {"type": "string"}, "field": _NSTR,
    "subject_id": {"type": "string"}, "site": {"type": "string"}, "label": {"type": "string"},
    "text": {"type": "string"}, "status": _STATUS, "origin": {"type": "string", "enum": ["manual", "auto"]},
    "rule": _NSTR, "key": _NSTR, "raised_at": {"type": "string"}, "raised_by": {"type": "string"},
    "waiting_since": {"type": "string"}, "answered_at": _NSTR, "answered_by": _NSTR, "closed_at": _NSTR,
    "closed_by": _NSTR, "updated_at": {"type": "string"},
    "thread": {"type": "array", "items": {"$ref": "#/components/schemas/QueryMessage"}}}}
QUERY_IN = {"type": "object", "required": ["entity", "entity_id", "text"], "properties": {
    "entity": _ENTITY,
    "entity_id": {"type": "string", "description": "AE or lab id, subject ID, or <subject_id>:<visit> for a visit",
                  "example": "1"},
    "field": {"type": "string", "description": "a field of the record (optional)", "example": "relatedness_product"},
    "text": {"type": "string", "minLength": 1, "maxLength": 4000, "example": "Please confirm the relatedness."}}}
ANSWER_IN = {"type": "object", "required": ["text"], "properties": {
    "text": {"type": "string", "minLength": 1, "maxLength": 4000},
    "amend": {"type": "object", "description": "AE fields that change, with the AE's `version`: the AE is amended "
                                               "in the same step, its reason naming the query"}}}
COMMENT_IN = {"type": "object", "required": ["comment"], "properties": {
    "comment": {"type": "string", "minLength": 1, "maxLength": 4000}}}
_REF = {"$ref": "#/components/schemas/Query"}
_ID = path_param("query_id")

add_paths({
    "/queries": {
        "post": {"summary": "Raise a data clarification query on a record or one of its fields",
                 "requestBody": body(QUERY_IN),
                 "responses": {**ok(_REF, 201, "Created"), **err(400, 401, 403, 422)}},
        "get": {"summary": "Queries visible to the caller (site-scoped for site roles), newest first; "
                           "X-Total-Count gives the number matching",
                "parameters": [query("status", _STATUS), query("subject_id"), query("entity", _ENTITY),
                               query("entity_id"), query("site"), query("field"),
                               query("origin", {"type": "string", "enum": ["manual", "auto"]}),
                               query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                               query("offset", {"type": "integer", "minimum": 0})],
                "responses": {**ok({"type": "array", "items": _REF}), **err(401, 403, 422)}},
    },
    "/queries/{query_id}": {"get": {"summary": "One query with its thread", "parameters": [_ID],
                                    "responses": {**ok(_REF), **err(401, 403, 404)}}},
    "/queries/{query_id}/answer": {"post": {
        "summary": "The site's answer (optionally amending the AE in the same step): answered", "parameters": [_ID],
        "requestBody": body(ANSWER_IN), "responses": {**ok(_REF), **err(400, 401, 403, 404, 409, 422)}}},
    "/queries/{query_id}/close": {"post": {
        "summary": "Close (the raiser or the safety officer)", "parameters": [_ID], "requestBody": body(COMMENT_IN),
        "responses": {**ok(_REF), **err(400, 401, 403, 404, 409, 422)}}},
    "/queries/{query_id}/reopen": {"post": {
        "summary": "Reopen (the raiser or the safety officer): open again", "parameters": [_ID],
        "requestBody": body(COMMENT_IN), "responses": {**ok(_REF), **err(400, 401, 403, 404, 409, 422)}}},
}, {"Query": QUERY, "QueryMessage": MESSAGE})
