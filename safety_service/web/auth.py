"""Sign-in and sign-out with the session cookie."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from ..domain import audit, users
from .context import get_db, now
from .guard import public, requires

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect would let a phishing link borrow our sign-in page.
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    if request.method == "POST":
        cfg = current_app.config
        user, error = users.authenticate(get_db(), request.form.get("email", ""), request.form.get("password", ""),
                                         now=now(), max_failed=cfg["MAX_FAILED_LOGINS"],
                                         lockout_minutes=cfg["LOCKOUT_MINUTES"])
        if user:
            session.clear()  # a fresh session on sign-in: no fixation
            session["uid"] = user["id"]
            session["seen"] = now().isoformat()
            session.permanent = False
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, email=request.form.get("email", "")), (401 if error else 200)


@bp.post("/logout")
@requires("home.view")
def logout():
    audit.record(get_db(), actor=g.user["email"], action="sign_out", entity="user", entity_id=g.user["id"], at=now())
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
