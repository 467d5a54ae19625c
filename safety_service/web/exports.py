"""Export downloads (web session or API token), the exports page and the summary tables page.

Views only parse the query, call one export function and send the bytes; the export functions read
the rows for the user (site-scoped) and record the export in the audit trail.
"""
from __future__ import annotations

from flask import Blueprint, Response, g, render_template, request

from ..domain.errors import InvalidInput
from ..domain.summary import summarize
from ..exports import filters as export_filters
from ..exports import service, summary_tables
from .context import get_db, now, rulebook, study, tz
from .guard import requires
from .openapi import add_paths, err, query

bp = Blueprint("exports", __name__)


def _actor() -> str:
    return g.user["email"]


def send(f: service.ExportFile) -> Response:
    """The file as an attachment, with its SHA-256 and row count (as recorded in the audit trail)."""
    return Response(f.data, content_type=f.media_type, headers={
        "Content-Disposition": f'attachment; filename="{f.name}"', "X-Content-SHA256": f.sha256,
        "X-Export-Rows": str(f.rows), "Cache-Control": "no-store"})


def _page(errors=None, status=200):
    return render_template("exports/index.html", form=request.args.to_dict(), errors=errors or {},
                           sites=[(s, s) for s in study().site_codes], formats=service.AE_FORMATS), status


def _download(make, allowed=export_filters.AE_FILTERS):
    """Parse filters and send the export; on the web page a bad filter re-renders the form with the errors."""
    try:
        return send(make(export_filters.parse(request.args, allowed)))
    except InvalidInput as e:
        if request.path.startswith("/api/"):
            raise
        return _page(e.fields, 422)


@bp.get("/exports")
@requires("export.ae")
def index():
    return _page()


@bp.get("/api/v1/exports/ae.<fmt>")
@bp.get("/exports/ae.<fmt>")
@requires("export.ae")
def ae(fmt):
    return _download(lambda f: service.export_ae(get_db(), fmt, f, user=g.user, actor=_actor(), now=now(),
                                                 study_id=study().study_id, catalogue=rulebook().ctcae))


@bp.get("/api/v1/exports/suppae.xpt")
@bp.get("/exports/suppae.xpt")
@requires("export.ae")
def suppae():
    return _download(lambda f: service.export_sdtm_companion(get_db(), "suppae", f, user=g.user, actor=_actor(),
                                                             now=now(), study_id=study().study_id))


@bp.get("/api/v1/exports/define.xml")
@bp.get("/exports/define.xml")
@requires("export.ae")
def define():
    """Define-XML 2.1 of the AE and SUPPAE datasets for the same filters as ae.xpt."""
    return _download(lambda f: service.export_sdtm_companion(get_db(), "define", f, user=g.user, actor=_actor(),
                                                             now=now(), study_id=study().study_id,
                                                             catalogue=rulebook().ctcae, study_title=study().title))


@bp.get("/api/v1/exports/sdtm.zip")
@bp.get("/exports/sdtm.zip")
@requires("export.ae")
def sdtm():
    """The SDTM package (XPT v5 datasets, define.xml, reviewer's guide) of every participant the user may see."""
    f, _ = service.export_sdtm(get_db(), user=g.user, actor=_actor(), now=now(), study=study(), tz=tz(),
                               catalogue=rulebook().ctcae)
    return send(f)


@bp.get("/api/v1/exports/labs.<fmt>")
@bp.get("/exports/labs.<fmt>")
@requires("export.listings")
def labs(fmt):
    return _download(lambda f: service.export_labs(get_db(), fmt, f, user=g.user, actor=_actor(), now=now(),
                                                   study_id=study().study_id), export_filters.LAB_FILTERS)


@bp.get("/api/v1/exports/visits.<fmt>")
@bp.get("/exports/visits.<fmt>")
@requires("export.listings")
def visits(fmt):
    return _download(lambda f: service.export_visits(get_db(), fmt, f, user=g.user, actor=_actor(), now=now(),
                                                     study=study(), tz=tz()), export_filters.VISIT_FILTERS)


