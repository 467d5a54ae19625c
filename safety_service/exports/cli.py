"""`safety export ...`: the same export functions as the web app, run as the CLI (study-wide, actor "cli")."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect
from ..domain.errors import DomainError
from .filters import parse

CLI_FORMATS = {"csv": "csv", "xlsx": "xlsx", "pdf": "pdf", "xpt": "xpt", "fhir": "json"}
ACTOR = "cli"


def _service():
    """The export functions, imported when a command runs: they pull pandas, matplotlib and fpdf, which
    `safety --help` and every other command must not pay for."""
    from . import service

    return service


def _db():
    return connect(current_app.config["DATABASE"])


def _now(now_text: str | None):
    from ..cli import clock_from

    return clock_from(now_text).now()


def _write(path: Path, data: bytes) -> None:
    if path.parent and not path.parent.exists():
        raise click.ClickException(f"folder {path.parent} does not exist")
    path.write_bytes(data)


@click.group("export")
def export_group():
    """Export listings and the audit trail (each export is recorded in the audit trail)."""


@export_group.command("ae")
@click.option("--format", "fmt", required=True, type=click.Choice(list(CLI_FORMATS)), help="File format.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--from", "date_from", default=None, metavar="YYYY-MM-DD", help="Onset on or after this date.")
@click.option("--to", "date_to", default=None, metavar="YYYY-MM-DD", help="Onset on or before this date.")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_ae(fmt, output: Path, date_from, date_to, now_text):
    """The AE listing. With --format xpt, suppae.xpt and define_ae.json are written beside the file."""
    db, now = _db(), _now(now_text)
    study_id = current_app.extensions["rulebook"].study.study_id
    try:
        filters = parse({"from": date_from or "", "to": date_to or ""})
        f = _service().export_ae(db, CLI_FORMATS[fmt], filters, user=None, actor=ACTOR, now=now, study_id=study_id)
        written = [(output, f)]
        if fmt == "xpt":
            for which in ("suppae", "define"):
                extra = _service().export_sdtm_companion(db, which, filters, user=None, actor=ACTOR, now=now,
                                                      study_id=study_id)
                written.append((output.parent / extra.name, extra))
    except DomainError as e:
        raise click.ClickException(str(e)) from None
    for path, ef in written:
        _write(path, ef.data)
        click.echo(f"{path}: {ef.rows} rows, sha256 {ef.sha256}")


@export_group.command("audit")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV file.")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_audit(output: Path, now_text):
    """The whole audit trail as CSV, and its hash-chain verification (exit 1 if broken)."""
    f, result = _service().export_audit(_db(), actor=ACTOR, now=_now(now_text),
                                     study_id=current_app.extensions["rulebook"].study.study_id)
    _write(output, f.data)
    click.echo(f"{output}: {f.rows} entries, sha256 {f.sha256}")
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)
