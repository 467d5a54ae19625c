"""The safety officer's cohort dashboard: counts that need action and the cohort's pictures."""
from __future__ import annotations

from flask import Blueprint, g, render_template

from ..charts import dashboard
from ..clock import local_date
from .context import get_db, now, study, tz
from .guard import requires

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
@requires("dashboard.view")
def index():
    board = dashboard.build(get_db(), g.user, study=study(), tz=tz(), now=now())
    return render_template("dashboard/index.html", board=board, today=local_date(now(), tz()))
