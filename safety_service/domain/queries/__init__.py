"""Data clarification queries between the safety officer (or a monitor) and the sites (issue 17).

- targets:  what a query is on (AE, lab result, visit, participant) and its fields
- workflow: raise, answer (optionally by amending the record in the same transaction), close, reopen, search
- amend:    answering an AE query by amending the AE, in one step
- auto:     data checks that open a query instead of an alert, and close it when the data are put right
- rules:    rules/queries.toml (the automatic checks and their questions)
- overdue:  the site's alert when a query waits more than N days (rules/notifications.toml)
- log:      the query log with age and turnaround (exports)
"""
from __future__ import annotations

from .targets import ENTITIES, FIELDS
from .workflow import (STATUSES, answer, close, get, list_queries, on_records, open_by_site, raise_query, reopen,
                       search, thread)

__all__ = ["ENTITIES", "FIELDS", "STATUSES", "answer", "close", "get", "list_queries", "on_records",
           "open_by_site", "raise_query", "reopen", "search", "thread"]
