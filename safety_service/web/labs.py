"""Lab pages: enter a result, import a CSV, dismiss a suggested AE; the lab section of the participant page."""
from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..clock import local_text, parse_datetime
from ..domain import labs, participants
from ..domain.egfr import g_stage
from ..domain.numbers import number
from ..domain.errors import Conflict, InvalidInput
from ..domain.corrections.plausibility import NeedsConfirmation
from ..domain.labs_import import ImportRefused, import_labs
from ..domain.units import ANALYTES
from .context import get_db, now, rulebook, study, tz
from .guard import requires

bp = Blueprint("labs", __name__)


def _local(text: str) -> str:
    """A stored instant in the study's zone with its abbreviation, as on every page (clock.local_text)."""
    return local_text(text, tz())


def shown(value: float | None) -> str:
    """A canonical value as a person reads it: 3 significant figures or one decimal, never 1.89027149321."""
    if value is None:
        return ""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def ae_form_url(offer: dict) -> str:
    """The AE form (the AE module's, /participants/<sid>/ae/new) pre-filled with term, grade and onset."""
    query = urlencode({"term": offer["term"], "grade": offer["grade"], "onset": offer["onset"],
                       "lab_id": offer["lab_id"]})
    return f"/participants/{offer['subject_id']}/ae/new?{query}"


def lab_panel(p: dict) -> dict:
    """What the participant page's lab section shows: the series, latest KDIGO stages, open AE offers."""
    db = get_db()
    results = [dict(r, label=ANALYTES[r["analyte"]].label, collected_local=_local(r["collected_at"]),
                    value_si_shown=shown(r["value_si"]))
               for r in labs.stored_series(db, p["id"], include_errors=True)]  # shown struck through, never hidden
    egfrs = [r["egfr"] if r["analyte"] == "creatinine" else r["value_si"] for r in results
             if r["status"] == "valid" and (r["analyte"] == "egfr" or (r["analyte"] == "creatinine" and r["egfr"] is not None))]
    uacrs = [r for r in results if r["analyte"] == "uacr" and r["status"] == "valid"]
    offers = [dict(o, form_url=ae_form_url(o)) for o in labs.open_offers(db, p["subject_id"])]
    pending = [dict(x, confirm_from_local=_local(x["confirm_from"].isoformat())[:10])
               for x in labs.pending_confirmations(db, p, rulebook().lab_rules, now())]
    return {"results": results, "offers": offers, "pending": pending,
            "latest_egfr": number(egfrs[-1], "egfr") if egfrs else None, "g_stage": g_stage(egfrs[-1]) if egfrs else None,
            "latest_uacr": number(uacrs[-1]["value_si"], "uacr") if uacrs else None,
            "a_stage": labs.uacr_stage(uacrs[-1]) if uacrs else None}


@bp.app_context_processor
def _lab_globals():
    return {"lab_panel": lab_panel}


def _form_page(p, form, errors, status=200, confirm=False):
    visits = [*labs.EXTRA_VISITS, *(v.code for v in study().visits)]
    choices = labs.analyte_choices()
    # The unit stays selected as entered, even one the analyte refuses, so the nurse sees what was refused.
    chosen_in = next((name for name, _label, units in choices if name == form.get("analyte")
                      and form.get("unit") in units), None) or next(
        (name for name, _label, units in choices if form.get("unit") in units), None)
    return render_template("labs/new.html", p=p, form=form, errors=errors, analytes=choices, unit_group=chosen_in,
                           visits=visits, tz=tz(), confirm=confirm), status


@bp.route("/participants/<subject_id>/labs/new", methods=["GET", "POST"])
@requires("lab.create")
def lab_new(subject_id):
    db = get_db()
    p = participants.get(db, subject_id, user=g.user)
    # GET may be pre-filled ("correct this value" on a result's page: analyte, unit, sample time, visit).
    form = request.form.to_dict() if request.method == "POST" else {
        k: request.args.get(k, "") for k in ("analyte", "unit", "collected_at", "visit", "value", "corrects")}
    if request.method == "GET":
        return _form_page(p, form, {})
    try:
        done = labs.record(db, subject_id, form, rules=rulebook().lab_rules, study=study(), tz=tz(), user=g.user,
                           source="form", now=now(), plausibility=rulebook().plausibility)
    except NeedsConfirmation as e:  # the warning and a box to confirm it (issue 12)
        return _form_page(p, form, {"value": "failed the study's plausibility checks: check it, or confirm it below"},
                          422, confirm=e.warnings)
    except InvalidInput as e:
        return _form_page(p, form, e.fields, 422)
    except Conflict as e:
        return _form_page(p, form, {**e.fields, "collected_at": e.message}, 409)
    lab = done.lab
    if done.duplicate:
        flash(f"This {lab['analyte']} result was already stored (same sample, same value); nothing was added.", "info")
    else:
        text = f"{ANALYTES[lab['analyte']].label} {lab['value']:g} {lab['unit']} saved."
        if lab["egfr"] is not None:
            text += f" eGFR {lab['egfr']:g} mL/min/1.73 m² (CKD-EPI 2021, KDIGO {g_stage(lab['egfr'])})."
        if lab["ctcae_grade"]:
            text += f" CTCAE v5.0: {lab['ctcae_term']} grade {lab['ctcae_grade']}."
        if done.breaches:
            text += f" Safety rules breached: {', '.join(done.breaches)} (the safety officer is alerted)."
        flash(text, "success")
    return redirect(url_for("pages.participant_detail", subject_id=subject_id) + "#labs")


@bp.post("/labs/<int:lab_id>/dismiss-offer")
@requires("lab.create")
def offer_dismiss(lab_id):
    db = get_db()
    try:
        offer = labs.dismiss_offer(db, lab_id, reason=request.form.get("reason", ""), user=g.user, now=now())
        flash(f"Suggested AE {offer['term']} grade {offer['grade']} dismissed; the reason is in the audit trail.",
              "success")
        subject_id = offer["subject_id"]
    except (InvalidInput, Conflict) as e:
        flash("Not dismissed: " + ("; ".join(f"{k} {v}" for k, v in e.fields.items()) or e.message), "error")
        subject_id = request.form.get("subject_id", "")
    if not subject_id:
        return redirect(url_for("pages.participant_list"))
    return redirect(url_for("pages.participant_detail", subject_id=subject_id) + "#labs")


@bp.route("/labs/import", methods=["GET", "POST"])
@requires("lab.import")
def lab_import():
    report, problems, status = None, [], 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problems, status = [("-", "file", "choose a CSV file to upload")], 422
        else:
            try:
                text = upload.read().decode("utf-8-sig")
                report = import_labs(get_db(), text, rules=rulebook().lab_rules, study=study(), tz=tz(), user=g.user,
                                     actor=g.user["email"], now=now(), plausibility=rulebook().plausibility)
            except UnicodeDecodeError:
                problems, status = [("-", "file", "is not UTF-8 text; save it as CSV UTF-8")], 422
            except ImportRefused as e:
                problems, status = [(p.row, p.column, p.message) for p in e.problems], 422
    return render_template("labs/import.html", report=report, problems=problems, analytes=labs.analyte_choices(),
                           tz=tz()), status
