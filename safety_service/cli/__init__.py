"""The `safety` command line (also `flask --app safety_service ...`): the same domain functions as the web app.

Each command exits 0 on success and non-zero with a one-line error on bad input.
"""
from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

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
# The commands of other areas: name -> (the modules that define or join it, the attribute, its one-line help).
# A module is imported only when its command runs or is asked for (`safety check` imports no export code,
# `safety --help` none at all); those modules import this one for app_db and the --now option.
# tests/test_cli_lazy.py checks each help line against the command's own.
AREA_COMMANDS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "import": (("safety_service.cli.import_labs", "safety_service.cli.import_history"), "import_group",
               "Import data files."),
    "check": (("safety_service.cli.jobs",), "check_command",
              "Run every scheduled check once (overdue visits, SAE clocks, AEs, lab rules, stopping rule); "
              "print what it raised."),
    "mail": (("safety_service.cli.jobs",), "mail_group", "The mail outbox."),
    "digest": (("safety_service.cli.jobs",), "digest_command",
               "Build and queue today's digest for each recipient (one per person per day), then deliver."),
    "scheduler": (("safety_service.cli.jobs",), "scheduler_command",
                  "Run the scheduled jobs in this process (beside gunicorn workers, which run none)."),
    "export": (("safety_service.cli.exports", "safety_service.cli.export_odm", "safety_service.cli.export_cioms",
                "safety_service.cli.export_screening"), "export_group",
               "Export listings and the audit trail (each export is recorded in the audit trail)."),
}
FLASK_COMMANDS = ("routes", "run", "shell")  # Flask's development commands: the only ones that need the web app
RULELESS_COMMANDS = ("token", "audit", "backup")  # read no rules file: start without validating them


def area_command(name: str) -> click.Command:
    """Import the modules of an area command (the first defines it, the others add their subcommands to it)."""
    import importlib

    modules, attr, _help = AREA_COMMANDS[name]
    loaded = [importlib.import_module(m) for m in modules]
    return getattr(loaded[0], attr)


class AreaCommands(click.Group):
    """A group that knows the area commands by name and imports one only when it is asked for."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Our own commands first: FlaskGroup's lookup would scan every installed package for plugins (~30 ms)."""
        command = self.commands.get(name)
        if command is None and name in AREA_COMMANDS:
            command = area_command(name)
            self.add_command(command)
        return command if command is not None else super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(AREA_COMMANDS))

    def help_line(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """The help line, from the table for an area command not imported yet (listing must not import it)."""
        if name not in self.commands and name in AREA_COMMANDS:
            return click.Command(name, help=AREA_COMMANDS[name][2]).get_short_help_str(limit)
        command = self.get_command(ctx, name)
        return None if command is None or command.hidden else command.get_short_help_str(limit)


class AppCommands(AreaCommands, AppGroup):
    """``app.cli`` for `flask --app safety_service ...`: the same commands, imported when one is run."""


def register(app: Flask) -> None:
    commands = AppCommands(app.cli.name)
    commands.commands.update(app.cli.commands)  # any a blueprint added
    for command in COMMANDS:
        commands.add_command(command)
    app.cli = commands


class SafetyGroup(AreaCommands, FlaskGroup):
    """`safety --help` lists the service's own commands first; Flask's development commands come after them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for command in COMMANDS:  # known without the app: `safety --help` need not build it (about 1 s)
            self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Our commands and Flask's own, without loading the app (FlaskGroup would, for app.cli's commands: the
        same ones, registered there by create_app for `flask --app safety_service`)."""
        return sorted(set(self.commands) | set(AREA_COMMANDS))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        for title, group in (("Commands", [n for n in names if n not in FLASK_COMMANDS]),
                             ("Flask's development commands (use run.py or make run to serve)",
                              [n for n in names if n in FLASK_COMMANDS])):
            if not group:
                continue
            limit = formatter.width - 6 - max(len(name) for name in group)
            rows = [(name, self.help_line(ctx, name, limit)) for name in group]
            with formatter.section(title):
                formatter.write_dl([(name, text) for name, text in rows if text is not None])


def _create_app_for(ctx_name: str | None) -> Flask:
    """The app a command needs: the web pages only for Flask's development commands (half the start-up), the rules
    for all but the few that read none."""
    from .. import create_app
    return create_app(web=ctx_name in FLASK_COMMANDS, rules=ctx_name not in RULELESS_COMMANDS)


def _invoked() -> str | None:
    ctx = click.get_current_context(silent=True)
    return ctx.find_root().invoked_subcommand if ctx else None


def main() -> None:
    """Entry point of the `safety` console script."""
    from ..settings import ConfigurationError  # a bad setting or rules file (RulesError, SettingsError)

    group = SafetyGroup(create_app=lambda: _create_app_for(_invoked()), add_default_commands=True,
                        help="The trial safety service.")
    try:
        group.main(prog_name="safety")
    except ConfigurationError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)

