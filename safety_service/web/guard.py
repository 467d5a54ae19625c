"""The one permission check every view and API route goes through.

Each view declares its action with ``@requires("participant.view")`` (an action of domain/permissions.py) or
``@public``; ``check`` runs before every request and refuses an endpoint that declares neither, so a new route
without a rule fails closed (and the route table test names it).
"""
from __future__ import annotations


from flask import current_app, g, request

from ..domain import permissions
from ..domain.errors import Forbidden

PUBLIC = "public"


class Unauthenticated(Exception):
    """No signed-in user or valid token."""


def requires(action: str):
    """Declare the action a view performs; checked by ``check`` before the view runs."""
    if action not in permissions.PERMISSIONS:
        raise KeyError(f"undeclared action {action!r}: add it to domain/permissions.py")

    def deco(view):
        view.permission = action
        return view
    return deco


def public(view):
    view.permission = PUBLIC
    return view


def endpoint_permission(endpoint: str | None) -> str | None:
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "permission", None)


def check() -> None:
    """Raise Unauthenticated or Forbidden unless g.user may perform the endpoint's action."""
    if request.endpoint is None:  # 404/405: let Flask answer
        return
    action = endpoint_permission(request.endpoint)
    if action == PUBLIC:
        return
    if action is None:
        raise Forbidden(f"endpoint {request.endpoint} declares no permission")
    if g.get("user") is None:
        raise Unauthenticated()
    if not permissions.allowed(g.user["role"], action):
        raise Forbidden(f"a {g.user['role']} may not do {action}")


def csrf_protect_if_session() -> None:
    """CSRF for every unsafe request authenticated by the session cookie; token-authenticated API calls carry
    no ambient credential, so they need none."""
    if request.method in ("GET", "HEAD", "OPTIONS") or g.get("auth") == "token":
        return
    current_app.extensions["csrf"].protect()  # raises CSRFError (400)
