"""The query log (CSV or Excel): one row per query with its age and turnaround, from domain/queries/log.py,
written by the shared listing writers and recorded in the audit trail like every export."""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from sqlite_utils import Database

from ..domain import audit
from ..domain.errors import InvalidInput
from ..domain.queries.log import log_rows
from .columns import Column, Table
from .meta import ExportMeta

FORMATS = ("csv", "xlsx")
FILTERS = ("status", "subject_id", "entity", "site", "origin")

COLUMNS: tuple[Column, ...] = (
    Column("query", "Query", "Query number (Q<id>).", "text", 7),
    Column("site", "Site", "Site of the record.", "text", 6),
    Column("subject_id", "Subject", "Participant identifier.", "text", 10),
    Column("entity", "Record kind", "ae, lab, visit or participant.", "text", 10),
    Column("label", "Record", "The record queried (AE as S01-003-AE2).", "text", 22),
    Column("field", "Field", "The field queried, if one.", "text", 16),
    Column("origin", "Origin", "manual (raised by a person) or auto (a data check of rules/queries.toml).", "text", 8),
    Column("rule", "Rule", "The automatic check that raised it.", "text", 18),
    Column("text", "Question", "The question as raised.", "text", 50),
    Column("status", "Status", "open, answered or closed.", "text", 9),
    Column("raised_at", "Raised (UTC)", "When it was raised.", "datetime", 20),
    Column("raised_by", "Raised by", "Who raised it (system for an automatic query).", "text", 24),
    Column("first_answered_at", "First answer (UTC)", "When the site first answered.", "datetime", 20),
    Column("answered_by", "Answered by", "Who gave the latest answer.", "text", 24),
    Column("closed_at", "Closed (UTC)", "When it was closed.", "datetime", 20),
    Column("closed_by", "Closed by", "Who closed it (system: the record was put right).", "text", 24),
    Column("reopened", "Reopened", "How many times it was reopened.", "int", 8),
    Column("age_days", "Age (days)", "Days from raised to closed, or to the export time while not closed.",
           "number", 9),
    Column("turnaround_days", "Turnaround (days)", "Days from raised to the site's first answer.", "number", 11),
)


def parse_filters(args: Mapping) -> dict:
    """The log's filters; InvalidInput for an unknown one (the values are checked by the query search)."""
    unknown = [k for k in args if k not in FILTERS]
    if unknown:
        raise InvalidInput({k: "unknown filter; allowed: " + ", ".join(FILTERS) for k in unknown})
    return {k: v for k, v in args.items() if v not in (None, "")}


def export_query_log(db: Database, fmt: str, filters: Mapping, *, user: dict | None, actor: str, now: datetime,
                     study_id: str):
    """The query log as CSV or XLSX for the user (site-scoped), audited. Raises InvalidInput (format, filters)."""
    from . import service

    if fmt not in FORMATS:
        raise InvalidInput({"format": f"must be one of {', '.join(FORMATS)}"})
    f = parse_filters(filters)
    rows = log_rows(db, user, f, now)
    table = Table("Query log", "Data clarification queries", COLUMNS, rows)
    # the audit chain head it was made at, as every export states (`safety audit anchor`)
    meta = ExportMeta(study_id, now, actor, f, title="Query log", audit_anchor=audit.anchor(db))
    data = service._listing(table, fmt, meta)
    out = service._file(f"{study_id}_queries_{service.stamp(now)}.{fmt}", fmt, data, len(rows))
    return service.record(db, out, kind="queries", fmt=fmt, filters=f, actor=actor, now=now)
