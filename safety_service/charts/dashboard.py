"""The cohort dashboard as one call: gather the records through each area's domain functions, build the charts.

No Flask: the view passes the database, the user (for site scope), the study, the time zone and ``now``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from ..domain import alerts, participants
from ..domain.study import Study
from . import cohort, sources
from .compliance import compliance_chart
from .spaghetti import spaghetti
from .svg import Chart
from .swimmer import swimmer

ALERTS_SHOWN = 10


@dataclass
class Dashboard:
    n_participants: int
    n_injected: int
    open_alerts: dict[str, int]             # by severity
    overdue: list[dict]                     # overdue visits, longest overdue first
    missed: int
    sae_clocks: list[dict]                  # running SAE report clocks, soonest due first
    alerts: list[dict] = field(default_factory=list)  # the most severe, newest open alerts
    charts: dict[str, Chart] = field(default_factory=dict)

    @property
    def n_open_alerts(self) -> int:
        return sum(self.open_alerts.values())

    @property
    def n_sae_overdue(self) -> int:
        return sum(1 for c in self.sae_clocks if c["overdue"])


def build(db: Database, user: dict | None, *, study: Study, tz: str, now: datetime) -> Dashboard:
    """Everything the dashboard shows, as of ``now``, within the user's site scope: computed once per data change
    (issue 18; domain/incremental/figures), the SAE report clocks' hours left computed at every view."""
    from ..clock import iso
    from ..domain.incremental import figures
    from ..domain.permissions import site_scope

    key = f"dashboard:{site_scope(user) or '*'}:{iso(now)[:16]}:{tz}"
    board = figures.cached(db, key, lambda: compute(db, user, study=study, tz=tz, now=now))
    board.sae_clocks = cohort.sae_clock_status(sources.sae_clocks(db, user), now)
    return board


def compute(db: Database, user: dict | None, *, study: Study, tz: str, now: datetime) -> Dashboard:
    """Everything the dashboard shows, as of ``now``, within the user's site scope, computed from the records."""
    people = participants.list_for(db, user)
    schedules = sources.cohort_schedules(db, people, study, tz, now)
    egfr, aes = sources.cohort_egfr(db, people, user), sources.ae_marks(db, user)
    overdue = cohort.overdue_visits(schedules)
    missed = sum(1 for sched in schedules.values() for s in sched if s.status == "missed")
    board = Dashboard(len(people), sum(1 for p in people if p.get("injection_at")), alerts.counts(db, user),
                      overdue, missed, cohort.sae_clock_status(sources.sae_clocks(db, user), now),
                      alerts.list_alerts(db, user, status="open", limit=ALERTS_SHOWN))
    baselines = cohort.egfr_baselines(people, egfr)
    board.charts = {
        "spaghetti": spaghetti("chart-egfr-change", cohort.egfr_trajectories(people, egfr, tz, now, baselines),
                               cohort.egfr_medians(people, egfr, study, now, baselines)),
        "swimmer": swimmer("chart-swimmer", cohort.swimmer_lanes(people, aes, tz, now)),
        "compliance": compliance_chart("chart-compliance", cohort.visit_compliance(schedules, study)),
    }
    return board
