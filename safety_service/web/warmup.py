"""Work a web worker would otherwise do on its first request of each page, done once before the workers fork.

Jinja compiles a template the first time it renders; with 74 templates that is about 1.4 s of CPU per worker,
paid by the first users of each page (the slowest 1 % of requests under load, benchmarks/bench_http.py). Compiled
in the master process (gunicorn --preload), the templates are shared by every forked worker.
"""
from __future__ import annotations

from flask import Flask

TEMPLATE_SUFFIXES = (".html", ".txt", ".xml")


def warm(app: Flask) -> int:
    """Compile every template of the app into its Jinja cache (Jinja keeps 400: all of ours); returns how many."""
    env = app.jinja_env
    names = [name for name in env.list_templates() if name.endswith(TEMPLATE_SUFFIXES)]
    for name in names:
        env.get_template(name)
    return len(names)
