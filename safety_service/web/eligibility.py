"""Eligibility screening pages and API (issue 13): the checklist (the site answers the non-lab criteria with a
source note), the investigator's signed protocol deviation, the injection, the participant page's section, the
screening log download and GET /api/v1/participants/<subject_id>/eligibility. Views parse, call the domain, render."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from ..domain import eligibility, participants
from ..domain.errors import Conflict, InvalidInput
from .context import get_db, now, rulebook, study, tz
from .exports import _file_response, send
from .guard import requires
from .openapi import add_paths, err, ok, path_param, query

bp = Blueprint("eligibility", __name__)


def _criteria():
    return rulebook().eligibility


@bp.app_context_processor
def _section():
    def eligibility_panel(p: dict) -> dict:
        return eligibility.assess(get_db(), p, _criteria(), now()).as_dict()
    return {"eligibility_panel": eligibility_panel}


def _page(subject_id, errors=None, form=None, status=200):
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    a = eligibility.assess(db, p, _criteria(), now())
    return render_template("eligibility/screening.html", p=p, a=a.as_dict(), errors=errors or {}, form=form or {},
                           protocol=_criteria().protocol), status


@bp.get("/participants/<subject_id>/screening")
@requires("eligibility.view")
def screening(subject_id):
    return _page(subject_id)


@bp.post("/participants/<subject_id>/screening/<criterion>")
@requires("eligibility.answer")
def answer(subject_id, criterion):
    form = request.form.to_dict()
    try:
        eligibility.answer(get_db(), subject_id, criterion, form, criteria=_criteria(), actor=g.user, now=now())
    except InvalidInput as e:
        return _page(subject_id, {f"{criterion}.{k}": v for k, v in e.fields.items()}, {criterion: form}, 422)
    flash(f"{criterion} answered.", "success")
    return redirect(url_for("eligibility.screening", subject_id=subject_id) + f"#{criterion}")


@bp.post("/participants/<subject_id>/deviations")
@requires("eligibility.deviation")
def deviation(subject_id):
    form = {"description": request.form.get("description", ""), "password": request.form.get("password", "")}
    try:
        d = eligibility.sign_deviation(get_db(), subject_id, form, criteria=_criteria(), actor=g.user, now=now())
    except InvalidInput as e:
        return _page(subject_id, {f"deviation.{k}": v for k, v in e.fields.items()},
                     {"deviation": {"description": form["description"]}}, 422)
    except Conflict as e:
        flash(e.message, "error")
        return redirect(url_for("eligibility.screening", subject_id=subject_id))
    flash(f"Protocol deviation PD{d['id']} signed for {', '.join(d['criteria'])}.", "success")
    return redirect(url_for("eligibility.screening", subject_id=subject_id))


@bp.post("/participants/<subject_id>/injection")
@requires("participant.inject")
def injection(subject_id):
    form = {"injection_at": request.form.get("injection_at", "")}
    try:
        eligibility.record_injection(get_db(), subject_id, form, criteria=_criteria(), study=study(), tz=tz(),
                                     actor=g.user, now=now())
    except InvalidInput as e:
        return _page(subject_id, {f"injection.{k}": v for k, v in e.fields.items()}, {"injection": form}, 422)
    except Conflict as e:
        flash(e.message, "error")
        return redirect(url_for("eligibility.screening", subject_id=subject_id))
    flash(f"Injection of {subject_id} recorded.", "success")
    return redirect(url_for("pages.participant_detail", subject_id=subject_id))


@bp.get("/api/v1/participants/<subject_id>/eligibility")
@requires("eligibility.view")
def api_eligibility(subject_id):
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    return jsonify(eligibility.assess(db, p, _criteria(), now()).as_dict())


@bp.get("/api/v1/exports/screening-log.<fmt>")
@bp.get("/exports/screening-log.<fmt>")
@requires("export.screening_log")
def screening_log(fmt):
    from ..exports.screening_log import export_screening_log

    site = request.args.get("site") or None
    if site is not None and site not in study().site_codes:
        raise InvalidInput({"site": f"must be one of {', '.join(study().site_codes)}"})
    return send(export_screening_log(get_db(), fmt, criteria=_criteria(), user=g.user, actor=g.user["email"],
                                     now=now(), study_id=study().study_id, site=site))


CRITERION = {"type": "object", "required": ["id", "text", "met", "evidence"], "properties": {
    "id": {"type": "string", "example": "IN03"}, "text": {"type": "string"},
    "kind": {"type": "string", "enum": ["inclusion", "exclusion"]},
    "check": {"type": "string", "enum": ["answer", "age", "lab"]},
    "met": {"type": ["boolean", "null"], "description": "the criterion's statement holds (null: unknown)"},
    "evidence": {"type": "string"}, "fails": {"type": "boolean"},
    "answered_by": {"type": ["string", "null"]}, "answered_at": {"type": ["string", "null"]},
    "waived_by_deviation": {"type": ["integer", "null"]}}}

add_paths({
    "/participants/{subject_id}/eligibility": {
        "get": {"summary": "Each protocol eligibility criterion met, not met or unknown, with its evidence",
                "parameters": [path_param("subject_id")],
                "responses": {**ok({"type": "object", "required": ["eligible", "criteria"], "properties": {
                    "subject_id": {"type": "string"}, "eligible": {"type": ["boolean", "null"]},
                    "criteria": {"type": "array", "items": {"$ref": "#/components/schemas/EligibilityCriterion"}},
                    "deviations": {"type": "array", "items": {"type": "object"}}}}),
                              **err(401, 403, 404)}},
    },
    "/exports/screening-log.{fmt}": {
        "get": {"summary": "The screening log, CONSORT style (screened, failed by criterion, enrolled)",
                "parameters": [{"name": "fmt", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": ["csv", "xlsx"]}}, query("site")],
                "responses": {**_file_response(["csv", "xlsx"], "The file (the export is audited)"),
                              **err(401, 403, 422)}},
    },
}, {"EligibilityCriterion": CRITERION})
