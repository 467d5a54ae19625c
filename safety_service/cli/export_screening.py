"""`safety export screening-log`: the CONSORT-style screening log (issue 13), added to the `safety export` group.

Listed in cli.AREA_COMMANDS among the modules of `export` (the group of cli/exports.py, with this command
attached), so importing the module is what registers the command.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..domain.errors import DomainError
from .exports import ACTOR, _db, _now, _write, export_group, refuse_overwrite


@export_group.command("screening-log")
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "xlsx"]),
              help="File format.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--site", default=None, help="One site only (default: every site).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_screening_log(fmt, output: Path, site, force, now_text):
    """The screening log: screened, screen failures by criterion, enrolled (CONSORT style)."""
    from ..exports.screening_log import export_screening_log as export

    refuse_overwrite([output], force)
    rulebook = current_app.extensions["rulebook"]
    if site is not None and site not in rulebook.study.site_codes:
        raise click.ClickException(f"--site must be one of {', '.join(rulebook.study.site_codes)}")
    try:
        f = export(_db(), fmt, criteria=rulebook.eligibility, user=None, actor=ACTOR, now=_now(now_text),
                   study_id=rulebook.study.study_id, site=site)
    except DomainError as e:
        raise click.ClickException(str(e)) from None
    _write(output, f.data)
    click.echo(f"{output}: {f.rows} lines, sha256 {f.sha256}")


__all__ = ["export_group"]
