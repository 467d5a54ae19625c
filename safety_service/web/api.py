"""The JSON API (/api/v1): participants and visits here; other areas add their routes to ``bp``.

Bodies are JSON objects; errors use {"error": {"code", "message", "fields"}} (see web/__init__.py).
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from ..domain import participants
from ..domain.errors import InvalidInput
from .context import get_db, now, study, tz
from .guard import public, requires
from .openapi import spec

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body() -> dict:
    """The request's JSON object. Raises InvalidInput if the body is not a JSON object."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"}, "The request body is not a JSON object")
    return data


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(spec())


@bp.post("/participants")
@requires("participant.create")
def participant_create():
    p = participants.create(get_db(), json_body(), study=study(), tz=tz(), actor=g.user, now=now())
    return jsonify(participants.with_schedule(get_db(), p, study(), tz(), now())), 201


@bp.get("/participants")
@requires("participant.view")
def participant_index():
    db = get_db()
    people = participants.list_for(db, g.user, site=request.args.get("site") or None)
    schedules = participants.schedules_for(db, people, study(), tz(), now())
    return jsonify([participants.with_schedule(db, p, study(), tz(), now(), schedules[p["subject_id"]])
                    for p in people])


@bp.get("/participants/<subject_id>")
@requires("participant.view")
def participant_show(subject_id):
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    return jsonify(participants.with_schedule(db, p, study(), tz(), now()))


@bp.post("/participants/<subject_id>/visits/<visit>")
@requires("visit.record")
def visit_done(subject_id, visit):
    body = json_body()
    return jsonify(participants.record_visit(get_db(), subject_id, visit, body.get("visit_date"), study=study(),
                                             tz=tz(), actor=g.user, now=now()))
