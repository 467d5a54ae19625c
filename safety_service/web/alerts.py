"""The alert inbox (safety officer: every site; investigators: their own) and the alerts API of CONTRACT.md.

Pages: the list with filters, one alert with its audit history, acknowledge with a comment, resolve with a
comment. API: GET /api/v1/alerts and POST /api/v1/alerts/<id>/acknowledge. Views parse, call one domain
function of domain/alerts.py, render; a site-bound user asking for another site's alert gets 404.
"""
from __future__ import annotations


from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for

from ..domain import alerts, audit
from ..domain.errors import Conflict, InvalidInput
from ..domain.permissions import site_scope
from ..mail.notify import KIND_LABELS, kind_label
from .api import json_body
from .context import get_db, local, now, study
from .display import prepare_alert_targets
from .guard import requires
from .paging import contains, date_range, nothing, paginate
from .openapi import add_paths, body, err, ok, path_param, query

# Pages at /alerts and API routes at /api/v1/alerts in one blueprint: the error handlers answer by path
# (JSON under /api/), and Bearer tokens are accepted under /api/ only.
bp = Blueprint("alerts", __name__)

FILTERS = ("status", "kind", "severity", "subject_id", "site", "q", "from", "to")
SORTS = {"severity": lambda a: alerts.SEVERITIES.index(a["severity"]) if a["severity"] in alerts.SEVERITIES else 9,
         "kind": lambda a: kind_label(a["kind"]), "subject": lambda a: a["subject_id"], "raised": lambda a: a["raised_at"],
         "status": lambda a: a["status"]}


def _filters() -> dict:
    """The inbox filters from the query string; status defaults to open, "all" shows every status."""
    f = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    f["status"] = f["status"] or "open"
    return f


bp.add_app_template_global(kind_label, "alert_kind_label")


@bp.get("/alerts")
@requires("alert.view")
def inbox():
    f, errors, found = _filters(), {}, []
    try:
        start, end = date_range()
        found = alerts.list_alerts(get_db(), g.user, status=None if f["status"] == "all" else f["status"],
                                   kind=f["kind"] or None, severity=f["severity"] or None,
                                   subject_id=f["subject_id"] or None)
    except InvalidInput as e:
        errors, start, end = e.fields, None, None
    if f["site"] and not site_scope(g.user):
        found = [a for a in found if a["site"] == f["site"]]
    found = [a for a in found if contains(f["q"], a["message"], a["subject_id"], kind_label(a["kind"]))
             and (not start or local(a["raised_at"])[:10] >= start.isoformat())
             and (not end or local(a["raised_at"])[:10] <= end.isoformat())]
    try:
        page = paginate(found, SORTS)
    except InvalidInput as e:
        errors, page = {**errors, **e.fields}, nothing()
    kinds = sorted({*KIND_LABELS, *(r["kind"] for r in get_db().query("SELECT DISTINCT kind FROM alerts"))})
    prepare_alert_targets(page.items)
    return render_template("alerts/inbox.html", alerts=page.items, page=page, filters=f, errors=errors, kinds=kinds,
                           severities=alerts.SEVERITIES, statuses=(*alerts.STATUSES, "all"),
                           sites=study().site_codes, local=local), (422 if errors else 200)


def _detail_page(alert_id: int, errors: dict | None = None, form: dict | None = None, status: int = 200):
    db = get_db()
    alert = alerts.get(db, alert_id, g.user)
    return render_template("alerts/detail.html", alert=alert, history=audit.history(db, "alert", alert_id),
                           errors=errors or {}, form=form or {}, local=local), status


@bp.get("/alerts/<int:alert_id>")
@requires("alert.view")
def detail(alert_id):
    return _detail_page(alert_id)


def _transition(alert_id: int, action, done: str):
    comment = request.form.get("comment", "")
    try:
        action(get_db(), alert_id, user=g.user, comment=comment, now=now())
    except InvalidInput as e:
        return _detail_page(alert_id, errors=e.fields, form={"comment": comment, "action": done}, status=422)
    except Conflict as e:
        flash(e.message, "error")
        return redirect(url_for("alerts.detail", alert_id=alert_id))
    flash(f"Alert {alert_id} {done}.", "success")
    return redirect(request.form.get("next") if request.form.get("next", "").startswith("/alerts")
                    else url_for("alerts.detail", alert_id=alert_id))


@bp.post("/alerts/<int:alert_id>/acknowledge")
@requires("alert.acknowledge")
def acknowledge(alert_id):
    return _transition(alert_id, alerts.acknowledge, "acknowledged")


@bp.post("/alerts/<int:alert_id>/resolve")
@requires("alert.resolve")
def resolve(alert_id):
    return _transition(alert_id, alerts.resolve, "resolved")


# ---------------------------------------------------------------------------------------------------- API

API_FIELDS = ("id", "kind", "severity", "status", "subject_id", "site", "rule", "message", "ref_entity", "ref_id",
              "raised_at", "acknowledged_at", "acknowledged_by", "ack_comment", "resolved_at", "resolved_by",
              "resolve_comment")


def _api(alert: dict) -> dict:
    return {k: alert.get(k) for k in API_FIELDS}


@bp.get("/api/v1/alerts")
@requires("alert.view")
def api_index():
    found = alerts.list_alerts(get_db(), g.user, status=request.args.get("status") or None,
                               kind=request.args.get("kind") or None)
    return jsonify([_api(a) for a in found])


@bp.post("/api/v1/alerts/<int:alert_id>/acknowledge")
@requires("alert.acknowledge")
def api_acknowledge(alert_id):
    comment = json_body().get("comment")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput({"comment": "must be text"})
    return jsonify(_api(alerts.acknowledge(get_db(), alert_id, user=g.user, comment=comment or "", now=now())))


_NSTR = {"type": ["string", "null"]}
ALERT = {"type": "object", "required": ["id", "kind", "severity", "status", "message", "raised_at"], "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string", "example": "visit_overdue"},
    "severity": {"type": "string", "enum": list(alerts.SEVERITIES)},
    "status": {"type": "string", "enum": list(alerts.STATUSES)},
    "subject_id": _NSTR, "site": _NSTR, "rule": _NSTR, "message": {"type": "string"}, "ref_entity": _NSTR,
    "ref_id": _NSTR, "raised_at": {"type": "string", "format": "date-time"},
    "acknowledged_at": {"type": ["string", "null"], "format": "date-time"}, "acknowledged_by": _NSTR,
    "ack_comment": _NSTR, "resolved_at": {"type": ["string", "null"], "format": "date-time"},
    "resolved_by": _NSTR, "resolve_comment": _NSTR}}

add_paths({
    "/alerts": {"get": {
        "summary": "Alerts visible to the caller (site-bound roles: their site), most severe and newest first",
        "parameters": [query("status", {"type": "string", "enum": list(alerts.STATUSES)}), query("kind")],
        "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}),
                      **err(401, 403, 422)}}},
    "/alerts/{alert_id}/acknowledge": {"post": {
        "summary": "Acknowledge an open alert with a comment (audited)",
        "parameters": [{**path_param("alert_id"), "schema": {"type": "integer"}}],
        "requestBody": body({"type": "object", "required": ["comment"],
                             "properties": {"comment": {"type": "string", "minLength": 1}}}),
        "responses": {**ok({"$ref": "#/components/schemas/Alert"}), **err(400, 401, 403, 404, 409, 422)}}},
}, {"Alert": ALERT})
