"""The WSGI entry point for production servers: `gunicorn --preload 'safety_service.wsgi:app'`.

The app is created once in the master process and its templates compiled there (web/warmup.py), so every forked
worker starts warm. The scheduler never runs here: one `safety scheduler` process does (docs/DEPLOYMENT.md).
"""
from __future__ import annotations

from . import create_app
from .web.warmup import warm

app = create_app()
warm(app)
