"""Load the demo into an empty database at start and show its accounts (kept in instance/, owner-only)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..db import connect
from . import load_demo


def ensure_demo(app) -> list[dict]:
    """Load the demo if the database has no participants; print the demo accounts either way."""
    db = connect(app.config["DATABASE"])
    path = Path(app.instance_path) / "demo-accounts.json"
    try:
        if not db.execute("SELECT count(*) FROM participants").fetchone()[0]:
            accounts = load_demo(db, app.extensions["rulebook"], app.config, now=app.extensions["clock"].now())
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(accounts, fh, indent=1)
            print("Demo study loaded (synthetic participants, never real people).")
    finally:
        db.conn.close()
    accounts = json.loads(path.read_text()) if path.exists() else []
    if accounts:
        print("Demo accounts (role, e-mail, password):")
        for a in accounts:
            print(f"  {a['role']:15} {a['email']:32} {a['password']}")
    return accounts
