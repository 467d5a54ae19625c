"""AE pages: the nurse's form, the AE page with its history, amendments, entered in error, SAE sign-off,
report sent, the AE list and the participant timeline section. Views parse, call one domain function, render."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..clock import local_date, parse_datetime
from ..domain import adverse_events, participants
from ..domain.ae_rules import ACTIONS, ENTERED, OUTCOMES, RELATEDNESS, SERIOUSNESS
from ..domain.errors import Conflict, InvalidInput
from ..domain.permissions import site_scope
from ..domain.once import form_tokens
from ..domain.sae import reports as sae_reports, susar
from .context import get_db, local, now, rulebook, study, tz
from .guard import requires
from .paging import contains, nothing, paginate

bp = Blueprint("ae", __name__)

LABELS = {
    "relatedness": [(v, v.replace("_", " ").capitalize()) for v in RELATEDNESS],
    "action_taken": [(v, v.replace("_", " ").capitalize()) for v in ACTIONS],
    "outcome": [(v, v.replace("_", " ").capitalize()) for v in OUTCOMES],
    "seriousness": [(v, v.replace("_", " ").capitalize()) for v in SERIOUSNESS],
}


def catalogue():
    return rulebook().ctcae


def _local_input(at: str | None) -> str:
    """A stored UTC instant as the value of a datetime-local input in the site's zone."""
    return parse_datetime(at).astimezone(ZoneInfo(tz())).strftime("%Y-%m-%dT%H:%M") if at else ""


def form_payload(form) -> dict:
    """The AE fields of a submitted form (checkbox lists read as lists)."""
    data = {k: form.get(k, "") for k in ENTERED if k not in ("subject_id", "seriousness")}
    data["seriousness"] = form.getlist("seriousness")
    return data


def form_values(ae: dict) -> dict:
    """An AE as the form shows it (strings; the awareness time in local time)."""
    return {
        "term": ae["term"], "verbatim": ae["verbatim"], "grade": str(ae["grade"]), "onset": ae["onset"],
        "onset_time": ae["onset_time"] or "", "end_date": ae["end_date"] or "",
        "serious": "true" if ae["serious"] else "false", "seriousness": list(ae["seriousness"]),
        "relatedness_product": ae["relatedness_product"], "relatedness_procedure": ae["relatedness_procedure"],
        "expected": "" if ae["expected"] is None else ("true" if ae["expected"] else "false"),
        "action_taken": ae["action_taken"], "other_action": ae["other_action"] or "", "outcome": ae["outcome"],
        "description": ae["description"] or "", "awareness_at": _local_input(ae["awareness_at"]),
    }


def _form_page(template: str, *, form: dict, errors: dict, status: int = 200, **context):
    cat = catalogue()
    term = cat.get(form.get("term"))
    return render_template(template, form=form, errors=errors, term=term.to_dict(cat.version) if term else None,
                           ctcae_version=cat.version, labels=LABELS, **context), status


@bp.route("/participants/<subject_id>/ae/new", methods=["GET", "POST"])
@requires("ae.create")
def new(subject_id):
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    if request.method == "POST":
        form = form_payload(request.form)
        token = request.form.get(form_tokens.FIELD, "")
        try:
            # "Treatment given" (con-meds linked to the AE, issue 14) is saved in the AE's transaction.
            from ..domain.history import treatments
            # One-time form token: a double click or a re-submitted form lands on the first AE, never a second.
            ae, first_id = form_tokens.submit_once(
                db, token, user=g.user, purpose="ae.new", now=now(), entity="adverse_event",
                make=lambda: treatments.create_ae_with(db, lambda: adverse_events.create(
                    db, {**form, "subject_id": subject_id}, catalogue=catalogue(), study=study(), tz=tz(),
                    actor=g.user, now=now()), request.form.getlist("treatment_given"), actor=g.user, now=now()))
        except InvalidInput as e:
            form["treatment_given"] = [int(i) for i in request.form.getlist("treatment_given") if i.isdigit()]
            return _form_page("ae/form.html", form=form, errors=e.fields, status=422, p=p, mode="new",
                              form_token=token if form_tokens.FIELD not in e.fields else form_tokens.new())
        if ae is None:
            flash("This form was already submitted: the AE was recorded once, here it is.", "info")
            return redirect(url_for("ae.detail", ae_id=int(first_id)))
        flash(f"{adverse_events.display_id(ae)} {ae['term']} grade {ae['grade']} recorded for {subject_id}."
              + (" SAE: the 24-hour report clock is running." if ae["serious"] else ""), "success")
        return redirect(url_for("pages.participant_detail", subject_id=subject_id) + "#timeline")
    today = local_date(now(), tz()).isoformat()
    form = {"onset": today, "serious": "false", "action_taken": "not_applicable", "seriousness": [],
            "awareness_at": now().astimezone(ZoneInfo(tz())).strftime("%Y-%m-%dT%H:%M")}
    return _form_page("ae/form.html", form=form, errors={}, p=p, mode="new", form_token=form_tokens.new())


