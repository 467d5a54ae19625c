"""Keep pandas and numpy out of every start-up: sqlite-utils imports both, when installed, only to map their
scalar types to column types, which this service never inserts; that import cost ~0.5 s on every `safety` command.

Imported first by the package; the exports and statistics that need pandas/numpy import them where they are used.
"""
from __future__ import annotations

import sys

_HIDDEN = ("pandas", "numpy")


def import_sqlite_utils() -> None:
    """Import sqlite_utils with pandas and numpy hidden for the duration (a None entry makes `import` fail)."""
    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


import_sqlite_utils()
