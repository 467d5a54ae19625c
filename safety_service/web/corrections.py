"""Pages and API to put records right (issue 12): a lab result entered in error, a participant's status.

Thin views: each parses, calls one domain function (domain/corrections/) and renders or returns JSON.
"""
from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from ..clock import parse_datetime
from ..domain import alerts, audit, labs, participants
from ..domain.corrections import lab_error, status
from ..domain.errors import Conflict, InvalidInput
from ..domain.labels import label
from ..domain.units import ANALYTES
from .api import json_body
from .context import get_db, now, rulebook, study, tz
from .guard import requires
from .openapi import add_paths, body, err, ok, path_param

bp = Blueprint("corrections", __name__)


@bp.record_once
def _install_notice_hook(state):
    from ..mail.corrections import install
    install(state.app)  # the correction notice mail, queued in the correcting transaction


def _mark(lab_id: int, reason: str) -> dict:
    rb = rulebook()
    return lab_error.mark_entered_in_error(get_db(), lab_id, reason=reason, user=g.user, rules=rb.lab_rules,
                                           study=rb.study, tz=tz(), now=now())


# --- API ----------------------------------------------------------------------------------------------------------

@bp.get("/api/v1/labs/<int:lab_id>")
@requires("lab.view")
def api_lab_show(lab_id):
    return jsonify(labs.public(lab_error.get(get_db(), lab_id, user=g.user)))


@bp.post("/api/v1/labs/<int:lab_id>/entered-in-error")
@requires("lab.create")
def api_lab_entered_in_error(lab_id):
    return jsonify(labs.public(_mark(lab_id, json_body().get("reason"))))


@bp.post("/api/v1/participants/<subject_id>/status")
@requires("participant.status")
def api_participant_status(subject_id):
    db = get_db()
    p = status.set_status(db, subject_id, json_body(), user=g.user, study=study(), tz=tz(), now=now())
    return jsonify(participants.with_schedule(db, p, study(), tz(), now()))


# --- pages --------------------------------------------------------------------------------------------------------

def correct_url(lab: dict) -> str:
    """The lab form pre-filled with the result's analyte, unit, sample time (local) and visit: a new result."""
    local = parse_datetime(lab["collected_at"]).astimezone(ZoneInfo(tz()))
    when = local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")
    query = {"analyte": lab["analyte"], "unit": lab["unit"], "collected_at": when, "visit": lab["visit"] or "",
             "corrects": lab["id"]}
    return url_for("labs.lab_new", subject_id=lab["subject_id"]) + "?" + urlencode(query)


@bp.get("/labs/<int:lab_id>")
@requires("lab.view")
def lab_detail(lab_id):
    db = get_db()
    lab = lab_error.get(db, lab_id, user=g.user)
    raised = [a for a in alerts.list_alerts(db, g.user, subject_id=lab["subject_id"], limit=10_000)
              if a["ref_entity"] == "lab" and a["ref_id"] == str(lab_id)]
    return render_template("labs/detail.html", lab=labs.public(lab), label=ANALYTES[lab["analyte"]].label,
                           history=audit.history(db, "lab", lab_id), alerts=raised, correct_url=correct_url(lab),
                           status_label=label("status", lab["status"]))


@bp.post("/labs/<int:lab_id>/entered-in-error")
@requires("lab.create")
def lab_entered_in_error(lab_id):
    try:
        lab = _mark(lab_id, request.form.get("reason", ""))
    except (InvalidInput, Conflict) as e:
        flash("Not marked: " + ("; ".join(f"{k} {v}" for k, v in e.fields.items()) or e.message), "error")
        return redirect(url_for("corrections.lab_detail", lab_id=lab_id))
    flash(f"{ANALYTES[lab['analyte']].label} {lab['value']:g} {lab['unit']} marked entered in error; the alerts it "
          "raised are resolved. Enter the right value below.", "success")
    return redirect(correct_url(lab))


@bp.post("/participants/<subject_id>/status")
@requires("participant.status")
def participant_status(subject_id):
    try:
        p = status.set_status(get_db(), subject_id, request.form.to_dict(), user=g.user, study=study(), tz=tz(),
                              now=now())
    except InvalidInput as e:
        flash("Status not recorded: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
        return redirect(url_for("pages.participant_detail", subject_id=subject_id) + "#status")
    flash(f"{p['subject_id']}: {label('participant_status', p['status'])} on {p['status_on']}; no visit after it "
          "is due.", "success")
    return redirect(url_for("pages.participant_detail", subject_id=subject_id) + "#status")


@bp.app_context_processor
def _globals():
    return {"participant_statuses": [(c, label("participant_status", c)) for c in status.STATUSES],
            "lab_detail_url": lambda lab_id: url_for("corrections.lab_detail", lab_id=lab_id)}


STATUS_IN = {"type": "object", "required": ["status", "on", "reason"], "properties": {
    "status": {"type": "string", "enum": [*status.STATUSES, "active"],
               "description": "active puts a participant who left back on study"},
    "on": {"type": "string", "format": "date"},
    "reason": {"type": "string", "minLength": 1},
    "death_ae_id": {"type": "integer", "description": "for died: the grade-5 AE that records the death"},
    "death_no_ae_reason": {"type": "string", "description": "for died: why there is no grade-5 AE"}}}

add_paths({
    "/labs/{lab_id}": {"get": {
        "summary": "One lab result with its status (valid / entered_in_error) and current CTCAE grade",
        "parameters": [{"name": "lab_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {**ok({"$ref": "#/components/schemas/Lab"}), **err(401, 403, 404)}}},
    "/labs/{lab_id}/entered-in-error": {"post": {
        "summary": "Mark a lab result entered in error (reason required): its alerts resolved, its AE offer withdrawn",
        "parameters": [{"name": "lab_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": body({"type": "object", "required": ["reason"],
                             "properties": {"reason": {"type": "string", "minLength": 1}}}),
        "responses": {**ok({"$ref": "#/components/schemas/Lab"}), **err(400, 401, 403, 404, 409, 422)}}},
    "/participants/{subject_id}/status": {"post": {
        "summary": "Record that a participant left the study: nothing is due or alerted after `on`",
        "parameters": [path_param("subject_id")], "requestBody": body(STATUS_IN),
        "responses": {**ok({"$ref": "#/components/schemas/Participant"}), **err(400, 401, 403, 404, 422)}}},
}, {})
