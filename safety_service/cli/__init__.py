"""The `safety` command line (also `flask --app safety_service ...`): the same domain functions as the web app.

Each command exits 0 on success and non-zero with a one-line error on bad input.
"""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from ..clock import Clock, FixedClock
from ..db import connect
from ..domain import audit, users
from ..domain.errors import DomainError
from ..domain.permissions import ROLES


def app_db():
    return connect(current_app.config["DATABASE"])


def clock_option(f):
    """`--now ISO8601`: run as of that instant (default: the real clock)."""
    return click.option("--now", "now_text", default=None, metavar="ISO8601",
                        help="Run as of this instant (with a UTC offset).")(f)


def clock_from(now_text: str | None) -> Clock:
    if not now_text:
        return current_app.extensions["clock"]
    try:
        return FixedClock(now_text)
    except ValueError as e:
        raise click.BadParameter(f"{e}", param_hint="--now") from None


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or migrate the database (idempotent)."""
    from .. import migrations
    db = app_db()
    applied = migrations.apply(db)
    total = len(migrations.migration_set().applied(db))
    click.echo(f"database {current_app.config['DATABASE']}: {len(applied)} migrations applied now, {total} in all")


@click.group("user")
def user_group():
    """Manage user accounts."""


@user_group.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--site", default=None)
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_add(email, role, site, name, password_stdin):
    """Add a user with a role (nurses and investigators belong to a site)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    if site and site not in current_app.extensions["rulebook"].study.site_codes:
        raise click.BadParameter(f"unknown site {site!r}", param_hint="--site")
    try:
        u = users.create(app_db(), email=email, role=role, site=site, name=name, password=password,
                         now=current_app.extensions["clock"].now(), actor="cli")
    except users.UserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"user {u['email']} ({u['role']}{', site ' + u['site'] if u['site'] else ''}) created")


@click.group("token")
def token_group():
    """API tokens."""


@token_group.command("create")
@click.argument("email")
@click.option("--days", default=users.TOKEN_DAYS, show_default=True, type=click.IntRange(1, 3650),
              help="Days until the token expires.")
@with_appcontext
def token_create(email, days):
    """Print a new API token for the user (shown once, stored hashed); it expires after --days."""
    try:
        click.echo(users.create_token(app_db(), email, now=current_app.extensions["clock"].now(), actor="cli",
                                      days=days))
    except users.UserError as e:
        raise click.ClickException(str(e)) from None


@token_group.command("list")
@click.argument("email")
@with_appcontext
def token_list(email):
    """The user's tokens, newest first: id, first characters, created, expires, state (never the token)."""
    db = app_db()
    user = users.by_email(db, email)
    if user is None:
        raise click.ClickException(f"email: no such user {email}")
    for t in users.tokens_of(db, user["id"], now=current_app.extensions["clock"].now()):
        click.echo(f"{t['id']:>5}  {t['prefix']}…  created {t['created_at']}  expires {t['expires_at'] or 'never'}  "
                   f"{t['state']}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--reason", default="", help="Why (recorded in the audit trail).")
@with_appcontext
def token_revoke(token_id, reason):
    """Revoke a token at once (its id from `safety token list`)."""
    try:
        t = users.revoke_token(app_db(), token_id, actor="cli", now=current_app.extensions["clock"].now(),
                               reason=reason)
    except users.UserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"token {t['id']} ({t['prefix']}…) revoked")


@click.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
@click.option("--anchor", "anchor_text", default=None, metavar="ID:HASH",
              help="An anchor printed earlier (export, digest, `safety audit anchor`): fail if the trail was cut "
                   "short or rebuilt after it.")
@with_appcontext
def audit_verify(anchor_text):
    """Check the keyed hash chain and the current AE and lab rows; exit 1 naming the first problem."""
    try:
        result = audit.verify(app_db(), anchor=anchor_text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--anchor") from None
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


@audit_group.command("anchor")
@with_appcontext
def audit_anchor():
    """Print the chain's head as ID:HASH: keep it (it is also in every export and digest) to check later."""
    click.echo(audit.anchor(app_db()))


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(target: Path):
    """An online, consistent copy of the database (SQLite backup API; writers may continue meanwhile)."""
    if target.exists():
        raise click.ClickException(f"{target} exists; choose a new file")
    src = sqlite3.connect(current_app.config["DATABASE"])
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if check != "ok":
        raise click.ClickException(f"backup failed its integrity check: {check}")
    click.echo(f"backup written to {target} (integrity ok)")


@click.command("demo")
@click.option("--seed", default=20261125, show_default=True)
@with_appcontext
def demo(seed):
    """Load the synthetic demo study into an empty database and print the demo accounts."""
    from ..demo import load_demo
    try:
        accounts = load_demo(app_db(), current_app.extensions["rulebook"], current_app.config,
                             now=current_app.extensions["clock"].now(), seed=seed)
    except DomainError as e:
        raise click.ClickException(str(e)) from None
    for a in accounts:
        click.echo(f"{a['role']:15} {a['email']:32} {a['password']}")


COMMANDS = [init_db, user_group, token_group, audit_group, backup, demo]
# Commands of other areas, as "module:attribute" (a command or a list of commands). Imported when the app
# registers them, not at import time: those modules import this one for app_db and the --now option.
AREA_COMMANDS = [
    "safety_service.cli.import_labs:import_group",  # `safety import labs`
    "safety_service.cli.import_history:import_group",  # adds `safety import conmeds|medical-history`
    "safety_service.cli.jobs:JOB_COMMANDS",  # `safety check`, `mail send`, `digest`, `scheduler`
    "safety_service.cli.exports:export_group",  # `safety export ae|audit|sdtm|queries`
    "safety_service.cli.export_odm:export_group",  # adds `safety export odm`
    "safety_service.cli.export_cioms:export_group",  # adds `safety export cioms`
    "safety_service.cli.export_screening:export_group",  # adds `safety export screening-log`
]


def all_commands() -> list[click.Command]:
    import importlib

    commands = list(COMMANDS)
    for ref in AREA_COMMANDS:
        module, attr = ref.split(":")
        found = getattr(importlib.import_module(module), attr)
        commands.extend(found if isinstance(found, list) else [found])
    return commands


def register(app: Flask) -> None:
    for command in all_commands():
        app.cli.add_command(command)


class SafetyGroup(FlaskGroup):
    """`safety --help` lists the service's own commands first; Flask's development commands come after them."""

    FLASK_COMMANDS = ("routes", "run", "shell")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for command in all_commands():  # known without the app: `safety --help` need not build it (about 1 s)
            self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Our commands and Flask's own, without loading the app (FlaskGroup would, for app.cli's commands: the
        same ones, registered there by create_app for `flask --app safety_service`)."""
        return sorted(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        found = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        found = [(name, cmd) for name, cmd in found if cmd is not None and not cmd.hidden]
        for title, group in (("Commands", [c for c in found if c[0] not in self.FLASK_COMMANDS]),
                             ("Flask's development commands (use run.py or make run to serve)",
                              [c for c in found if c[0] in self.FLASK_COMMANDS])):
            if group:
                limit = formatter.width - 6 - max(len(name) for name, _ in group)
                with formatter.section(title):
                    formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in group])


def main() -> None:
    """Entry point of the `safety` console script."""
    from .. import create_app
    from ..rulefiles import RulesError
    from ..settings import SettingsError

    group = SafetyGroup(create_app=lambda: create_app(), add_default_commands=True, help="The trial safety service.")
    try:
        group.main(prog_name="safety")
    except (RulesError, SettingsError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)

