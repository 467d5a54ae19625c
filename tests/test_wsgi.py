"""The production entry point: the app, with every template compiled before the workers fork."""
from __future__ import annotations

import subprocess
import sys

from safety_service.web.warmup import warm


def test_warm_compiles_every_template_so_a_first_render_compiles_nothing(app):
    count = warm(app)
    assert count == len([n for n in app.jinja_env.list_templates() if n.endswith((".html", ".txt", ".xml"))]) > 50
    compiled = []
    real = app.jinja_env._parse
    app.jinja_env._parse = lambda *a, **kw: compiled.append(a[1]) or real(*a, **kw)
    with app.test_request_context("/"):
        app.jinja_env.get_template("base.html")
        app.jinja_env.get_template("alerts/inbox.html")
    assert compiled == []


def test_the_wsgi_module_gives_a_warm_app(tmp_path):
    code = ("import safety_service.wsgi as w; "
            "print(type(w.app).__name__, len(w.app.jinja_env.cache))")
    env = {"SAFETY_DATABASE": str(tmp_path / "s.db"), "SAFETY_SECRET_KEY": "wsgi-test",
           "SAFETY_INSTANCE_PATH": str(tmp_path / "instance"), "SAFETY_SCHEDULER_ENABLED": "false", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    name, cached = out.stdout.split()
    assert name == "Flask" and int(cached) > 50
