"""Safety-signal pages: stopping rule, rates and clusters, change from baseline, and the DSMB report (HTML, PDF).

Each view parses the cut-off and renders figures computed once per data change: the data cut and the page's
figures are cached in SQLite under the data version (domain/incremental/figures), so a view reads them and a
change to any AE, lab, visit or participant makes the next view compute afresh. The numbers come from domain/ and
reports/. Participant ids from other sites are hidden from site-bound roles (aggregates stay study-wide).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from flask import Blueprint, Response, abort, g, make_response, render_template, request
from markupsafe import Markup

from ..clock import iso, local_date
from ..domain import signals as sig
from ..domain.errors import InvalidInput
from ..domain.incremental import figures
from ..domain.permissions import site_scope
from ..jobs import signals as _recompute  # noqa: F401  registers the recompute after each SAE / severe AE save
from ..reports import datacut, dsmb
from .context import get_db, now, rulebook, study, tz
from .guard import requires

bp = Blueprint("signals", __name__, url_prefix="/signals")


def _cut():
    """The data cut for ``?cutoff=YYYY-MM-DD`` (default today) from the snapshot ``?held_at=`` (default now).

    Raises InvalidInput naming ``cutoff`` or ``held_at``.
    """
    as_of, cutoff, held_at = _instants()
    return datacut.load(get_db(), study(), as_of=as_of, cutoff=cutoff, tz=tz(), held_at=held_at)


def _instants() -> tuple[datetime, date, datetime]:
    try:
        return datacut.instants(request.args.get("cutoff"), request.args.get("held_at"), now(), tz())
    except InvalidInput as e:  # explained on the cut-off form itself, not on a bare error page
        abort(make_response(render_template("signals/refused.html", error=e, today=local_date(now(), tz())), 422))


@dataclass(frozen=True)
class CutShown:
    """What a page shows of its data cut (the header, and each participant's site for ``who``)."""

    cutoff: date
    as_of: datetime
    held_at: datetime | None
    missing_sources: tuple[str, ...]
    sites: dict[str, str]

    @classmethod
    def of(cls, cut: datacut.DataCut) -> "CutShown":
        return cls(cut.cutoff, cut.as_of, cut.held_at, tuple(cut.missing_sources),
                   {p["subject_id"]: p["site"] for p in cut.participants})


def _figures(page: str, compute: Callable[[datacut.DataCut], object]) -> tuple[CutShown, object]:
    """(the cut shown, the page's figures), computed once per data change and read from the cache otherwise.

    Keyed by the page, the cut-off, the snapshot asked for (or, for "now", the minute: every record stored by then
    is in the cut, and a later one moves the data version) and the rules' digests (a rule changed at a restart is
    never answered with figures of the old rule).
    """
    as_of, cutoff, held_at = _instants()
    asked = request.args.get("held_at")
    rules = hashlib.sha256(repr(sorted(rulebook().digests.items())).encode()).hexdigest()[:16]
    key = (f"signals:{page}:{cutoff.isoformat()}:{iso(held_at) if asked else 'now@' + iso(now())[:16]}:{tz()}:"
           f"{rules}")

    def build():
        cut = datacut.load(get_db(), study(), as_of=as_of, cutoff=cutoff, tz=tz(), held_at=held_at)
        return CutShown.of(cut), compute(cut)
    return figures.cached(get_db(), key, build)


def _shown(cut) -> callable:
    """subject id -> itself, or "(other site)" for a site-bound user looking at another site's participant."""
    scope = site_scope(g.user)
    sites = cut.sites
    return lambda sid: sid if scope is None or sites.get(sid) == scope else "(other site)"


def _context(cut, **extra) -> dict:
    return {"cut": cut, "today": local_date(now(), tz()), "who": _shown(cut), "svg": Markup, **extra}


@bp.get("/")
@requires("signals.view")
def stopping_page():
    cut, sections = _figures("stopping", lambda c: dsmb.stopping_section(c, rulebook().stopping, image="svg"))
    return render_template("signals/stopping.html", sections=sections, **_context(cut))


@bp.get("/rates")
@requires("signals.view")
def rates_page():
    rules = rulebook().stopping

    def compute(c):
        return (sig.event_rates(c.participants, c.aes, c.as_of, study().early_late_boundary_days, tz=c.tz),
                sig.find_clusters(rules.clusters, c.participants, c.aes, c.as_of, c.tz))
    cut, (rates, clusters) = _figures("rates", compute)
    return render_template("signals/rates.html", rates=rates, clusters=clusters, cluster_rule=rules.clusters,
                           **_context(cut))


@bp.get("/change")
@requires("signals.view")
def change_page():
    cut, change = _figures("change", lambda c: dsmb.change_section(c, image="svg"))
    return render_template("signals/change.html", change=change, **_context(cut))


def _report(cut: datacut.DataCut, image: str) -> dict:
    return dsmb.build(cut, rulebook().stopping, study(), early_days=study().early_late_boundary_days,
                      rules_digests=rulebook().digests, image=image)


@bp.get("/dsmb")
@requires("dsmb.view")
def dsmb_page():
    cut, report = _figures("dsmb", lambda c: _report(c, "svg"))
    return render_template("signals/dsmb.html", r=report, **_context(cut))


@bp.get("/dsmb.pdf")
@requires("dsmb.view")
def dsmb_pdf():
    from ..reports.pdf import write_dsmb_pdf  # fpdf and matplotlib load with the first PDF, not at start-up

    report = _report(_cut(), "png")  # a download, not a page view: made from the records each time
    name = f"{report['study_id']}-dsmb-{report['cutoff']}.pdf"
    return Response(write_dsmb_pdf(report), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# `num` (numbers with a given precision) is web/display.py's, shared by every page.
@bp.app_template_filter("pct")
def _pct(v, digits: int = 1) -> str:
    return "—" if v is None else f"{100 * v:.{digits}f} %"


