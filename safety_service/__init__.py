"""The trial safety service: adverse events, labs and safety signals for NCT07396155."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import lean_imports  # noqa: F401  (first: sqlite-utils without pandas, see the module)
from flask import Flask

from .settings import PROJECT_ROOT, from_environment, resolve_paths


def create_app(config: dict[str, Any] | None = None, *, web: bool = True, rules: bool = True) -> Flask:
    """Build the app: settings (SAFETY_* environment, then ``config``), rules validated, database migrated.

    Raises RulesError (naming file, key, problem) for a bad rules file and SettingsError for a bad setting.
    Starts no threads: run.py or `safety scheduler` start the scheduler. ``web=False`` leaves out the pages and
    the API (the `safety` commands that need neither start in half the time); ``rules=False`` the study's rules
    (only for commands that read none: tokens, the audit trail, backups).
    """
    from . import cli, db as dbmod, migrations
    from .clock import Clock

    config = dict(config or {})
    instance = Path(config.pop("INSTANCE_PATH", None) or os.environ.get("SAFETY_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    app = Flask(__name__, instance_path=str(instance.resolve()), template_folder=str(PROJECT_ROOT / "templates"))
    cfg = from_environment()
    cfg["TESTING"] = False
    cfg.update(config)
    if cfg["TESTING"] and "SCHEDULER_ENABLED" not in config:
        cfg["SCHEDULER_ENABLED"] = False
    resolve_paths(cfg, Path(app.instance_path))
    app.config.update(cfg)
    app.config.update(
        MAX_CONTENT_LENGTH=cfg["MAX_UPLOAD_MB"] * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=str(cfg["BASE_URL"]).startswith("https://"),
        SESSION_COOKIE_NAME="safety_session",
    )

    clock = cfg.get("CLOCK") or Clock()
    app.extensions["clock"] = clock
    if rules:
        from .rulebook import load_rulebook
        app.extensions["rulebook"] = load_rulebook(cfg["RULES_DIR"])
    from .domain.audit import seal_legacy, use_keys
    from .settings import audit_keys
    use_keys(cfg["DATABASE"], audit_keys(cfg))  # before anything below writes an audit entry
    db = dbmod.connect(cfg["DATABASE"])
    try:
        migrations.apply(db)
        seal_legacy(db, clock.now())  # entries chained before keying (issue 15) end in a keyed one
        if rules:
            from .rulebook import record_rule_changes
            record_rule_changes(db, app.extensions["rulebook"], clock.now())
    finally:
        db.conn.close()

    if web:
        from . import web as pages
        pages.register(app)
    cli.register(app)
    if rules:  # alerts come from the rules: an app without them raises none
        from .mail.notify import install as install_mail_hook
        install_mail_hook(app)  # immediate alert mail, queued in the transaction that raises the alert
    return app
