"""`safety export ...`: the same export functions as the web app, run as the CLI (study-wide, actor "cli")."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect
from ..domain.errors import DomainError
from ..exports.filters import parse

CLI_FORMATS = {"csv": "csv", "xlsx": "xlsx", "pdf": "pdf", "xpt": "xpt", "fhir": "json"}
ACTOR = "cli"


def _service():
    """The export functions, imported when a command runs: they pull pandas, matplotlib and fpdf, which
    `safety --help` and every other command must not pay for."""
    from ..exports import service

    return service


def _db():
    return connect(current_app.config["DATABASE"])


def _now(now_text: str | None):
    from . import clock_from

    return clock_from(now_text).now()


def _write(path: Path, data: bytes) -> None:
    if path.parent and not path.parent.exists():
        raise click.ClickException(f"folder {path.parent} does not exist")
    path.write_bytes(data)


def refuse_overwrite(paths, force: bool) -> None:
    """ClickException naming the first existing file unless ``force``: an export never replaces a file silently."""
    if force:
        return
    for path in paths:
        if Path(path).exists():
            raise click.ClickException(f"{path} exists; pass --force to overwrite it")


@click.group("export")
def export_group():
    """Export listings and the audit trail (each export is recorded in the audit trail)."""


def force_option(f):
    """`--force`: the one way to let an export replace existing files (with refuse_overwrite)."""
    return click.option("--force", is_flag=True, help="Overwrite existing files.")(f)


# Written beside ae.xpt by `safety export ae --format xpt`: checked before anything is exported or audited.
XPT_SIBLINGS = ("suppae.xpt", "define.xml")


@export_group.command("ae")
@click.option("--format", "fmt", required=True, type=click.Choice(list(CLI_FORMATS)), help="File format.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--from", "date_from", default=None, metavar="YYYY-MM-DD", help="Onset on or after this date.")
@click.option("--to", "date_to", default=None, metavar="YYYY-MM-DD", help="Onset on or before this date.")
@force_option
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_ae(fmt, output: Path, date_from, date_to, force: bool, now_text):
    """The AE listing. With --format xpt, suppae.xpt and define.xml (Define-XML 2.1) are written beside the file."""
    refuse_overwrite([output, *((output.parent / n for n in XPT_SIBLINGS) if fmt == "xpt" else ())], force)
    db, now = _db(), _now(now_text)
    rulebook = current_app.extensions["rulebook"]
    study_id = rulebook.study.study_id
    try:
        filters = parse({"from": date_from or "", "to": date_to or ""})
        f = _service().export_ae(db, CLI_FORMATS[fmt], filters, user=None, actor=ACTOR, now=now, study_id=study_id,
                                 catalogue=rulebook.ctcae)
        written = [(output, f)]
        if fmt == "xpt":
            for which in ("suppae", "define"):
                extra = _service().export_sdtm_companion(db, which, filters, user=None, actor=ACTOR, now=now,
                                                         study_id=study_id, catalogue=rulebook.ctcae,
                                                         study_title=rulebook.study.title)
                written.append((output.parent / extra.name, extra))
    except DomainError as e:
        raise click.ClickException(str(e)) from None
    refuse_overwrite([path for path, _ in written], force)  # a companion named otherwise than XPT_SIBLINGS
    for path, ef in written:
        _write(path, ef.data)
        click.echo(f"{path}: {ef.rows} rows, sha256 {ef.sha256}")


@export_group.command("sdtm")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the package into (created if missing).")
@force_option
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_sdtm(output: Path, force: bool, now_text):
    """The SDTM package: dm, sv, ex, cm, ae, ds, mh, lb and suppae as XPT v5, define.xml and the reviewer's guide."""
    from ..exports.submission.package import DEFINE, GUIDE
    from ..exports.submission.datasets import PACKAGE

    if not output.parent.exists():
        raise click.ClickException(f"folder {output.parent} does not exist")
    refuse_overwrite([output / n for n in (*(d.file for d in PACKAGE), DEFINE, GUIDE)], force)
    rulebook = current_app.extensions["rulebook"]
    try:
        f, pkg = _service().export_sdtm(_db(), user=None, actor=ACTOR, now=_now(now_text), study=rulebook.study,
                                        tz=current_app.config["TIMEZONE"], catalogue=rulebook.ctcae)
    except DomainError as e:
        raise click.ClickException(str(e)) from None
    output.mkdir(exist_ok=True)
    for name, data in pkg.files.items():
        _write(output / name, data)
    counts = ", ".join(f"{k} {v}" for k, v in pkg.rows.items())
    click.echo(f"{output}: {counts}; audit chain head {pkg.anchor}; zip sha256 {f.sha256}")


@export_group.command("audit")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="CSV file.")
@force_option
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_audit(output: Path, force: bool, now_text):
    """The whole audit trail as CSV, and its hash-chain verification (exit 1 if broken)."""
    refuse_overwrite([output], force)
    f, result = _service().export_audit(_db(), actor=ACTOR, now=_now(now_text),
                                     study_id=current_app.extensions["rulebook"].study.study_id)
    _write(output, f.data)
    click.echo(f"{output}: {f.rows} entries, sha256 {f.sha256}")
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


@export_group.command("queries")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "xlsx"]), help="File format.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--status", default=None, type=click.Choice(["open", "answered", "closed"]), help="Only this status.")
@click.option("--site", default=None, help="Only this site.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time: ages are counted to it.")
@with_appcontext
def export_queries(fmt, output: Path, status, site, force: bool, now_text):
    """The data clarification query log (issue 17): every query with its age and turnaround."""
    from ..exports.query_log import export_query_log

    refuse_overwrite([output], force)
    try:
        f = export_query_log(_db(), fmt, {"status": status, "site": site}, user=None, actor=ACTOR,
                             now=_now(now_text), study_id=current_app.extensions["rulebook"].study.study_id)
    except DomainError as e:
        raise click.ClickException(str(e)) from None
    _write(output, f.data)
    click.echo(f"{output}: {f.rows} queries, sha256 {f.sha256}")
