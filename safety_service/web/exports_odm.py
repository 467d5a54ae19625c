"""The CDISC ODM 1.3.2 download (web session or API token): the AE list's filters, the file written by
exports/odm.py and audited before it is sent."""
from __future__ import annotations

import io

from flask import Blueprint, Response, g, request

from ..exports import filters as export_filters
from ..exports import odm
from .context import get_db, now, study
from .guard import requires
from .openapi import add_paths, err, query

bp = Blueprint("exports_odm", __name__)


@bp.get("/api/v1/exports/odm.xml")
@bp.get("/exports/odm.xml")
@requires("export.ae")
def odm_xml():
    """Participants, visits, labs, AEs, con-meds and medical history with their audit records."""
    sink = io.BytesIO()
    f = odm.export(get_db(), sink, export_filters.parse(request.args, export_filters.AE_FILTERS), user=g.user,
                   actor=g.user["email"], now=now(), study=study())
    return Response(sink.getvalue(), content_type=f"{odm.MEDIA_TYPE}; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{f.name}"', "X-Content-SHA256": f.sha256,
        "X-Export-Rows": str(f.rows), "X-Audit-Anchor": f.notes["audit_anchor"], "Cache-Control": "no-store"})


add_paths({"/exports/odm.xml": {"get": {
    "summary": "CDISC ODM 1.3.2: study metadata and ClinicalData (participants, visits, labs, AEs, con-meds, medical "
               "history) with audit records; filters as the AE list",
    "parameters": [query("subject_id"), query("site"), query("from", {"type": "string", "format": "date"}),
                   query("to", {"type": "string", "format": "date"}), query("serious", {"type": "boolean"}),
                   query("min_grade", {"type": "integer", "minimum": 1, "maximum": 5}),
                   query("phase", {"type": "string", "enum": ["early", "late"]}),
                   query("related", {"type": "boolean"}), query("include_entered_in_error", {"type": "boolean"})],
    "responses": {"200": {"description": "The ODM file (the export is audited)", "headers": {
        "X-Content-SHA256": {"schema": {"type": "string"}}, "X-Export-Rows": {"schema": {"type": "integer"}},
        "X-Audit-Anchor": {"schema": {"type": "string"}}},
        "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}}},
        **err(401, 403, 422)}}}})
