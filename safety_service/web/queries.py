"""Query pages: the list per role (site roles their site's; others all) with filters and paging, one query with
its thread and the actions the user may take, raising a query from a record, answering (in words, or by amending
the AE in the same step), closing, reopening, and the query log download. The badges on the AE, lab, visit and
participant pages come from the template globals at the end."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..domain import adverse_events, labels, queries
from ..domain.ae_rules import ENTERED
from ..domain.errors import Conflict, InvalidInput
from ..domain.queries.amend import answer_by_amending_ae
from ..domain.queries.targets import find
from ..exports import query_log
from .ae import form_payload, form_values
from .api_queries import visit_codes
from .context import get_db, local, now, rulebook, study, tz
from .exports import send
from .guard import requires
from .openapi import add_paths, err, query

bp = Blueprint("queries", __name__)

PAGE_SIZE = 25
LIST_FILTERS = ("status", "site", "subject_id", "entity", "origin")


@bp.get("/queries")
@requires("query.view")
def index():
    f = {k: (request.args.get(k) or "").strip() for k in LIST_FILTERS}
    try:
        page = max(int(request.args.get("page") or 1), 1)
    except ValueError:
        page = 1
    errors, found, total = {}, [], 0
    try:
        found, total = queries.search(get_db(), g.user, {**{k: v for k, v in f.items() if v},
                                                         "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE})
    except InvalidInput as e:
        errors = e.fields
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    args = {k: v for k, v in f.items() if v}
    return render_template("queries/list.html", queries=found, total=total, page=page, pages=pages, filters=f,
                           args=args, errors=errors, statuses=queries.STATUSES, entities=queries.ENTITIES,
                           sites=study().site_codes, by_site=queries.open_by_site(get_db(), g.user),
                           local=local), (422 if errors else 200)


def _detail(query_id, errors: dict | None = None, form: dict | None = None, status: int = 200):
    db = get_db()
    q = queries.get(db, query_id, user=g.user)
    target = find(db, q["entity"], q["entity_id"], visit_codes=visit_codes(), user=None)
    return render_template("queries/detail.html", q=q, thread=queries.thread(db, q["id"]), target=target,
                           errors=errors or {}, form=form or {}, local=local,
                           may_review=q["raised_by"] == g.user["email"] or g.user["role"] == "safety_officer",
                           may_answer=q["raised_by"] != g.user["email"]), status


@bp.get("/queries/<int:query_id>")
@requires("query.view")
def detail(query_id):
    return _detail(query_id)


def _field_choices(entity: str) -> list[tuple[str, str]]:
    return [(f, f.replace("_", " ")) for f in queries.FIELDS.get(entity, ())]


@bp.get("/queries/new")
@requires("query.raise")
def new():
    form = {k: request.args.get(k, "") for k in ("entity", "entity_id", "field")}
    return _new_page(form, {})


def _new_page(form: dict, errors: dict, status: int = 200):
    target = None
    if form.get("entity") in queries.ENTITIES and form.get("entity_id"):
        try:
            target = find(get_db(), form["entity"], form["entity_id"], visit_codes=visit_codes(), user=g.user)
        except Exception:  # noqa: BLE001 - an unknown record is shown as a form error on submit
            target = None
    return render_template("queries/new.html", form=form, errors=errors, target=target,
                           entities=queries.ENTITIES, fields=_field_choices(form.get("entity", ""))), status


@bp.post("/queries")
@requires("query.raise")
def create():
    form = {k: request.form.get(k, "") for k in ("entity", "entity_id", "field", "text")}
    try:
        q = queries.raise_query(get_db(), form, user=g.user, now=now(), visit_codes=visit_codes())
    except InvalidInput as e:
        return _new_page(form, e.fields, 422)
    flash(f"Query Q{q['id']} raised on {q['label']}{' (' + q['field'].replace('_', ' ') + ')' if q['field'] else ''}:"
          " the site will answer it.", "success")
    return redirect(url_for("queries.detail", query_id=q["id"]))


def _act(query_id, action, done: str, field: str):
    text = request.form.get(field, "")
    try:
        action(get_db(), query_id, user=g.user, now=now(), **{field: text})
    except InvalidInput as e:
        return _detail(query_id, errors=e.fields, form={field: text}, status=422)
    except Conflict as e:
        flash(e.message, "error")
        return redirect(url_for("queries.detail", query_id=query_id))
    flash(f"Query Q{query_id} {done}.", "success")
    return redirect(url_for("queries.detail", query_id=query_id))


@bp.post("/queries/<int:query_id>/answer")
@requires("query.answer")
def answer(query_id):
    return _act(query_id, queries.answer, "answered", "text")


@bp.post("/queries/<int:query_id>/close")
@requires("query.close")
def close(query_id):
    return _act(query_id, queries.close, "closed", "comment")


@bp.post("/queries/<int:query_id>/reopen")
@requires("query.close")
def reopen(query_id):
    return _act(query_id, queries.reopen, "reopened: it waits for the site's answer again", "comment")


AMEND_CHOICES = {
    "relatedness_product": labels.choices("relatedness_product"),
    "relatedness_procedure": labels.choices("relatedness_procedure"),
    "outcome": labels.choices("outcome"), "action_taken": labels.choices("action_taken"),
    "seriousness": labels.choices("seriousness"),
}


@bp.route("/queries/<int:query_id>/amend", methods=["GET", "POST"])
@requires("query.answer")
def amend(query_id):
    """Answer an AE query by amending the AE: the changed fields, the version shown and the answer, one step."""
    db = get_db()
    q = queries.get(db, query_id, user=g.user)
    if q["entity"] != "ae":
        flash("Only a query on an AE is answered by amending it here; answer in words, or correct the record "
              "on its page.", "error")
        return redirect(url_for("queries.detail", query_id=query_id))
    ae = adverse_events.get(db, int(q["entity_id"]), user=g.user)
    current = form_values(ae)
    errors, form, status = {}, dict(current), 200
    if request.method == "POST":
        form = form_payload(request.form)
        changes = {k: v for k, v in form.items() if v != current.get(k)}
        text = request.form.get("text", "")
        try:
            answer_by_amending_ae(db, query_id, text=text, changes=changes, version=request.form.get("version"),
                                  catalogue=rulebook().ctcae, study=study(), tz=tz(), user=g.user, now=now(),
                                  auto_rules=rulebook().queries)
        except InvalidInput as e:
            errors, status = e.fields, 422
            form = {**form, "text": text}
        except Conflict as e:
            flash(e.message, "error")
            return redirect(url_for("queries.detail", query_id=query_id))
        else:
            flash(f"Query Q{query_id} answered and {adverse_events.display_id(ae)} amended.", "success")
            return redirect(url_for("queries.detail", query_id=query_id))
    fields = [f for f in ENTERED if f != "subject_id"]
    if q["field"] in fields:  # the field asked about first
        fields.remove(q["field"])
        fields.insert(0, q["field"])
    return render_template("queries/amend.html", q=q, ae=ae, form=form, errors=errors, fields=fields,
                           choices=AMEND_CHOICES, display_id=adverse_events.display_id(ae)), status


@bp.get("/api/v1/exports/queries.<fmt>")
@bp.get("/exports/queries.<fmt>")
@requires("query.export")
def export(fmt):
    f = query_log.export_query_log(get_db(), fmt, request.args.to_dict(), user=g.user, actor=g.user["email"],
                                   now=now(), study_id=study().study_id)
    return send(f)


# ---------------------------------------------------------------------------------------------------- badges

def query_marks(entity: str, entity_ids) -> dict:
    """Open and answered queries per record of a kind, for the badges (scoped like the signed-in user)."""
    user = g.get("user")
    if not user:
        return {}
    return queries.on_records(get_db(), entity, list(entity_ids), user=user)


def visit_query_marks(subject_id: str, visits) -> dict:
    """query_marks for a participant's visits, keyed by visit code."""
    marks = query_marks("visit", [f"{subject_id}:{v}" for v in visits])
    return {key.rpartition(":")[2]: value for key, value in marks.items()}


