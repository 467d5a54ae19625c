"""Scheduled jobs: each a function (db, rulebook, config, now) -> count, the same one its CLI command calls."""

from . import signals  # noqa: E402,F401  (registers the stopping-rule and cluster check)
from . import labs  # noqa: E402,F401  (registers the lab-rules check)
from . import rules_guard  # noqa: E402,F401  (re-validates the rules folder while running)
from . import checks, mail, digest  # noqa: E402,F401  (overdue visits, SAE clocks, AE sweep; mail sender; digest)
from . import queries  # noqa: E402,F401  (automatic queries, queries waiting too long)
