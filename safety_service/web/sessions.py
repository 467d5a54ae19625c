"""The web session: the signed cookie holds only a session id (and the CSRF token); domain/security/sessions.py
holds whether it still stands. Also the gate that keeps a user with a temporary password on the change page."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, redirect, request, session, url_for

from ..domain.security import sessions
from .context import get_db, now

# Where a user who must change the password may still go: the change page, sign-out, our static files.
OPEN_DURING_CHANGE = {"auth.change_password", "auth.logout", "static"}


def client_address() -> str:
    """The client's address as the WSGI server saw it (behind a proxy: configure it to pass the real one)."""
    return (request.remote_addr or "unknown")[:64]


def load_user() -> dict | None:
    """The user of a standing session, or None; an idle session ends here and is remembered for the flash."""
    token = session.get("sid")
    if token is None:
        return None
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    user, why = sessions.resume(get_db(), token, now=now(), idle=idle)
    if user is None:
        session.clear()
        if why == "idle":
            session["expired"] = True
    return user


def begin(user: dict) -> None:
    """A fresh cookie and a new server-side session at sign-in (no fixation)."""
    session.clear()
    session["sid"] = sessions.start(get_db(), user["id"], client=client_address(), now=now())
    session.permanent = False


def finish(reason: str) -> None:
    sessions.end(get_db(), session.get("sid"), reason=reason, now=now())
    session.clear()


def current_token() -> str | None:
    return session.get("sid")


def password_change_gate():
    """A user signed in with a password an admin set must choose their own before anything else."""
    user = g.get("user")
    if user and g.get("auth") == "session" and user.get("must_change_password") \
            and request.endpoint not in OPEN_DURING_CHANGE:
        if request.path.startswith("/api/"):
            from . import api_error
            return api_error(403, "password_change_required", "change your password first")
        return redirect(url_for("auth.change_password"))
    return None