def record_queries(subject_id: str) -> list[dict]:
    """Every query on a participant's records (all kinds), newest first, for the participant page."""
    user = g.get("user")
    if not user:
        return []
    return queries.search(get_db(), user, {"subject_id": subject_id, "limit": 200})[0]


def queries_on(entity: str, entity_id) -> list[dict]:
    """Every query on one record, newest first (the AE page's section)."""
    user = g.get("user")
    if not user:
        return []
    return queries.search(get_db(), user, {"entity": entity, "entity_id": str(entity_id), "limit": 200})[0]


def query_site_counts() -> list[dict]:
    """Open (waiting for the site) and answered queries per site the user may see: the dashboard's tile."""
    user = g.get("user")
    return queries.open_by_site(get_db(), user) if user else []


@bp.record_once
def _install(state) -> None:
    """Automatic queries close in the AE save that puts the record right (with this app's rules/queries.toml)."""
    from ..domain.queries import auto
    auto.install(state.app.extensions["rulebook"].queries)


@bp.app_context_processor
def _query_globals():
    return {"query_marks": query_marks, "record_queries": record_queries, "queries_on": queries_on,
            "visit_query_marks": visit_query_marks, "query_site_counts": query_site_counts}


add_paths({"/exports/queries.{fmt}": {"get": {
    "summary": "The query log (csv or xlsx) with age and turnaround, audited",
    "parameters": [{"name": "fmt", "in": "path", "required": True,
                    "schema": {"type": "string", "enum": list(query_log.FORMATS)}},
                   query("status", {"type": "string", "enum": ["open", "answered", "closed"]}), query("subject_id"),
                   query("entity", {"type": "string", "enum": ["ae", "lab", "visit", "participant"]}),
                   query("site"), query("origin", {"type": "string", "enum": ["manual", "auto"]})],
    "responses": {"200": {"description": "The file", "headers": {
        "X-Content-SHA256": {"schema": {"type": "string"}}, "X-Export-Rows": {"schema": {"type": "integer"}}},
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}}}},
        **err(401, 403, 422)}}}})
