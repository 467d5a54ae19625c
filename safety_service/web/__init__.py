"""The web layer: who is asking (session or API token), the permission check, errors, and the blueprints."""
from __future__ import annotations

from flask import Flask, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..domain import users
# Not "alerts": the package attribute of that name is the web.alerts blueprint module once it is imported.
from ..domain.alerts import counts as alert_counts
from ..domain.errors import DomainError, Forbidden
from ..domain.permissions import allowed
from . import guard, safe_input
from . import sessions as web_sessions
from .context import close_db, get_db, local, now

# Blueprint modules, each exposing `bp`. Add yours here.
BLUEPRINTS = [
    "safety_service.web.health",
    "safety_service.web.auth",
    "safety_service.web.pages",
    "safety_service.web.api",
    "safety_service.web.ae",
    "safety_service.web.api_ae",
    "safety_service.web.api_sae",  # SAE report series, sign-off and CIOMS I over the API
    "safety_service.web.labs",
    "safety_service.web.corrections",  # lab results entered in error, participant status (issue 12)
    "safety_service.web.api_labs",
    "safety_service.web.alerts",
    "safety_service.web.outbox",
    "safety_service.web.signals",
    "safety_service.web.security",  # security headers on every response (no routes)
    "safety_service.web.resilience",  # a busy or full database answers 503 + Retry-After (no routes)
    "safety_service.web.admin",
    "safety_service.web.dashboard",
    "safety_service.web.exports",
    "safety_service.web.audit_pages",
    "safety_service.web.queries",  # data clarification queries: pages, badges, query log
    "safety_service.web.api_queries",
    "safety_service.web.api_history",  # con-meds, medical history, treatment given (issue 14)
    "safety_service.web.history",
    "safety_service.web.exports_odm",  # CDISC ODM 1.3.2 download (issue 14)
    "safety_service.web.eligibility",  # screening checklist, signed deviations, injection, screening log (issue 13)
    "safety_service.web.display",  # template filters num/cells and the label global (no routes; issue 16)
]


def is_api() -> bool:
    return request.path.startswith("/api/")


def api_error(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), status


def _load_user() -> None:
    """g.user from a Bearer token (API) or the session cookie (web UI); g.auth says which."""
    g.user, g.auth = None, None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and is_api():
        user = users.user_for_token(get_db(), header[7:].strip(), now=now())
        if user:
            g.user, g.auth = users.public(user), "token"
        return
    user = web_sessions.load_user()  # a server-side session: ended at sign-out, idle, deactivation (issue 15)
    if user:
        g.user, g.auth = users.public(user), "session"


def _app() -> Flask:
    from flask import current_app
    return current_app


def register(app: Flask) -> None:
    import importlib

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in guard, for session-authenticated writes
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the idle timeout bounds a form's life instead
    CSRFProtect(app)
    app.teardown_appcontext(close_db)
    safe_input.install(app)  # before the blueprints: 64-bit path ids, too-deep JSON (issue 15)
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(name).bp)

    @app.before_request
    def _authenticate_and_authorise():
        if request.endpoint == "static":  # our own CSS/JS files: public, else the sign-in page is unstyled
            return
        _load_user()
        guard.check()  # first: an anonymous write is 401, not a CSRF complaint
        gate = web_sessions.password_change_gate()  # a temporary password is changed before anything else
        if gate is not None:
            return gate
        guard.csrf_protect_if_session()

    @app.errorhandler(guard.Unauthenticated)
    def _unauthenticated(_e):
        if is_api():
            return api_error(401, "unauthenticated", "a valid Bearer token is required")
        if session.pop("expired", False):
            flash("You were signed out after a period of inactivity.", "info")
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))

    @app.errorhandler(DomainError)
    def _domain_error(e: DomainError):
        if is_api():
            return api_error(e.status, e.code, e.message, e.fields)
        return render_template("error.html", status=e.status, message=e.message, fields=e.fields), e.status

    @app.errorhandler(CSRFError)
    def _csrf(e):
        if is_api():
            return api_error(400, "csrf", e.description)
        return render_template("error.html", status=400, message="The form expired or was not sent from this "
                               "service (CSRF check failed). Go back, reload and try again."), 400

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if is_api():
            response = e.get_response()  # keeps headers such as Allow on 405
            response.data = api_error(e.code, e.name.lower().replace(" ", "_"), e.description)[0].get_data()
            response.content_type = "application/json"
            return response
        return render_template("error.html", status=e.code, message=e.description), e.code

    @app.context_processor
    def _template_globals():
        user = g.get("user")
        return {
            "current_user": user,
            "can": (lambda action: bool(user) and allowed(user["role"], action)),
            "open_alerts": (alert_counts(get_db(), user) if user and allowed(user["role"], "alert.view") else {}),
            "study_id": app.extensions["rulebook"].study.study_id,
            "local": local,
        }


__all__ = ["register", "api_error", "Forbidden"]
