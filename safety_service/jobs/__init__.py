"""Scheduled jobs: each a function (db, rulebook, config, now) -> count, the same one its CLI command calls."""
