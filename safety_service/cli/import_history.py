"""`safety import conmeds FILE.csv` and `safety import medical-history FILE.csv`: the CSV import of con-meds and
medical history from the command line (the same domain function as the upload page), beside `safety import labs`.
Exits 0 with a count, or 1 with one line naming the problems by row and column."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..domain.history.importing import import_csv
from .import_labs import csv_import, import_group  # the `safety import` group; these commands join it


def _run(which: str, file: Path, by_email: str | None, now_text: str | None) -> None:
    from . import clock_from

    with csv_import(file, by_email) as (db, user, text):
        stored = import_csv(db, which, text, user=user, actor=user["email"] if user else "cli",
                            tz=current_app.config["TIMEZONE"], now=clock_from(now_text).now())
    click.echo(f"{stored} {'con-meds' if which == 'conmeds' else 'medical history entries'} imported")


def _command(which: str, help_text: str):
    @import_group.command(which, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--by", "by_email", default=None, metavar="EMAIL",
                  help="The user entering them (recorded as created_by; limits rows to that user's site).")
    @click.option("--now", "now_text", default=None, metavar="ISO8601",
                  help="Run as of this instant (with a UTC offset).")
    @with_appcontext
    def command(file: Path, by_email: str | None, now_text: str | None):
        _run(which, file, by_email, now_text)
    return command


conmeds_command = _command("conmeds", "Import concomitant medications from a CSV file; all rows or none.")
medical_history_command = _command("medical-history", "Import medical history from a CSV file; all rows or none.")
