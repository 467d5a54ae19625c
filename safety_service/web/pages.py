"""Pages for the clinical team: home, participants list, participant page, enrolment, visits."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..charts import agenda
from ..clock import local_date
from ..domain import participants
from ..domain.errors import InvalidInput
from .context import get_db, now, study, tz
from .guard import requires

bp = Blueprint("pages", __name__)


@bp.get("/")
@requires("home.view")
def home():
    return render_template("home.html", agenda=agenda.for_user(get_db(), g.user, study=study(), tz=tz(), now=now()),
                           today=local_date(now(), tz()))


@bp.get("/participants")
@requires("participant.view")
def participant_list():
    db = get_db()
    site = request.args.get("site") or None
    listing = []
    people = participants.list_for(db, g.user, site=site)
    schedules = participants.schedules_for(db, people, study(), tz(), now())
    for p in people:
        sched = schedules[p["subject_id"]]
        nxt = next((v for v in sched if v.status not in ("done", "not_expected")), None)
        listing.append({**p, "next_visit": nxt, "overdue": sum(v.status == "overdue" for v in sched)})
    return render_template("participants/list.html", participants=listing, site=site, sites=study().site_codes)


@bp.get("/participants/<subject_id>")
@requires("participant.view")
def participant_detail(subject_id):
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    sched = participants.participant_schedule(db, p, study(), tz(), now())
    return render_template("participants/detail.html", p=p, schedule=sched, today=local_date(now(), tz()))


@bp.route("/participants/new", methods=["GET", "POST"])
@requires("participant.create")
def participant_new():
    errors, form = {}, request.form.to_dict()
    if request.method == "POST":
        try:
            p = participants.create(get_db(), form, study=study(), tz=tz(), actor=g.user, now=now())
            flash(f"Participant {p['subject_id']} enrolled.", "success")
            return redirect(url_for("pages.participant_detail", subject_id=p["subject_id"]))
        except InvalidInput as e:
            errors = e.fields
    elif g.user.get("site"):
        form["site"] = g.user["site"]
    return render_template("participants/new.html", form=form, errors=errors, sites=study().site_codes), \
        (422 if errors else 200)


@bp.post("/participants/<subject_id>/visits/<visit>")
@requires("visit.record")
def visit_record(subject_id, visit):
    try:
        participants.record_visit(get_db(), subject_id, visit, request.form.get("visit_date"), study=study(),
                                  tz=tz(), actor=g.user, now=now())
        flash(f"Visit {visit} recorded.", "success")
    except InvalidInput as e:
        flash("Visit not recorded: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    return redirect(url_for("pages.participant_detail", subject_id=subject_id))
