"""Safety-signal pages: stopping rule, rates and clusters, change from baseline, and the DSMB report (HTML, PDF).

Each view parses the cut-off, loads one data cut and renders; the numbers come from domain/ and reports/.
Participant ids from other sites are hidden from site-bound roles (aggregates stay study-wide).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, make_response, render_template, request
from markupsafe import Markup

from ..clock import local_date
from ..domain import signals as sig
from ..domain.errors import InvalidInput
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
    try:
        as_of, cutoff, held_at = datacut.instants(request.args.get("cutoff"), request.args.get("held_at"), now(), tz())
    except InvalidInput as e:  # explained on the cut-off form itself, not on a bare error page
        abort(make_response(render_template("signals/refused.html", error=e, today=local_date(now(), tz())), 422))
    return datacut.load(get_db(), study(), as_of=as_of, cutoff=cutoff, tz=tz(), held_at=held_at)


def _shown(cut) -> callable:
    """subject id -> itself, or "(other site)" for a site-bound user looking at another site's participant."""
    scope = site_scope(g.user)
    sites = {p["subject_id"]: p["site"] for p in cut.participants}
    return lambda sid: sid if scope is None or sites.get(sid) == scope else "(other site)"


def _context(cut, **extra) -> dict:
    return {"cut": cut, "today": local_date(now(), tz()), "who": _shown(cut), "svg": Markup, **extra}


@bp.get("/")
@requires("signals.view")
def stopping_page():
    cut = _cut()
    sections = dsmb.stopping_section(cut, rulebook().stopping, image="svg")
    return render_template("signals/stopping.html", sections=sections, **_context(cut))


@bp.get("/rates")
@requires("signals.view")
def rates_page():
    cut = _cut()
    rules = rulebook().stopping
    rates = sig.event_rates(cut.participants, cut.aes, cut.as_of, study().early_late_boundary_days, tz=cut.tz)
    clusters = sig.find_clusters(rules.clusters, cut.participants, cut.aes, cut.as_of, cut.tz)
    return render_template("signals/rates.html", rates=rates, clusters=clusters, cluster_rule=rules.clusters,
                           **_context(cut))


@bp.get("/change")
@requires("signals.view")
def change_page():
    cut = _cut()
    return render_template("signals/change.html", change=dsmb.change_section(cut, image="svg"), **_context(cut))


def _report(image: str) -> tuple[dict, datacut.DataCut]:
    cut = _cut()
    return dsmb.build(cut, rulebook().stopping, study(), early_days=study().early_late_boundary_days,
                      rules_digests=rulebook().digests, image=image), cut


@bp.get("/dsmb")
@requires("dsmb.view")
def dsmb_page():
    report, cut = _report("svg")
    return render_template("signals/dsmb.html", r=report, **_context(cut))


@bp.get("/dsmb.pdf")
@requires("dsmb.view")
def dsmb_pdf():
    from ..reports.pdf import write_dsmb_pdf  # fpdf and matplotlib load with the first PDF, not at start-up

    report, cut = _report("png")
    name = f"{report['study_id']}-dsmb-{report['cutoff']}.pdf"
    return Response(write_dsmb_pdf(report), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# `num` (numbers with a given precision) is web/display.py's, shared by every page.
@bp.app_template_filter("pct")
def _pct(v, digits: int = 1) -> str:
    return "—" if v is None else f"{100 * v:.{digits}f} %"


