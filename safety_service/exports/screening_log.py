"""The screening log export (CSV or Excel), CONSORT style, from domain/eligibility/log.py; audited like every
export."""
from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..domain.eligibility.criteria import Criteria
from ..domain.eligibility.log import log_rows
from ..domain.errors import InvalidInput
from .columns import Column, Table
from .meta import ExportMeta

FORMATS = ("csv", "xlsx")

COLUMNS: tuple[Column, ...] = (
    Column("stage", "Stage", "screened, screen failure, enrolled or not enrolled (CONSORT 2010 flow).", "text", 14),
    Column("item", "Item", "What is counted: a failed criterion (protocol id, inclusion/exclusion, text) or a group.",
           "text", 60),
    Column("count", "Participants", "How many participants.", "int", 12),
    Column("subjects", "Subjects", "Their subject IDs.", "text", 40),
)


def export_screening_log(db: Database, fmt: str, *, criteria: Criteria, user: dict | None, actor: str,
                         now: datetime, study_id: str, site: str | None = None):
    """The screening log for the user (site-scoped), audited. Raises InvalidInput (format)."""
    from . import service

    if fmt not in FORMATS:
        raise InvalidInput({"format": f"must be one of {', '.join(FORMATS)}"})
    rows = log_rows(db, user, criteria, now, site=site)
    filters = {"site": site} if site else {}
    table = Table("Screening log", "Screening log (CONSORT)", COLUMNS, rows)
    meta = ExportMeta(study_id, now, actor, filters, title="Screening log")
    data = service._listing(table, fmt, meta)
    out = service._file(f"{study_id}_screening_log_{service.stamp(now)}.{fmt}", fmt, data, len(rows))
    return service.record(db, out, kind="screening_log", fmt=fmt, filters=filters, actor=actor, now=now)
