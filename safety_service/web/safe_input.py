"""Hostile input that used to answer 500: a path id beyond 64 bits and JSON nested too deep to parse.

Why: SQLite integers are 64-bit, so /ae/99999999999999999999999 overflowed in the driver; Python's JSON parser
recurses, so "[" x 100,000 raised RecursionError. Both are the client's mistake: 404 and 400.
"""
from __future__ import annotations

from flask import Flask, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

SQLITE_MAX_INT = 2 ** 63 - 1


class BoundedInt(IntegerConverter):
    """``<int:...>`` that matches only ids SQLite can hold: a longer one matches no route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=SQLITE_MAX_INT, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class SafeJSON(DefaultJSONProvider):
    """Parsing that answers too-deep nesting with 400, even where a view reads the body with silent=True."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise BadRequest("The JSON body is nested too deeply.") from None


def _too_large(e: OverflowError):
    """A number too large for SQLite reached a query: in a path (an id, possibly an API's string id) nothing can
    have it, 404; anywhere else the request is at fault, 400. Any other OverflowError stays a 500 (a bug)."""
    if "too large to convert to SQLite" not in str(e):
        raise e
    in_path = any(str(v).lstrip("-").isdigit() and abs(int(v)) > SQLITE_MAX_INT
                  for v in (request.view_args or {}).values())
    status, message = (404, "No such record.") if in_path else (400, "A number in the request is too large.")
    if request.path.startswith("/api/"):
        from . import api_error
        return api_error(status, "not_found" if status == 404 else "bad_request", message)
    return render_template("error.html", status=status, message=message), status


def install(app: Flask) -> None:
    """Call before any blueprint is registered: routes bind their converters when added."""
    app.url_map.converters["int"] = BoundedInt
    app.json = SafeJSON(app)
    app.register_error_handler(OverflowError, _too_large)
