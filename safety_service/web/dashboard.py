"""The safety officer's cohort dashboard, and the participant page's charts (a template global for its include)."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from ..charts import dashboard, participant, sources
from ..clock import local_date
from .context import get_db, now, study, tz
from .guard import requires

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
@requires("dashboard.view")
def index():
    board = dashboard.build(get_db(), g.user, study=study(), tz=tz(), now=now())
    return render_template("dashboard/index.html", board=board, today=local_date(now(), tz()))


def participant_charts(p: dict, schedule) -> dict | None:
    """The eGFR, UACR and AE charts of a participant the signed-in user may see (None before the injection)."""
    db, user, sid = get_db(), g.user, p["subject_id"]
    return participant.participant_charts(
        p, egfr_rows=sources.lab_series(db, sid, user, "egfr"), uacr_rows=sources.lab_series(db, sid, user, "uacr"),
        breaches=sources.lab_breaches(db, sid, user), schedule=schedule,
        aes=sources.adverse_events(db, user, subject_id=sid), tz=tz(), now=now())


@bp.app_context_processor
def _chart_globals():
    return {"participant_charts": participant_charts}