@bp.get("/ae/<int:ae_id>")
@requires("ae.view")
def detail(ae_id):
    db = get_db()
    ae = adverse_events.get(db, ae_id, user=g.user)
    cat = catalogue()
    term = cat.get(ae["term"])
    return render_template("ae/detail.html", ae=ae, term=term.to_dict(cat.version) if term else None,
                           versions=adverse_events.versions(db, ae_id, user=g.user),
                           workflow=adverse_events.workflow(db, ae_id, user=g.user), now=now(),
                           local=_local_text, susar_label=susar.label(ae),
                           reports=sae_reports.series(db, ae_id, user=g.user, tz=tz(), now=now())
                           if ae["serious"] else [], report_token=form_tokens.new())


def _local_text(at: str | None) -> str:
    return local(at, "—")


@bp.route("/ae/<int:ae_id>/amend", methods=["GET", "POST"])
@requires("ae.amend")
def amend(ae_id):
    db = get_db()
    ae = adverse_events.get(db, ae_id, user=g.user)
    current = form_values(ae)
    if request.method == "POST":
        form = form_payload(request.form)
        # Only what the nurse changed on the page is an amendment (a re-rendered value is not a change).
        changes = {k: v for k, v in form.items() if v != current.get(k)}
        reason = request.form.get("reason", "")
        version = request.form.get("version", "")
        try:
            if not version.strip():
                # The form always carries the version it was made against; without it a stale edit could
                # overwrite someone else's change unseen.
                raise InvalidInput({"version": "missing: reload the AE and amend again"})
            new = adverse_events.amend(db, ae_id, changes, reason=reason, catalogue=catalogue(), study=study(),
                                       tz=tz(), actor=g.user, now=now(), expected_version=version)
        except InvalidInput as e:
            return _form_page("ae/form.html", form={**form, "reason": reason}, errors=e.fields, status=422,
                              ae=ae, mode="amend", p=None)
        except Conflict as e:
            if ae["status"] != "active":
                flash(e.message, "error")
                return redirect(url_for("ae.detail", ae_id=ae_id))
            # Stale: someone amended it meanwhile. Keep what this user typed, show the current version to
            # compare with, and answer 409 like the API.
            return _form_page("ae/form.html", form={**form, "reason": reason}, status=409, ae=ae, mode="amend",
                              p=None, errors={"version": e.message}, edited_version=version)
        flash(f"{adverse_events.display_id(new)} amended: version {new['version']}.", "success")
        return redirect(url_for("ae.detail", ae_id=ae_id))
    if ae["status"] != "active":
        flash("An AE entered in error can no longer be amended.", "error")
        return redirect(url_for("ae.detail", ae_id=ae_id))
    return _form_page("ae/form.html", form=current, errors={}, ae=ae, mode="amend", p=None)


