"""How values read on every page: the template filters ``num`` and ``cells`` and the global ``label``.

No routes: a blueprint only so the filters register like every other web module (BLUEPRINTS). The rules are
in the domain (domain/numbers.py for precision, domain/labels.py for codes, clock.local_text for times).
"""
from __future__ import annotations

from flask import Blueprint

from ..domain import numbers
from ..domain.adverse_events import display_id
from ..domain.labels import choices, label

bp = Blueprint("display", __name__)

bp.add_app_template_filter(numbers.number, "num")     # {{ v|num(1) }}, {{ r.value|num(r.analyte, r.unit) }}
bp.add_app_template_filter(numbers.cells, "cells")    # {{ p.dose_cells|cells }} -> 1.1 × 10⁸
bp.add_app_template_global(label, "label")            # {{ label('outcome', ae.outcome) }} -> "Not recovered/not resolved"
bp.add_app_template_global(choices, "label_choices")  # [(code, label), ...] for a select or radio group
bp.add_app_template_global(display_id, "ae_name")      # {{ ae_name(ae) }} -> S01-003-AE2, the one name of an AE
