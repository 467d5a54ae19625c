"""`safety export odm -o FILE.xml`: the ODM 1.3.2 export from the command line, streamed to the file (study-wide,
actor "cli"), beside the other `safety export` commands."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect
from ..domain.errors import DomainError
from .exports import ACTOR, export_group, force_option, refuse_overwrite  # the `safety export` group; joins it
from ..exports.filters import parse


@export_group.command("odm")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="XML file.")
@click.option("--from", "date_from", default=None, metavar="YYYY-MM-DD", help="AE onset (lab, visit date) on or after.")
@click.option("--to", "date_to", default=None, metavar="YYYY-MM-DD", help="AE onset (lab, visit date) on or before.")
@click.option("--subject", "subject_id", default=None, help="One participant.")
@click.option("--site", default=None, help="One site.")
@click.option("--include-entered-in-error", is_flag=True, help="Also AEs, labs and records entered in error.")
@force_option
@click.option("--now", "now_text", default=None, metavar="ISO8601", help="Export time (default: now).")
@with_appcontext
def export_odm(output: Path, date_from, date_to, subject_id, site, include_entered_in_error, force, now_text):
    """CDISC ODM 1.3.2 (metadata, participants, visits, labs, AEs, con-meds, history, audit records)."""
    from ..exports import odm
    from . import clock_from

    refuse_overwrite([output], force)
    if not output.parent.exists():
        raise click.ClickException(f"folder {output.parent} does not exist")
    db = connect(current_app.config["DATABASE"])
    partial = output.with_name(output.name + ".part")
    try:
        filters = parse({"from": date_from or "", "to": date_to or "", "subject_id": subject_id or "",
                         "site": site or "", "include_entered_in_error": "true" if include_entered_in_error else ""})
        # Written beside the target and renamed at the end: a failed export leaves no half file under its name.
        with partial.open("wb") as sink:
            f = odm.export(db, sink, filters, user=None, actor=ACTOR, now=clock_from(now_text).now(),
                           study=current_app.extensions["rulebook"].study, name=output.name)
        os.replace(partial, output)
    except DomainError as e:
        partial.unlink(missing_ok=True)
        raise click.ClickException(str(e)) from None
    finally:
        db.conn.close()
    click.echo(f"{output}: {f.rows} adverse events, sha256 {f.sha256}, audit anchor {f.notes['audit_anchor']}")
