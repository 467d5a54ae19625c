"""The DSMB report's content as plain data, a pure function of one data cut and the rules.

The HTML page and the PDF both render this one dict, so they cannot disagree; the same cut-off gives the same
content (nothing here reads a clock or the database).
"""
from __future__ import annotations

from collections import Counter
from statistics import median

from ..clock import parse_datetime
from ..domain import change_from_baseline as cfb
from ..domain import signals, stopping
from ..domain.study import Study
from .datacut import DataCut

SAE_KEYS = ("id", "subject_id", "site", "seq", "term", "grade", "onset", "onset_day", "seriousness",
            "relatedness_product", "relatedness_procedure", "expected", "susar", "outcome", "end_date",
            "description")


def summary_section(cut: DataCut) -> dict:
    """The exports area's summary tables (domain/summary.py), or a placeholder naming what is missing."""
    try:
        from ..domain import summary
        from ..exports.summary_tables import tables
    except ImportError as e:  # the exports area has not landed: say so in the report rather than fail
        return {"available": False, "reason": f"summary tables not available yet ({e.name})", "tables": []}
    s = summary.summarize(cut.participants, cut.aes)
    return {"available": True, "reason": "", "tables": tables(s), "summary": s}


def enrolment(cut: DataCut, study: Study) -> dict:
    """Enrolment, injection and follow-up status at the cut-off, overall and by site and by visit."""
    people = cut.participants
    injected = [p for p in people if p.get("injection_at") and parse_datetime(p["injection_at"]) <= cut.as_of]
    by_site = []
    for code in study.site_codes:
        mine = [p for p in people if p["site"] == code]
        by_site.append({"site": code, "enrolled": len(mine),
                        "injected": sum(1 for p in injected if p["site"] == code)})
    by_visit = []
    for v in study.visits:
        c = Counter(s["status"] for sched in cut.schedules.values() for s in sched if s["visit"] == v.code)
        by_visit.append({"visit": v.code, "label": v.label, **{k: c.get(k, 0) for k in
                                                              ("done", "open", "overdue", "missed", "upcoming")}})
    months = [(cut.as_of - parse_datetime(p["injection_at"])).days / (365.25 / 12) for p in injected]
    return {"enrolled": len(people), "injected": len(injected),
            "status": dict(sorted(Counter(p.get("status", "active") for p in people).items())),
            "by_site": by_site, "by_visit": by_visit,
            "median_follow_up_months": round(median(months), 1) if months else None,
            "max_follow_up_months": round(max(months), 1) if months else None}


def _figures(image: str | None):
    """(draw, finish) for the target: hand-built SVG charts for pages (charts/signals.py), matplotlib PNG for the
    PDF (reports/charts.py, imported only then), none for data only. Each draw function has the same arguments."""
    if image == "svg":
        from ..charts import signals as draw

        return draw, (lambda chart: chart)
    if image == "png":
        from . import charts as draw

        return draw, draw.png
    if image is None:
        return None, None
    raise ValueError(f"image: unknown figure target {image!r}")


def stopping_section(cut: DataCut, rules: stopping.SafetyRules, image: str | None = "svg") -> list[dict]:
    """Per stopping rule: its position at the cut-off, its boundary table and the two figures."""
    draw, finish = _figures(image)
    out = []
    for rule in rules.rules:
        pos = stopping.position(rule, cut.participants, cut.aes, cut.as_of, cut.tz)
        table = stopping.boundary(rule)
        out.append({"rule": rule, "position": pos, "boundary": table,
                    "posterior_figure": finish(draw.posterior_over_time(rule, pos)) if draw else None,
                    "boundary_figure": finish(draw.boundary_chart(rule, table, pos)) if draw else None})
    return out


def change_section(cut: DataCut, image: str | None = "svg") -> dict:
    """Change from baseline per analyte and visit, missing visits, eGFR slopes, one figure per analyte."""
    draw, finish = _figures(image)
    baselines = cfb.baselines_from_labs(cut.labs, cut.participants)
    expected = cfb.expected_from_schedules(cut.schedules)
    rows = cfb.change_from_baseline(cut.labs, baselines, expected, now=cut.as_of)
    slopes = cfb.egfr_slopes(cut.labs, cut.participants, now=cut.as_of)
    figures = {} if draw is None else {a: finish(draw.change_chart(a, rows)) for a in cfb.ANALYTES
                                       if any(r.analyte == a and r.n for r in rows)}  # no figure without a pair
    return {"rows": rows, "slopes": slopes, "slope_summary": cfb.slope_summary(slopes), "figures": figures}


def sae_narratives(cut: DataCut) -> list[dict]:
    """Every active SAE with its narrative (the AE description), by subject and sequence."""
    saes = [a for a in cut.aes if a.get("status") == "active" and a.get("serious")]
    saes.sort(key=lambda a: (a["subject_id"], a.get("seq") or 0, a.get("id") or 0))
    return [{k: a.get(k) for k in SAE_KEYS} for a in saes]


def build(cut: DataCut, rules: stopping.SafetyRules, study: Study, *, early_days: int,
          rules_digests: dict[str, str] | None = None, image: str | None = "svg") -> dict:
    """Everything the DSMB report shows for this data cut. Raises ValueError from the domain on malformed rows."""
    return {
        "study_id": study.study_id,
        "title": study.title,
        "cutoff": cut.cutoff.isoformat(),
        "as_of": cut.as_of.isoformat(timespec="seconds"),
        "held_at": (cut.held_at or cut.as_of).isoformat(timespec="seconds"),
        "tz": cut.tz,
        "missing_sources": cut.missing_sources,
        "rules_digests": dict(sorted((rules_digests or {}).items())),
        "enrolment": enrolment(cut, study),
        "summary": summary_section(cut),
        "stopping": stopping_section(cut, rules, image),
        "rates": signals.event_rates(cut.participants, cut.aes, cut.as_of, early_days, tz=cut.tz),
        "clusters": signals.find_clusters(rules.clusters, cut.participants, cut.aes, cut.as_of, cut.tz),
        "cluster_rule": rules.clusters,
        "change": change_section(cut, image),
        "saes": sae_narratives(cut),
    }
