"""`safety check`, `safety mail send`, `safety digest` and `safety scheduler`: the jobs from the command line.

Each command calls the same function as its scheduled job, with the clock of ``--now`` (default: now).
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from . import app_db, clock_from, clock_option
from ..jobs import checks, digest, mail


@click.command("check")
@clock_option
@with_appcontext
def check_command(now_text):
    """Run every scheduled check once (overdue visits, SAE clocks, AEs, lab rules, stopping rule); print what it raised."""
    for line in checks.check_once(current_app, clock_from(now_text).now()):
        click.echo(line)


def _send(now) -> int:
    db = app_db()
    try:
        return mail.send_due(db, current_app.extensions["rulebook"], current_app.config, now)
    finally:
        db.conn.close()


def _outbox_line(now) -> str:
    db = app_db()
    try:
        counts = {r["status"]: r["n"] for r in db.query("SELECT status, count(*) AS n FROM outbox GROUP BY status")}
    finally:
        db.conn.close()
    where = (f"SMTP {current_app.config['SMTP_HOST']}:{current_app.config['SMTP_PORT']}"
             if current_app.config["SMTP_HOST"] else "no SMTP host: mail stays in the outbox (admin > Outbox)")
    return (f"outbox as of {now.isoformat()}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in
                                                            ("pending", "sending", "sent", "failed")) + f" ({where})")


@click.group("mail")
def mail_group():
    """The mail outbox."""


@mail_group.command("send")
@clock_option
@with_appcontext
def mail_send_command(now_text):
    """Deliver what is due in the outbox."""
    now = clock_from(now_text).now()
    click.echo(f"{_send(now)} sent")
    click.echo(_outbox_line(now))


@click.command("digest")
@clock_option
@with_appcontext
def digest_command(now_text):
    """Build and queue today's digest for each recipient (one per person per day), then deliver."""
    now = clock_from(now_text).now()
    db = app_db()
    try:
        queued = digest.queue_due_digests(db, current_app.extensions["rulebook"], current_app.config, now, force=True)
    finally:
        db.conn.close()
    click.echo(f"{queued} digest{'s' if queued != 1 else ''} queued")
    click.echo(f"{_send(now)} sent")
    click.echo(_outbox_line(now))


@click.command("scheduler")
@with_appcontext
def scheduler_command():
    """Run the scheduled jobs in this process (beside gunicorn workers, which run none)."""
    from ..jobs import scheduler  # APScheduler: only for the command that runs it
    click.echo(f"scheduler: {', '.join(j.id for j in scheduler.JOBS)} (Ctrl-C to stop)")
    scheduler.run_forever(current_app._get_current_object())

