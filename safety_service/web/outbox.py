"""The mail outbox for admins: what was queued, sent, retried or failed, and each message as its recipient sees it.

With no SMTP host configured (the demo) mail stays here, so this page is where the alert and digest mails are read.
"""
from __future__ import annotations


from flask import Blueprint, current_app, make_response, render_template, request

from ..domain import outbox
from ..domain.errors import InvalidInput
from .context import get_db, local
from .guard import requires

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

# The HTML part is shown as its own sandboxed document: no script, no form, no request may leave it.
HTML_PART_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@bp.get("/")
@requires("outbox.view")
def index():
    status = request.args.get("status") or None
    errors, messages = {}, []
    try:
        messages = outbox.list_messages(get_db(), status=status, recipient=request.args.get("recipient") or None)
    except InvalidInput as e:
        errors = e.fields
    return render_template("outbox/index.html", messages=messages, counts=outbox.status_counts(get_db()),
                           status=status or "", statuses=outbox.STATUSES, errors=errors, local=local,
                           smtp_host=current_app.config["SMTP_HOST"]), (422 if errors else 200)


@bp.get("/<int:outbox_id>")
@requires("outbox.view")
def message(outbox_id):
    return render_template("outbox/message.html", m=outbox.get(get_db(), outbox_id), local=local)


@bp.get("/<int:outbox_id>/html")
@requires("outbox.view")
def html_part(outbox_id):
    response = make_response(outbox.get(get_db(), outbox_id)["body_html"])
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = HTML_PART_POLICY
    return response
