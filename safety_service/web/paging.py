"""One way to page, sort and search a list on a page (alerts, AEs, a participant's labs).

The domain returns the rows a user may see, already filtered; this cuts them into pages and sorts by a column
the person clicked, reading ``page``, ``per_page`` and ``sort`` ("grade" or "-grade" for descending) from the
query string (with a ``prefix`` when two lists share a page). Sorting is stable, so ties keep the domain's order
(most severe first, newest first). The links keep every other filter. templates/_paging.html draws the
sortable column headers (with aria-sort) and the pager.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

from flask import request, url_for

from ..domain.errors import InvalidInput

PER_PAGE = (25, 50, 100)


@dataclass
class Paged:
    items: list
    total: int
    page: int
    pages: int
    per_page: int
    sort: str
    desc: bool
    prefix: str = ""
    anchor: str = ""
    args: dict = field(default_factory=dict)

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.per_page, self.total)

    def url(self, **changes) -> str:
        """This page's URL with some of this list's parameters changed (page, sort, per_page)."""
        args = dict(self.args)
        for k, v in changes.items():
            args[self.prefix + k] = v
        args = {k: v for k, v in args.items() if v not in (None, "")}
        return url_for(request.endpoint, **(request.view_args or {}), **args) + (f"#{self.anchor}" if self.anchor else "")

    def sort_url(self, key: str) -> str:
        """Sort by ``key``; the same column again reverses it. Back to page 1."""
        desc = not self.desc if key == self.sort else False
        return self.url(sort=("-" if desc else "") + key, page=None)

    def aria_sort(self, key: str) -> str:
        return ("descending" if self.desc else "ascending") if key == self.sort else "none"


def paginate(items: Iterable, sorts: dict[str, Callable[[Any], Any]], *, default: str = "", prefix: str = "",
             anchor: str = "", per_page: int = PER_PAGE[0]) -> Paged:
    """Sort ``items`` by the requested key (``sorts`` maps key -> function of an item) and cut out the page.

    Raises InvalidInput naming ``page``, ``per_page`` or ``sort`` (with the prefix) for a value that is not one.
    A page past the end shows the last page.
    """
    items, args, errors = list(items), request.args.to_dict(), {}
    raw_sort = args.get(prefix + "sort", default) or default
    desc, key = raw_sort.startswith("-"), raw_sort.lstrip("-")
    if key and key not in sorts:
        errors[prefix + "sort"] = f"must be one of {', '.join(sorts)}"
    raw_per = args.get(prefix + "per_page", "")
    if raw_per:
        if raw_per.isdigit() and int(raw_per) in PER_PAGE:
            per_page = int(raw_per)
        else:
            errors[prefix + "per_page"] = f"must be one of {', '.join(map(str, PER_PAGE))}"
    raw_page = args.get(prefix + "page", "1") or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        errors[prefix + "page"] = "must be a page number from 1"
    if errors:
        raise InvalidInput(errors)
    if key and key in sorts:
        keyed = sorts[key]
        present = [i for i in items if keyed(i) is not None]
        missing = [i for i in items if keyed(i) is None]  # no value: always at the end
        items = sorted(present, key=keyed, reverse=desc) + missing
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(int(raw_page), pages)
    return Paged(items[(page - 1) * per_page: page * per_page], len(items), page, pages, per_page, key, desc,
                 prefix, anchor, args)


def nothing(prefix: str = "", anchor: str = "") -> Paged:
    """An empty first page, shown beside the error when the paging parameters were refused."""
    return Paged([], 0, 1, 1, PER_PAGE[0], "", False, prefix, anchor, {})


def date_range(prefix: str = "") -> tuple[date | None, date | None]:
    """``from`` and ``to`` (YYYY-MM-DD) from the query string. Raises InvalidInput naming each bad one."""
    out, errors = [], {}
    for name in ("from", "to"):
        raw = (request.args.get(prefix + name) or "").strip()
        try:
            out.append(date.fromisoformat(raw) if raw else None)
        except ValueError:
            errors[prefix + name] = "must be a date YYYY-MM-DD"
            out.append(None)
    if not errors and out[0] and out[1] and out[0] > out[1]:
        errors[prefix + "to"] = "is before from"
    if errors:
        raise InvalidInput(errors)
    return out[0], out[1]


def contains(text: str | None, *values) -> bool:
    """The search box: every word of ``text`` is in one of ``values`` (case-insensitive); empty text matches all."""
    words = (text or "").lower().split()
    hay = " ".join(str(v) for v in values if v is not None).lower()
    return all(w in hay for w in words)
