"""What every export carries besides its rows: study, export time, filters and exporting user."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..domain.errors import DomainError


class ExportError(DomainError):
    """A value cannot be written faithfully in the requested format (422 in the API; nothing is exported).

    ``field`` names the offending column or variable, ``row`` the record (AE id or row number).
    """

    code, status = "unexportable", 422

    def __init__(self, message: str, field: str | None = None, row: object = None):
        self.field, self.row = field, row
        where = f"record {row}: " if row is not None else ""
        super().__init__(f"{where}{message}", {field or "export": f"{where}{message}"})


@dataclass(frozen=True)
class ExportMeta:
    """Context printed in headers and stored in file properties.

    ``exported_at`` must be aware; it is the only thing that may differ between two exports
    of the same rows (the writers never read the clock themselves).
    """

    study_id: str
    exported_at: datetime
    exported_by: str
    filters: dict = field(default_factory=dict)
    title: str = "Adverse event listing"
    # The audit chain head (domain/audit.anchor, `safety audit anchor`) when the export was made: printed in the
    # file, so an auditor can later prove the trail was neither cut short nor rebuilt after it (21 CFR 11.10(e)).
    audit_anchor: str = ""

    def __post_init__(self):
        if self.exported_at.tzinfo is None:
            raise ExportError("export time has no UTC offset", field="exported_at")

    @property
    def exported_at_utc(self) -> datetime:
        return self.exported_at.astimezone(timezone.utc).replace(microsecond=0)

    @property
    def exported_at_iso(self) -> str:
        return self.exported_at_utc.isoformat()

    def anchor_text(self) -> str:
        """"audit chain head (safety audit anchor) ID:HASH", or "" when the export has none."""
        return f"audit chain head (safety audit anchor) {self.audit_anchor}" if self.audit_anchor else ""

    def filters_text(self) -> str:
        """Filters as one readable line, in a stable order; "none" when unfiltered."""
        parts = [f"{k}={_text(v)}" for k, v in sorted(self.filters.items()) if v not in (None, "", [])]
        return "; ".join(parts) if parts else "none"


def _text(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)
