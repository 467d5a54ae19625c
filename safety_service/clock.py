""""Now" as a parameter: UTC inside, the site's time zone only at the edges.

Every function that depends on the current time takes a ``now`` (an aware UTC datetime)
or a ``Clock``, so tests can walk a participant through 12 months in milliseconds.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class Clock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self, tz: str | ZoneInfo = "UTC") -> date:
        return local_date(self.now(), tz)


class FixedClock(Clock):
    """A clock that only moves when told to (tests, `--now` on the CLI)."""

    def __init__(self, at: datetime | str):
        self._now = parse_datetime(at) if isinstance(at, str) else to_utc(at)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime | str) -> None:
        self._now = parse_datetime(at) if isinstance(at, str) else to_utc(at)

    def advance(self, delta: timedelta | None = None, **kwargs) -> datetime:
        self._now = self._now + (delta or timedelta(**kwargs))
        return self._now


def to_utc(dt: datetime) -> datetime:
    """Aware datetime in UTC; a naive one is refused because its zone would be a guess."""
    if dt.tzinfo is None:
        raise ValueError("datetime without a UTC offset")
    return dt.astimezone(timezone.utc)


def parse_datetime(text: str, default_tz: str | ZoneInfo | None = None) -> datetime:
    """Parse ISO 8601; a value without an offset is read in ``default_tz`` if given, else refused."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        if default_tz is None:
            raise ValueError(f"{text!r} has no UTC offset")
        dt = dt.replace(tzinfo=ZoneInfo(str(default_tz)) if not isinstance(default_tz, ZoneInfo) else default_tz)
    return dt.astimezone(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """The storage form of a datetime: ISO 8601 in UTC with offset, seconds precision."""
    if dt is None:
        return None
    return to_utc(dt).isoformat(timespec="seconds")


def local_date(dt: datetime, tz: str | ZoneInfo) -> date:
    """The calendar date of an instant in the given zone (a visit or onset day is a local date)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return dt.astimezone(zone).date()


def local_text(at: str | datetime | None, tz: str | ZoneInfo, empty: str = "") -> str:
    """A stored UTC instant as people read it in the study's zone: '2026-06-15 12:00 CEST'."""
    if not at:
        return empty
    dt = parse_datetime(at) if isinstance(at, str) else to_utc(at)
    return dt.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")
