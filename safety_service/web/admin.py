"""Account administration for admins: list, add, deactivate or reactivate (accounts are never deleted)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..domain import users
from .context import get_db, now, study
from .guard import requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@requires("user.manage")
def user_list():
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            u = users.create(get_db(), email=form.get("email", ""), role=form.get("role", ""),
                             site=form.get("site") or None, name=form.get("name", ""),
                             password=form.get("password", ""), now=now(), actor=g.user["email"])
            flash(f"Account {u['email']} created.", "success")
            return redirect(url_for("admin.user_list"))
        except users.UserError as e:
            errors = {e.field: str(e).split(": ", 1)[1]}
    return render_template("admin/users.html", users=users.list_users(get_db()), errors=errors, form=form,
                           sites=study().site_codes), (422 if errors else 200)


@bp.post("/users/<int:user_id>/active")
@requires("user.manage")
def user_active(user_id):
    try:
        u = users.set_active(get_db(), user_id, request.form.get("active") == "1", actor=g.user,
                             reason=request.form.get("reason", ""), now=now())
        flash(f"Account {u['email']} {'reactivated' if u['active'] else 'deactivated'}.", "success")
    except users.UserError as e:
        flash(str(e), "error")
    return redirect(url_for("admin.user_list"))
