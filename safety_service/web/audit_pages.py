"""Auditor pages: browse the audit trail by entity, user and date; verify the chain; download it whole."""
from __future__ import annotations

from flask import Blueprint, g, render_template, request

from ..domain import audit, audit_view
from ..domain.errors import InvalidInput
from ..exports import audit_trail, service
from .context import get_db, now, study
from .exports import send
from .guard import requires
from .openapi import add_paths, err

bp = Blueprint("audit_pages", __name__)


@bp.get("/audit")
@requires("audit.view")
def index():
    errors, f = {}, {}
    db = get_db()
    try:
        f = audit_trail.parse_browse(request.args)
    except InvalidInput as e:
        errors = e.fields
    named = audit_view.resolve_record(db, f.get("entity_id"))
    if named:  # "S01-003-AE2", the name on every page, finds that AE's entries
        f = {**f, "entity": named[0], "entity_id": named[1]}
    entries = audit_trail.search(db, f, limit=audit_trail.PAGE_SIZE + 1)
    more = len(entries) > audit_trail.PAGE_SIZE
    entries = entries[: audit_trail.PAGE_SIZE]
    older = {**{k: v for k, v in request.args.items() if k != "before"}, "before": entries[-1]["id"]} \
        if more and entries else None
    changes = audit_view.group_changes(entries)
    return render_template("audit/index.html", entries=entries, changes=changes, form=request.args, errors=errors,
                           older=older, names=audit_view.record_names(db, changes),
                           **audit_trail.choices(db)), (422 if errors else 200)


@bp.get("/audit/verify")
@requires("audit.view")
def verify():
    """The keyed chain and current AE/lab rows; with ?anchor=ID:HASH (from an export or digest) also that anchor."""
    anchor = request.args.get("anchor", "").strip() or None
    try:
        result = audit.verify(get_db(), anchor=anchor)
    except ValueError as e:
        return render_template("audit/verify.html", result=None, anchor=anchor, error=str(e)), 422
    return render_template("audit/verify.html", result=result, anchor=anchor, error=None)


@bp.get("/api/v1/exports/audit.csv")
@bp.get("/audit/export.csv")
@requires("audit.export")
def export():
    f, result = service.export_audit(get_db(), actor=g.user["email"], now=now(), study_id=study().study_id)
    response = send(f)
    response.headers["X-Audit-Verification"] = result.describe()
    return response


add_paths({"/exports/audit.csv": {"get": {
    "summary": "The whole audit trail as CSV (hash chain included); X-Audit-Verification carries the chain check",
    "responses": {"200": {"description": "CSV", "headers": {"X-Audit-Verification": {"schema": {"type": "string"}}},
                          "content": {"text/csv": {"schema": {"type": "string"}}}}, **err(401, 403)}}}})
