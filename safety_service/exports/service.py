"""Producing an export for a user: read the rows (site-scoped), write the file, record it in the audit trail.

The audit entry (who, what, filters, row count, SHA-256 of the bytes) is written before the file is handed
out, so no export leaves the service unrecorded; if the entry cannot be written the export fails.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping

from sqlite_utils import Database

from ..domain import audit, participants
from ..domain.errors import InvalidInput
from ..domain.study import Study
from ..domain.summary import summarize
from . import audit_trail, csv_export, fhir, listings, pdf, sdtm, summary_tables, xlsx
from .meta import ExportError, ExportMeta

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "xpt": "application/x-sas-xport",
    "json": "application/fhir+json",
    "define": "application/xml",
    "zip": "application/zip",
}
AE_FORMATS = ("csv", "xlsx", "pdf", "xpt", "json")
LISTING_FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class ExportFile:
    name: str
    media_type: str
    data: bytes
    rows: int
    sha256: str
    notes: dict = field(default_factory=dict)


def _default_ae_source(db: Database, user: dict | None, filters: Mapping, include_entered_in_error: bool) -> list[dict]:
    """The AE module's list (the same rows as GET /api/v1/adverse-events with these filters)."""
    from ..domain import adverse_events

    return adverse_events.list_aes(db, user, dict(filters), include_entered_in_error=include_entered_in_error)


# Replaceable in one place (a test can feed rows without the AE module).
AE_SOURCE: Callable[[Database, dict | None, Mapping, bool], list[dict]] = _default_ae_source


def ae_rows(db: Database, user: dict | None, filters: Mapping) -> list[dict]:
    """The AEs the user may see that pass the filters, by subject and sequence. Entered-in-error AEs only with
    ``include_entered_in_error`` (the listings then show them with their status; SDTM and FHIR leave them out)."""
    f = dict(filters)
    include = bool(f.pop("include_entered_in_error", False))
    rows = AE_SOURCE(db, user, f, include)
    return sorted(rows, key=lambda r: (str(r.get("subject_id")), r.get("seq") or 0, r.get("id") or 0))


def scoped_participants(db: Database, user: dict | None, filters: Mapping) -> list[dict]:
    """The participants behind a filtered listing: the summary's denominators follow the same filters."""
    people = participants.list_for(db, user, site=filters.get("site"))
    if filters.get("subject_id"):
        people = [p for p in people if p["subject_id"] == filters["subject_id"]]
    return people


def stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def record(db: Database, file: ExportFile, *, kind: str, fmt: str, filters: Mapping, actor: str,
           now: datetime) -> ExportFile:
    """Write the export's audit entry: what, which filters, how many rows, the file's SHA-256."""
    changes = {"kind": (None, kind), "format": (None, fmt), "filters": (None, dict(filters)),
               "rows": (None, file.rows), "sha256": (None, file.sha256)}
    changes.update({k: (None, v) for k, v in file.notes.items()})
    audit.record(db, actor=actor, action="export", entity="export", entity_id=file.name, changes=changes, at=now)
    return file


def _file(name: str, fmt: str, data: bytes, rows: int, notes: dict | None = None) -> ExportFile:
    return ExportFile(name, MEDIA_TYPES[fmt], data, rows, hashlib.sha256(data).hexdigest(), notes or {})


def export_ae(db: Database, fmt: str, filters: Mapping, *, user: dict | None, actor: str, now: datetime,
              study_id: str, catalogue=None) -> ExportFile:
    """The AE listing in one format; PDF and XLSX carry the summary tables of the same rows.

    Raises InvalidInput (format) or ExportError (a value the format cannot hold, naming AE and field).
    """
    if fmt not in AE_FORMATS:
        raise InvalidInput({"format": f"must be one of {', '.join(AE_FORMATS)}"})
    rows = ae_rows(db, user, filters)
    meta = ExportMeta(study_id, now, actor, dict(filters), audit_anchor=audit.anchor(db))
    base = f"{study_id}_ae_{stamp(now)}"
    if fmt in ("pdf", "xlsx"):
        tables = summary_tables.tables(summarize(scoped_participants(db, user, filters), rows))
        writer = pdf.write_ae_pdf if fmt == "pdf" else xlsx.write_ae_xlsx
        f = _file(f"{base}.{fmt}", fmt, writer(rows, meta, summary=tables), len(rows))
    elif fmt == "csv":
        f = _file(f"{base}.csv", fmt, csv_export.write_ae_csv(rows, meta), len(rows))
    elif fmt == "xpt":
        active = sum(1 for r in rows if r.get("status", "active") == "active")
        f = _file("ae.xpt", fmt, sdtm.write_ae_xpt(rows, meta, catalogue), active)
    else:
        active = sum(1 for r in rows if r.get("status", "active") == "active")
        f = _file(f"{base}.json", fmt, fhir.write_ae_fhir(rows, meta), active)
    return record(db, f, kind="ae", fmt=fmt, filters=filters, actor=actor, now=now)


