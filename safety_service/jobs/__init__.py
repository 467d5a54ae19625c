"""Scheduled jobs: each a function (db, rulebook, config, now) -> count, the same one its CLI command calls."""

from . import signals  # noqa: E402,F401  (registers the stopping-rule and cluster check)
