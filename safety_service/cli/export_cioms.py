"""`safety export cioms AE --report N -o FILE.pdf`: the CIOMS I form of an SAE report from the command line,
the same bytes as GET /api/v1/adverse-events/<id>/cioms.pdf (study-wide, no site scope)."""
from __future__ import annotations

import re
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db import connect, row
from ..domain.errors import DomainError
from . import clock_from
from .exports import ACTOR, export_group, refuse_overwrite  # the `safety export` group; this command joins it

_NAME = re.compile(r"^(?P<subject>.+)-AE(?P<seq>\d+)$")


def ae_id_of(db, text: str) -> int:
    """An AE by its id (12) or its name (S01-003-AE2). Raises ClickException when there is none."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    match = _NAME.match(text)
    found = match and row(db, "SELECT id FROM adverse_events WHERE subject_id = ? AND seq = ?",
                          (match["subject"], int(match["seq"])))
    if not found:
        raise click.ClickException(f"no adverse event {text!r} (give its id or its name, e.g. S01-003-AE2)")
    return found["id"]


@export_group.command("cioms")
@click.argument("ae")
@click.option("--report", "number", type=click.IntRange(min=0), default=None,
              help="Report number (0 = initial, 1.. follow-ups); default the latest sent.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF file.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@with_appcontext
def export_cioms(ae: str, number: int | None, output: Path, force: bool):
    """The CIOMS I form of a serious AE's report (AE: its id or its name, e.g. S01-003-AE2)."""
    from ..reports import cioms

    refuse_overwrite([output], force)
    if not output.parent.exists():
        raise click.ClickException(f"folder {output.parent} does not exist")
    db = connect(current_app.config["DATABASE"])
    try:
        data, _name = cioms.for_request(db, ae_id_of(db, ae), number, user=None,
                                        rulebook=current_app.extensions["rulebook"],
                                        tz=current_app.config["TIMEZONE"], actor=ACTOR, now=clock_from(None).now())
    except DomainError as e:
        raise click.ClickException(e.message) from None
    finally:
        db.conn.close()
    output.write_bytes(data)
    click.echo(f"{output}: CIOMS I form, {len(data)} bytes")
