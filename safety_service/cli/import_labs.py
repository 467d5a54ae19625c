"""`safety import labs FILE.csv`: the CSV import of lab results from the command line (the same domain function
as the upload page). Exits 0 with a summary, or 1 with one line naming the problems by row and column."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect
from ..domain import users
from ..domain.labs_import import ImportRefused, import_labs


@contextmanager
def csv_import(file: Path, by_email: str | None):
    """(db, user, text) for a CSV import command: the --by user checked, the file read as UTF-8, a refused import
    turned into a one-line error, and the database closed afterwards. Shared by every `safety import` command."""
    db = connect(current_app.config["DATABASE"])
    try:
        user = None
        if by_email:
            user = users.by_email(db, by_email)
            if user is None or not user["active"]:
                raise click.BadParameter(f"no active user {by_email}", param_hint="--by")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise click.ClickException(f"{file} is not UTF-8 text; save it as CSV UTF-8") from None
        try:
            yield db, user, text
        except ImportRefused as e:
            raise click.ClickException(e.one_line()) from None
    finally:
        db.conn.close()


@click.group("import")
def import_group():
    """Import data files."""


@import_group.command("labs")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by_email", default=None, metavar="EMAIL",
              help="The user entering the results (recorded as entered_by; limits rows to that user's site).")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Run as of this instant (with a UTC offset).")
@with_appcontext
def import_labs_command(file: Path, by_email: str | None, now_text: str | None):
    """Import lab results from a CSV file (columns as the labs API); all rows or none."""
    from . import clock_from

    rulebook = current_app.extensions["rulebook"]
    with csv_import(file, by_email) as (db, user, text):
        report = import_labs(db, text, rules=rulebook.lab_rules, study=rulebook.study,
                             tz=current_app.config["TIMEZONE"], user=user, actor=user["email"] if user else "cli",
                             now=clock_from(now_text).now(), plausibility=rulebook.plausibility)
    click.echo(f"{report.imported} lab results imported, {len(report.skipped)} skipped as already present, "
               f"{report.alerts} new safety alerts")
    for s in report.skipped:
        click.echo(f"  skipped {s}")
