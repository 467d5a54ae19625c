"""Liveness for load balancers and `make run` checks."""
from flask import Blueprint, jsonify

from .context import get_db
from .guard import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    get_db().execute("SELECT 1")
    return jsonify({"status": "ok"})
