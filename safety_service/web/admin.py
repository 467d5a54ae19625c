"""Account administration for admins: list, add, deactivate or reactivate (accounts are never deleted); unlock,
set a temporary password, change a role and revoke API tokens, each audited with a reason."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..clock import parse_datetime
from ..db import rows
from ..domain import users
from ..domain.errors import NotFound
from ..domain.permissions import ROLES
from ..domain.security import sessions
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


# --- one account: unlock, temporary password, role, API tokens (issue 15) ---------------------------------------

def _account(user_id: int) -> dict:
    user = users.get(get_db(), user_id)
    if user is None:
        raise NotFound(f"no account {user_id}")
    return user


@bp.get("/users/<int:user_id>")
@requires("user.manage")
def user_detail(user_id):
    """An account's state (lock, sign-in pauses, forced change, sessions) and its API tokens, with the actions."""
    db = get_db()
    user = users.public(_account(user_id))
    pauses = rows(db, "SELECT client, failures, pauses, paused_until FROM sign_in_throttle WHERE email = ? "
                      "ORDER BY last_failed_at DESC", (user["email"],))
    return render_template("admin/user.html", u=user, tokens=users.tokens_of(db, user_id, now=now()), pauses=pauses,
                           locked=bool(user["locked_until"]) and parse_datetime(user["locked_until"]) > now(),
                           sessions=sessions.standing(db, user_id), sites=study().site_codes, roles=ROLES)


def _act(user_id: int, done: str, action) -> object:
    """Run one audited account change; flash what happened or the refusal, back to the account page."""
    try:
        action()
        flash(done, "success")
    except users.UserError as e:
        flash(str(e), "error")
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/unlock")
@requires("user.manage")
def user_unlock(user_id):
    u = _account(user_id)
    return _act(user_id, f"{u['email']} unlocked: the account lock and every sign-in pause are lifted.",
                lambda: users.unlock(get_db(), user_id, actor=g.user, reason=request.form.get("reason", ""), now=now()))


@bp.post("/users/<int:user_id>/password")
@requires("user.manage")
def user_reset_password(user_id):
    u = _account(user_id)
    return _act(user_id, f"Temporary password set for {u['email']}: they choose their own at the next sign-in.",
                lambda: users.reset_password(get_db(), user_id, request.form.get("password", ""), actor=g.user,
                                             reason=request.form.get("reason", ""), now=now()))


@bp.post("/users/<int:user_id>/role")
@requires("user.manage")
def user_role(user_id):
    u = _account(user_id)
    return _act(user_id, f"Role of {u['email']} changed.",
                lambda: users.change_role(get_db(), user_id, request.form.get("role", ""), request.form.get("site"),
                                          actor=g.user, reason=request.form.get("reason", ""), now=now(),
                                          sites=study().site_codes))


@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
@requires("user.manage")
def token_revoke(user_id, token_id):
    u = _account(user_id)
    if not any(t["id"] == token_id for t in users.tokens_of(get_db(), user_id, now=now())):
        raise NotFound(f"no token {token_id} of {u['email']}")
    return _act(user_id, f"Token {token_id} of {u['email']} revoked.",
                lambda: users.revoke_token(get_db(), token_id, actor=g.user["email"], now=now(),
                                           reason=request.form.get("reason", "")))