@bp.post("/ae/<int:ae_id>/entered-in-error")
@requires("ae.amend")
def entered_in_error(ae_id):
    try:
        adverse_events.mark_entered_in_error(get_db(), ae_id, reason=request.form.get("reason", ""), actor=g.user,
                                             now=now(), expected_version=request.form.get("version"))
        flash("The AE is marked entered in error. It stays in the record and its history.", "success")
    except InvalidInput as e:
        flash("Not marked: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    except Conflict as e:
        flash(e.message, "error")
    return redirect(url_for("ae.detail", ae_id=ae_id))


@bp.route("/ae/<int:ae_id>/sign-off", methods=["GET", "POST"])
@requires("ae.sign_off")
def sign_off(ae_id):
    db = get_db()
    ae = adverse_events.get(db, ae_id, user=g.user)
    errors = {}
    if request.method == "POST":
        try:
            adverse_events.sign_off(db, ae_id, password=request.form.get("password", ""), actor=g.user, now=now())
            flash(f"SAE {adverse_events.display_id(ae)} signed off (review and approval).", "success")
            return redirect(url_for("ae.detail", ae_id=ae_id))
        except InvalidInput as e:
            errors = e.fields
        except Conflict as e:
            flash(e.message, "error")
            return redirect(url_for("ae.detail", ae_id=ae_id))
    return render_template("ae/sign_off.html", ae=ae, errors=errors, meaning=adverse_events.SIGNATURE_MEANING,
                           local=_local_text), (422 if errors else 200)


@bp.post("/ae/<int:ae_id>/report-sent")
@requires("ae.report_sent")
def report_sent(ae_id):
    try:
        adverse_events.record_report_sent(get_db(), ae_id, actor=g.user, now=now(), tz=tz(),
                                          sent_at=request.form.get("sent_at") or None)
        flash("SAE report recorded as sent to the sponsor.", "success")
    except InvalidInput as e:
        flash("Not recorded: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    except Conflict as e:
        flash(e.message, "error")
    return redirect(url_for("ae.detail", ae_id=ae_id))


@bp.post("/ae/<int:ae_id>/reports")
@requires("ae.report_sent")
def report_record(ae_id):
    """Record a report of the SAE's series from its page; the form's one-time token stops a double submit."""
    db = get_db()
    data = {k: request.form.get(k, "") for k in ("kind", "sent_at", "recipient", "summary", "expedited")}
    try:
        made, _first = form_tokens.submit_once(
            db, request.form.get(form_tokens.FIELD, ""), user=g.user, purpose="ae.report", now=now(),
            entity="sae_report",
            make=lambda: sae_reports.record(db, ae_id, {k: v for k, v in data.items() if v != ""}, actor=g.user,
                                            tz=tz(), now=now()))
        if made is None:
            flash("This report form was already submitted: the report was recorded once.", "info")
        else:
            flash(f"Report {made['number']} ({made['kind'].replace('_', '-')}) recorded as sent to "
                  f"{made['recipient']}.", "success")
    except InvalidInput as e:
        flash("Not recorded: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    except Conflict as e:
        flash(e.message, "error")
    return redirect(url_for("ae.detail", ae_id=ae_id) + "#sae")


LIST_PAGING = ("q", "page", "per_page", "sort")
LIST_SORTS = {"name": lambda ae: (ae["subject_id"], ae["seq"]), "term": lambda ae: ae["term"].lower(),
              "grade": lambda ae: ae["grade"], "onset": lambda ae: ae["onset"], "phase": lambda ae: ae["phase"],
              "serious": lambda ae: ae["serious"], "outcome": lambda ae: ae["outcome"]}


@bp.get("/ae")
@requires("ae.view")
def index():
    filters = {k: v for k, v in request.args.items() if v not in ("", None)}
    errors, aes = {}, []
    try:
        aes = adverse_events.list_aes(get_db(), g.user, {k: v for k, v in filters.items() if k not in LIST_PAGING})
    except InvalidInput as e:
        errors = e.fields
    # the search box: term, verbatim text or the AE's name (S01-003-AE2)
    aes = [ae for ae in aes if contains(filters.get("q"), ae["term"], ae["verbatim"], adverse_events.display_id(ae))]
    try:
        page = paginate(aes, LIST_SORTS)
    except InvalidInput as e:
        errors, page = {**errors, **e.fields}, nothing()
    scope = site_scope(g.user)  # a site nurse is offered her own site only
    return render_template("ae/list.html", aes=page.items, page=page, filters=filters, errors=errors,
                           sites=[scope] if scope else study().site_codes), (422 if errors else 200)


@bp.app_context_processor
def _timeline_helper():
    """ae_timeline(p, schedule) for the participant page's timeline section (ae/_participant_timeline.html)."""
    def ae_timeline(p: dict, schedule) -> list[dict]:
        return adverse_events.timeline(get_db(), p, schedule, user=g.get("user"), tz=tz())
    return {"ae_timeline": ae_timeline}
