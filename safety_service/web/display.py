"""How values read on every page: the template filters ``num`` and ``cells`` and the global ``label``.

No routes: a blueprint only so the filters register like every other web module (BLUEPRINTS). The rules are
in the domain (domain/numbers.py for precision, domain/labels.py for codes, clock.local_text for times).
"""
from __future__ import annotations

from flask import Blueprint

from ..domain import audit_view, numbers
from ..domain.errors import InvalidInput
from . import paging
from ..domain.adverse_events import display_id
from ..domain.labels import choices, label

bp = Blueprint("display", __name__)


LAB_SORTS = {"collected": lambda r: r["collected_at"], "analyte": lambda r: r["label"], "visit": lambda r: r["visit"]}


def lab_page(results: list[dict]) -> tuple[paging.Paged, dict]:
    """A participant's lab results filtered (lab_analyte, lab_from, lab_to), sorted and paged (lab_page, lab_sort).

    Returns (page, errors): the section shows the refused parameters next to an empty page.
    """
    from flask import request

    from .context import local

    analyte = (request.args.get("lab_analyte") or "").strip()
    try:
        start, end = paging.date_range("lab_")
        shown = [r for r in results if (not analyte or r["analyte"] == analyte)
                 and (not start or local(r["collected_at"])[:10] >= start.isoformat())
                 and (not end or local(r["collected_at"])[:10] <= end.isoformat())]
        return paging.paginate(shown, LAB_SORTS, default="-collected", prefix="lab_", anchor="labs"), {}
    except InvalidInput as e:
        return paging.nothing("lab_", "labs"), e.fields


def alert_target(alert: dict) -> tuple[str, str] | None:
    """(name, path) of the AE, lab result or visit behind an alert, or None (from ``prepare_alert_targets`` when
    the view listed its alerts there first)."""
    from flask import g

    from .context import get_db

    prepared = g.get("alert_targets")
    if prepared is not None and alert["id"] in prepared[0]:
        return prepared[1].get(alert["id"])
    return audit_view.alert_targets(get_db(), [alert]).get(alert["id"])


def prepare_alert_targets(alerts: list[dict]) -> None:
    """The targets of a page's alerts in one read per kind of record, for the rows ``alert_target`` then draws."""
    from flask import g

    from .context import get_db

    g.alert_targets = ({a["id"] for a in alerts}, audit_view.alert_targets(get_db(), alerts))


bp.add_app_template_filter(numbers.number, "num")     # {{ v|num(1) }}, {{ r.value|num(r.analyte, r.unit) }}
bp.add_app_template_filter(numbers.cells, "cells")    # {{ p.dose_cells|cells }} -> 1.1 × 10⁸
bp.add_app_template_global(label, "label")            # {{ label('outcome', ae.outcome) }} -> "Not recovered/not resolved"
bp.add_app_template_global(choices, "label_choices")  # [(code, label), ...] for a select or radio group
bp.add_app_template_global(alert_target, "alert_target")
bp.add_app_template_global(lab_page, "lab_page")
bp.add_app_template_global(display_id, "ae_name")      # {{ ae_name(ae) }} -> S01-003-AE2, the one name of an AE
