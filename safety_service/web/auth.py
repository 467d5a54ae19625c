"""Sign-in, sign-out and the user's own password change, on server-side sessions (web/sessions.py)."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from ..domain import audit, users
from ..domain.security import passwords
from . import sessions as web_sessions
from .context import get_db, now
from .guard import public, requires

bp = Blueprint("auth", __name__)


@bp.record_once
def _lockout_settings(state):
    """SAFETY_MAX_FAILED_LOGINS and SAFETY_LOCKOUT_MINUTES for every caller of the domain's lockout; behind
    SAFETY_PROXY_HOPS proxies the client address comes from X-Forwarded-For (else every sign-in would share the
    proxy's address, and pausing it would pause everyone)."""
    app = state.app
    users.configure_lockout(app.config["MAX_FAILED_LOGINS"], app.config["LOCKOUT_MINUTES"])
    if app.config.get("PROXY_HOPS"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"], x_proto=app.config["PROXY_HOPS"])


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would let a phishing link borrow our sign-in page. No
    # control characters (CR/LF would split the Location header) and no backslash (browsers read "/\" as "//").
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ord(c) < 32 or ord(c) == 127 for c in target) and not urlparse(target).netloc):
        return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    if request.method == "POST":
        cfg = current_app.config
        user, error = users.authenticate(get_db(), request.form.get("email", ""), request.form.get("password", ""),
                                         now=now(), client=web_sessions.client_address(),
                                         max_failed=cfg["MAX_FAILED_LOGINS"], lockout_minutes=cfg["LOCKOUT_MINUTES"])
        if user:
            web_sessions.begin(user)
            if user["must_change_password"]:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, email=request.form.get("email", "")), (401 if error else 200)


@bp.post("/logout")
@requires("home.view")
def logout():
    audit.record(get_db(), actor=g.user["email"], action="sign_out", entity="user", entity_id=g.user["id"], at=now())
    web_sessions.finish("signed out")
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("account.password")
def change_password():
    """Change one's own password; forced after an admin reset. Other sessions of the account end."""
    errors = {}
    if request.method == "POST":
        form = request.form
        if form.get("password", "") != form.get("confirm", ""):
            errors["confirm"] = "does not repeat the new password"
        else:
            try:
                users.change_password(get_db(), g.user["id"], form.get("current", ""), form.get("password", ""),
                                      now=now(), keep_session=web_sessions.current_token())
                flash("Password changed. Your other sessions were signed out.", "success")
                return redirect(url_for("pages.home"))
            except users.UserError as e:
                errors[e.field] = str(e).split(": ", 1)[1]
    return render_template("account/password.html", errors=errors, forced=bool(g.user.get("must_change_password")),
                           min_length=passwords.MIN_LENGTH), (422 if errors else 200)