def export_sdtm_companion(db: Database, which: str, filters: Mapping, *, user: dict | None, actor: str,
                          now: datetime, study_id: str, catalogue=None, study_title: str = "") -> ExportFile:
    """SUPPAE (``suppae``) or the Define-XML 2.1 of AE and SUPPAE (``define``) for the same rows as ae.xpt."""
    from .submission import package

    rows = ae_rows(db, user, filters)
    meta = ExportMeta(study_id, now, actor, dict(filters))
    if which == "suppae":
        built = sdtm.build(rows, meta)
        f = _file("suppae.xpt", "xpt", sdtm.write_suppae_xpt(rows, meta), len(built.supp))
    elif which == "define":
        anchor = audit.anchor(db)
        f = _file("define.xml", "define", package.ae_define(rows, meta=meta, anchor=anchor, title=study_title,
                                                             catalogue=catalogue),
                  sum(1 for r in rows if r.get("status", "active") == "active"), {"anchor": anchor})
    else:
        raise InvalidInput({"dataset": "must be suppae or define"})
    return record(db, f, kind=which, fmt="xpt" if which == "suppae" else "xml", filters=filters, actor=actor, now=now)


def export_sdtm(db: Database, *, user: dict | None, actor: str, now: datetime, study: Study, tz: str,
                catalogue=None):
    """The SDTM package (issue 19) as one zip, with the package itself for writing its files one by one.

    Read in one snapshot of the rows the user may see; the audit entry names the chain head the package was
    made at and the records per dataset. Raises ExportError naming a record and variable SDTM cannot hold.
    """
    from .submission import domains, package

    snap = domains.read(db, user)
    meta = ExportMeta(study.study_id, now, actor, {}, audit_anchor=snap.anchor)
    pkg = package.make_package(snap, study=study, tz=tz, meta=meta, catalogue=catalogue)
    f = _file(f"{study.study_id}_sdtm_{stamp(now)}.zip", "zip", pkg.zip(meta.exported_at_utc),
              sum(pkg.rows.values()), {"anchor": pkg.anchor, "datasets": pkg.rows})
    return record(db, f, kind="sdtm", fmt="zip", filters={}, actor=actor, now=now), pkg


def _check_listing_format(fmt: str) -> None:
    if fmt not in LISTING_FORMATS:
        raise InvalidInput({"format": f"must be one of {', '.join(LISTING_FORMATS)}"})


def _listing(table, fmt: str, meta: ExportMeta) -> bytes:
    if fmt == "csv":
        return csv_export.write_table(table, meta)
    return xlsx.write_workbook([table], meta, describe=table.columns)


def export_labs(db: Database, fmt: str, filters: Mapping, *, user: dict | None, actor: str, now: datetime,
                study_id: str) -> ExportFile:
    """The lab listing (CSV or XLSX). Raises InvalidInput for another format."""
    _check_listing_format(fmt)
    rows = listings.lab_rows(db, user, filters)
    meta = ExportMeta(study_id, now, actor, dict(filters), title="Lab listing", audit_anchor=audit.anchor(db))
    f = _file(f"{study_id}_labs_{stamp(now)}.{fmt}", fmt, _listing(listings.lab_table(rows), fmt, meta), len(rows))
    return record(db, f, kind="labs", fmt=fmt, filters=filters, actor=actor, now=now)


def export_visits(db: Database, fmt: str, filters: Mapping, *, user: dict | None, actor: str, now: datetime,
                  study: Study, tz: str) -> ExportFile:
    """The visit compliance listing (CSV or XLSX), statuses as of ``now``. Raises InvalidInput for another format."""
    _check_listing_format(fmt)
    rows, not_injected = listings.visit_rows(db, user, filters, study, tz, now)
    meta = ExportMeta(study.study_id, now, actor, dict(filters), title="Visit compliance",
                      audit_anchor=audit.anchor(db))
    data = _listing(listings.visit_table(rows, not_injected), fmt, meta)
    f = _file(f"{study.study_id}_visits_{stamp(now)}.{fmt}", fmt, data, len(rows), {"not_injected": not_injected})
    return record(db, f, kind="visits", fmt=fmt, filters=filters, actor=actor, now=now)


def export_audit(db: Database, *, actor: str, now: datetime, study_id: str) -> tuple[ExportFile, audit.Verification]:
    """The whole audit trail as CSV and its verification (both from one read snapshot).

    The export's own audit entry follows the exported entries, so it is in the next export, not this one.
    """
    snap = audit_trail.snapshot(db)
    f = _file(f"{study_id}_audit_{stamp(now)}.csv", "csv", audit_trail.to_csv(snap.rows, study_id=study_id),
              len(snap.rows),
              {"verification": snap.verification.describe()})
    record(db, f, kind="audit", fmt="csv", filters={}, actor=actor, now=now)
    return f, snap.verification


__all__ = ["ExportError", "ExportFile", "export_ae", "export_sdtm_companion", "export_sdtm", "export_labs",
           "export_visits", "export_audit", "ae_rows"]