@bp.get("/summary")
@requires("summary.view")
def summary():
    errors, f = {}, {}
    try:
        f = export_filters.parse(request.args)
    except InvalidInput as e:
        errors = e.fields
    db = get_db()
    rows = service.ae_rows(db, g.user, f)
    s = summarize(service.scoped_participants(db, g.user, f), rows)
    return render_template("exports/summary.html", summary=s, tables=summary_tables.tables(s), form=request.args,
                           errors=errors, sites=[(s, s) for s in study().site_codes]), (422 if errors else 200)


_FILTER_PARAMS = [query("subject_id"), query("site"), query("from", {"type": "string", "format": "date"}),
                  query("to", {"type": "string", "format": "date"}), query("serious", {"type": "boolean"}),
                  query("min_grade", {"type": "integer", "minimum": 1, "maximum": 5}),
                  query("phase", {"type": "string", "enum": ["early", "late"]}), query("related", {"type": "boolean"}),
                  query("include_entered_in_error", {"type": "boolean"})]


BINARY = {"type": "string", "format": "binary"}
MEDIA = {"csv": ("text/csv", BINARY), "xlsx": (service.MEDIA_TYPES["xlsx"], BINARY), "pdf": ("application/pdf", BINARY),
         "xpt": ("application/x-sas-xport", BINARY),
         "json": ("application/fhir+json", {"type": "object", "required": ["resourceType", "type"]}),
         "define": ("application/xml", BINARY), "zip": ("application/zip", BINARY)}


def _file_response(formats, what: str) -> dict:
    """A 200 answering one of ``formats`` (keys of MEDIA), with the audit headers."""
    return {"200": {"description": what, "headers": {
        "X-Content-SHA256": {"schema": {"type": "string"}, "description": "SHA-256 of the file, as audited"},
        "X-Export-Rows": {"schema": {"type": "integer"}}},
        "content": {MEDIA[f][0]: {"schema": MEDIA[f][1]} for f in formats}}}


add_paths({
    "/exports/ae.{fmt}": {"get": {
        "summary": "AE listing: csv, xlsx, pdf, xpt (SDTM AE, SAS transport v5) or json (FHIR R4 Bundle)",
        "parameters": [{"name": "fmt", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(service.AE_FORMATS)}}, *_FILTER_PARAMS],
        "responses": {**_file_response(service.AE_FORMATS, "The file (the export is audited)"),
                      **err(401, 403, 422)}}},
    "/exports/suppae.xpt": {"get": {"summary": "SDTM SUPPAE for the same AEs as ae.xpt", "parameters": _FILTER_PARAMS,
                                    "responses": {**_file_response(["xpt"], "SUPPAE"),
                                                  **err(401, 403, 422)}}},
    "/exports/define.xml": {"get": {"summary": "Define-XML 2.1 of the AE and SUPPAE datasets",
                                    "parameters": _FILTER_PARAMS,
                                    "responses": {**_file_response(["define"], "define.xml"),
                                                  **err(401, 403, 422)}}},
    "/exports/sdtm.zip": {"get": {"summary": "SDTM package: DM, SV, EX, CM, AE, DS, MH, LB, SUPPAE (XPT v5), "
                                             "define.xml and the reviewer's guide",
                                  "responses": {**_file_response(["zip"], "The zip (the export is audited)"),
                                                **err(401, 403, 422)}}},
    "/exports/labs.{fmt}": {"get": {
        "summary": "Lab listing (eGFR, CTCAE grades)",
        "parameters": [{"name": "fmt", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": ["csv", "xlsx"]}},
                       query("subject_id"), query("site"), query("analyte"),
                       query("from", {"type": "string", "format": "date"}),
                       query("to", {"type": "string", "format": "date"})],
        "responses": {**_file_response(service.LISTING_FORMATS, "The file"), **err(401, 403, 422)}}},
    "/exports/visits.{fmt}": {"get": {
        "summary": "Visit compliance listing",
        "parameters": [{"name": "fmt", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": ["csv", "xlsx"]}}, query("subject_id"), query("site")],
        "responses": {**_file_response(service.LISTING_FORMATS, "The file"), **err(401, 403, 422)}}},
})
