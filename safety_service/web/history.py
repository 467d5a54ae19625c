"""Pages for con-meds and medical history: the participant page's section, the forms (new, amend with a reason,
entered in error), the CSV upload, and the AE's "treatment given". Views parse, call the domain, render."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..domain import adverse_events, participants
from ..domain.errors import Conflict, InvalidInput
from ..domain.history import conmeds, importing, medical_history, records, treatments
from ..domain.labels import choices
from ..domain.labs_import import ImportRefused
from .context import get_db, now, tz
from .guard import requires

bp = Blueprint("history", __name__)
# URL segment -> (kind, endpoint prefix, page heading)
KINDS = {"conmeds": (conmeds.KIND, "conmed", "Concomitant medication"),
         "medical-history": (medical_history.KIND, "mh", "Medical history")}


def _values(kind, record: dict) -> dict:
    """A record as its form shows it (strings; the ongoing checkbox as "on")."""
    out = {k: "" if record.get(k) is None else str(record[k]) for k in kind.fields}
    out["ongoing"] = "on" if record.get("ongoing") else ""
    if out.get("dose", "").endswith(".0"):
        out["dose"] = out["dose"][:-2]
    return out


def _from_form(kind) -> dict:
    data = {k: request.form.get(k, "") for k in kind.fields}
    data["ongoing"] = "ongoing" in request.form
    return data


def _page(path, *, p, form, errors, record=None, status=200):
    kind, short, title = KINDS[path]
    return render_template("history/form.html", p=p, form=form, errors=errors, record=record, path=path,
                           short=short, title=title, routes=choices("route")), status


def _back(subject_id):
    return redirect(url_for("pages.participant_detail", subject_id=subject_id) + "#history")


def _new(path, subject_id):
    kind = KINDS[path][0]
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    if request.method == "GET":
        return _page(path, p=p, form={"ongoing": "on"} if kind is conmeds.KIND else {}, errors={})
    form = _from_form(kind)
    try:
        done = records.create(db, kind, subject_id, form, actor=g.user, tz=tz(), now=now())
    except InvalidInput as e:
        return _page(path, p=p, form={**form, "ongoing": "on" if form["ongoing"] else ""}, errors=e.fields,
                     status=422)
    flash(f"{done['display_id']} recorded.", "success")
    return _back(subject_id)


def _amend(path, subject_id, record_id):
    kind = KINDS[path][0]
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    record = records.get(db, kind, record_id, user=g.user)
    if record["subject_id"] != p["subject_id"]:
        return _back(subject_id)
    current = _values(kind, record)
    if request.method == "GET":
        return _page(path, p=p, form=current, errors={}, record=record)
    form = _values(kind, _from_form(kind))
    changes = {k: v for k, v in form.items() if v != current.get(k)}
    if "ongoing" in changes:
        changes["ongoing"] = bool(form["ongoing"])
    reason = request.form.get("reason", "")
    try:
        done = records.amend(db, kind, record["id"], changes, reason=reason, actor=g.user, tz=tz(), now=now(),
                             expected_version=request.form.get("version"))
    except InvalidInput as e:
        return _page(path, p=p, form={**form, "reason": reason}, errors=e.fields, record=record, status=422)
    except Conflict as e:
        flash(e.message, "error")
        return _back(subject_id)
    flash(f"{done['display_id']} amended: version {done['version']}.", "success")
    return _back(subject_id)


def _entered_in_error(path, subject_id, record_id):
    kind = KINDS[path][0]
    db = get_db()
    record = records.get(db, kind, record_id, user=g.user)
    try:
        done = records.mark_entered_in_error(db, kind, record["id"], reason=request.form.get("reason", ""),
                                             actor=g.user, now=now(), expected_version=request.form.get("version"))
        flash(f"{done['display_id']} is marked entered in error; it stays in the record and its history.", "success")
    except InvalidInput as e:
        flash("Not marked: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    except Conflict as e:
        flash(e.message, "error")
    return _back(record["subject_id"])


for _path, (_kind, _short, _title) in KINDS.items():
    for _suffix, _methods, _func in (("/new", ["GET", "POST"], _new),
                                     ("/<record_id>/amend", ["GET", "POST"], _amend),
                                     ("/<record_id>/entered-in-error", ["POST"], _entered_in_error)):
        def _view(*args, _func=_func, _path=_path, **kwargs):
            return _func(_path, *args, **kwargs)
        bp.add_url_rule(f"/participants/<subject_id>/{_path}{_suffix}", f"{_short}_{_func.__name__[1:]}",
                        requires("history.enter")(_view), methods=_methods)


@bp.route("/history/import", methods=["GET", "POST"])
@requires("history.import")
def import_page():
    done, problems, status, which = None, [], 200, request.form.get("kind", "conmeds")
    if request.method == "POST":
        upload = request.files.get("file")
        if which not in importing.KINDS:
            problems, status = [("-", "kind", "choose con-meds or medical history")], 422
        elif upload is None or not upload.filename:
            problems, status = [("-", "file", "choose a CSV file to upload")], 422
        else:
            try:
                done = importing.import_csv(get_db(), which, upload.read().decode("utf-8-sig"), user=g.user,
                                            actor=g.user["email"], tz=tz(), now=now())
            except UnicodeDecodeError:
                problems, status = [("-", "file", "is not UTF-8 text; save it as CSV UTF-8")], 422
            except ImportRefused as e:
                problems, status = [(x.row, x.column, x.message) for x in e.problems], 422
    return render_template("history/import.html", done=done, which=which, problems=problems,
                           columns={k: ("subject_id", *importing.KINDS[k].fields) for k in importing.KINDS},
                           required=importing.REQUIRED, routes=conmeds.ROUTES), status


@bp.post("/ae/<int:ae_id>/treatments")
@requires("ae.amend")
def ae_treatments(ae_id):
    try:
        treatments.set_for_ae(get_db(), ae_id, request.form.getlist("treatment_given"), actor=g.user, now=now(),
                              reason=request.form.get("reason") or None)
        flash("Treatment given saved; the change is in the AE's audit trail.", "success")
    except InvalidInput as e:
        flash("Not saved: " + "; ".join(f"{k} {v}" for k, v in e.fields.items()), "error")
    return redirect(url_for("ae.detail", ae_id=ae_id) + "#treatment-given")


@bp.app_context_processor
def _history_globals():
    """history_panel(p) for the participant page; ae_treatment_panel(ae) for the AE page and form."""
    def history_panel(p: dict) -> dict:
        db = get_db()
        by_conmed = treatments.ae_ids_by_conmed(db, p["subject_id"])
        aes = {a["id"]: a for a in adverse_events.list_aes(db, g.get("user"), {"subject_id": p["subject_id"]})}
        cms = records.list_for(db, conmeds.KIND, p["subject_id"], user=g.get("user"), include_entered_in_error=True)
        for c in cms:
            c["aes"] = [aes[i] for i in by_conmed.get(c["id"], []) if i in aes]
        return {"conmeds": cms,
                "history": records.list_for(db, medical_history.KIND, p["subject_id"], user=g.get("user"),
                                            include_entered_in_error=True)}

    def ae_treatment_panel(ae: dict | None, subject_id: str | None = None) -> dict:
        db = get_db()
        sid = ae["subject_id"] if ae else subject_id
        linked = [c["id"] for c in treatments.for_ae(db, ae["id"])] if ae else []
        return {"offered": records.list_for(db, conmeds.KIND, sid, user=g.get("user")), "linked": linked}

    return {"history_panel": history_panel, "ae_treatment_panel": ae_treatment_panel,
            "route_label": lambda code: dict(choices("route")).get(code, code or "")}
