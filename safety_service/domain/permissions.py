"""Who may do what: the single table every view and API route is checked against.

Add an action here with the roles allowed; web/guard.py refuses any endpoint that names no action.
Site scoping (a nurse sees her own site) is decided by ``site_scope``.
"""
from __future__ import annotations

ROLES = ("nurse", "investigator", "safety_officer", "auditor", "admin")
ALL = frozenset(ROLES)
CLINICAL = frozenset({"nurse", "investigator"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "home.view": ALL,
    "account.password": ALL,  # one's own password (issue 15)
    "participant.view": ALL,
    "participant.create": CLINICAL | {"admin"},
    "visit.record": CLINICAL,
    "participant.status": CLINICAL,  # withdrawn, lost to follow-up, died, completed (issue 12)
    "ae.view": ALL,
    "ae.create": CLINICAL,
    "ae.amend": CLINICAL,
    "ae.sign_off": frozenset({"investigator"}),
    "ae.report_sent": frozenset({"investigator", "safety_officer"}),
    "ae.cioms": frozenset({"investigator", "safety_officer", "auditor"}),  # the CIOMS I form of an SAE report
    "ctcae.view": ALL,
    "lab.view": ALL,
    "lab.create": CLINICAL,
    "lab.import": CLINICAL | {"admin"},
    # con-meds and medical history (issue 14): read as participants are, entered and amended by the site team
    "history.view": ALL,
    "history.enter": CLINICAL,
    "history.import": CLINICAL | {"admin"},
    "alert.view": frozenset({"safety_officer", "investigator", "admin", "auditor"}),
    "alert.acknowledge": frozenset({"safety_officer", "investigator"}),
    "alert.resolve": frozenset({"safety_officer", "investigator"}),
    "dashboard.view": frozenset({"safety_officer", "investigator", "auditor", "admin"}),
    "signals.view": frozenset({"safety_officer", "investigator", "auditor"}),
    "dsmb.view": frozenset({"safety_officer", "auditor"}),  # study-wide listings of every site's participants
    "export.ae": frozenset({"auditor", "safety_officer", "investigator"}),
    "export.listings": frozenset({"auditor", "safety_officer", "investigator"}),
    "summary.view": frozenset({"auditor", "safety_officer", "investigator"}),
    "audit.view": frozenset({"auditor", "admin"}),
    "audit.export": frozenset({"auditor"}),
    "outbox.view": frozenset({"admin"}),
    "user.manage": frozenset({"admin"}),
    # data clarification queries (issue 17): raised by oversight or the investigator, answered by the site team;
    # closing and reopening is further limited to the raiser or the safety officer (domain/queries/workflow.py)
    "query.view": ALL,
    "query.raise": frozenset({"safety_officer", "auditor", "investigator"}),
    "query.answer": CLINICAL,
    "query.close": frozenset({"safety_officer", "auditor", "investigator"}),
    "query.export": frozenset({"safety_officer", "auditor", "investigator"}),
    # eligibility screening (issue 13): the checklist read as participants are; the site answers the non-lab
    # criteria and records the injection; only the investigator signs a protocol deviation
    "eligibility.view": ALL,
    "eligibility.answer": CLINICAL,
    "eligibility.deviation": frozenset({"investigator"}),
    "participant.inject": CLINICAL,
    "export.screening_log": frozenset({"auditor", "safety_officer", "investigator"}),
}

# Roles bound to their own site's participants, AEs, labs and alerts.
SITE_BOUND = frozenset({"nurse", "investigator"})


def allowed(role: str | None, action: str) -> bool:
    """True if the role may perform the action. Raises KeyError for an action nobody declared."""
    return role in PERMISSIONS[action]


def site_scope(user: dict | None) -> str | None:
    """The one site a user is restricted to, or None for study-wide roles."""
    if user and user["role"] in SITE_BOUND:
        return user.get("site") or "__no_site__"
    return None


def may_see_site(user: dict | None, site: str) -> bool:
    scope = site_scope(user)
    return scope is None or scope == site
