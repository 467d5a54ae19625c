"""The reporting clocks of a serious AE, as pure functions of the AE and the numbers already sent.

Each clock belongs to one report number of the AE's series (0 = the initial report, 1.. follow-ups); a clock is
met when that report is recorded as sent. For every SAE:

- ``initial_24h``: the investigator reports the SAE to the sponsor immediately; the protocol says within 24 hours
  of the site's awareness (ICH E6(R2) 4.11.1). Report 0.

For a SUSAR, or a possible SUSAR (expectedness not yet assessed: the conservative clock runs until it is):

- ``expedited_7d``: fatal or life-threatening: the initial expedited report within 7 calendar days
  (ICH E2A III.A.1). Report 0.
- ``follow_up_15d``: ... "followed by as complete a report as possible within 8 additional calendar days", day 15
  (ICH E2A III.A.1). Report 1.
- ``expedited_15d``: any other SUSAR: within 15 calendar days (ICH E2A III.A.2). Report 0.

Day 0 of the sponsor's clock is its first knowledge (ICH E2A III.A); the service counts from the site's awareness,
which is never later, so a clock here never runs out after the regulation's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ...clock import iso, parse_datetime, to_utc
from ..ae_rules import report_due

# ICH E2A III.A.1: the follow-up of a fatal or life-threatening SUSAR, 8 calendar days after the 7-day report.
FOLLOW_UP_DAYS_FATAL_OR_LIFE_THREATENING = 7 + 8
# Day clocks warn two calendar days ahead (a daily check cannot miss the warning); the 24-hour clock warns
# rules/notifications.toml's sae_report_warning_hours ahead.
DAY_CLOCK_WARNING = timedelta(days=2)


@dataclass(frozen=True)
class Clock:
    """One report due: which report number meets it, when, under which rule."""

    name: str
    number: int
    due_at: datetime
    title: str
    citation: str

    @property
    def kind(self) -> str:
        return "initial" if self.number == 0 else "follow_up"

    def as_dict(self) -> dict:
        return {"clock": self.name, "number": self.number, "kind": self.kind, "due_at": iso(self.due_at),
                "title": self.title, "citation": self.citation}


def expedited(ae: dict) -> bool:
    """Serious, related, and not assessed as expected: a SUSAR or a possible one (the expedited clock runs)."""
    return bool(ae.get("serious") and ae.get("related") and ae.get("expected") is not True)


def fatal_or_life_threatening(ae: dict) -> bool:
    criteria = ae.get("seriousness") or []
    return "death" in criteria or "life_threatening" in criteria or ae.get("outcome") == "fatal"


def _calendar_days(awareness: datetime, days: int, tz: ZoneInfo) -> datetime:
    # Calendar days on the site's calendar: the same local wall-clock time N days later (as ae_rules.expedited_due).
    return (to_utc(awareness).astimezone(tz) + timedelta(days=days)).astimezone(timezone.utc)


def clocks(ae: dict, tz: str | ZoneInfo) -> list[Clock]:
    """Every clock of an active serious AE, soonest first; none for a non-serious or withdrawn AE."""
    if not ae.get("serious") or ae.get("status", "active") != "active" or not ae.get("awareness_at"):
        return []
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    aware = parse_datetime(ae["awareness_at"])
    out = [Clock("initial_24h", 0, report_due(aware), "Initial SAE report to the sponsor (24 h)",
                 "ICH E6(R2) 4.11.1; protocol: 24 hours")]
    if expedited(ae):
        if fatal_or_life_threatening(ae):
            out.append(Clock("expedited_7d", 0, _calendar_days(aware, 7, zone),
                             "Expedited report of a fatal or life-threatening SUSAR (day 7)", "ICH E2A III.A.1"))
            out.append(Clock("follow_up_15d", 1,
                             _calendar_days(aware, FOLLOW_UP_DAYS_FATAL_OR_LIFE_THREATENING, zone),
                             "Follow-up report, as complete as possible (day 15)", "ICH E2A III.A.1"))
        else:
            out.append(Clock("expedited_15d", 0, _calendar_days(aware, 15, zone),
                             "Expedited SUSAR report (day 15)", "ICH E2A III.A.2"))
    return sorted(out, key=lambda c: (c.due_at, c.number))


def pending(ae: dict, sent_numbers: set[int], tz: str | ZoneInfo) -> list[Clock]:
    """The clocks whose report is not yet recorded as sent."""
    return [c for c in clocks(ae, tz) if c.number not in sent_numbers]


def due_at_for(ae: dict, number: int, tz: str | ZoneInfo) -> datetime | None:
    """The due date that applies to report ``number`` (the earliest of its clocks), or None (a follow-up sent
    when new information comes, with no clock of its own)."""
    found = [c.due_at for c in clocks(ae, tz) if c.number == number]
    return min(found) if found else None


def warning_for(clock: Clock, warning_hours: float) -> timedelta:
    """How long before its due instant a clock warns."""
    return timedelta(hours=warning_hours) if clock.name == "initial_24h" else DAY_CLOCK_WARNING


def alert_keys(ae_id: int, clock: Clock) -> tuple[str, str]:
    """(warning key, missed key) of a clock. The 24-hour clock keeps the first round's keys, so an alert raised
    before the report series existed is not raised again."""
    if clock.name == "initial_24h":
        return f"sae_report_due:{ae_id}", f"sae_report_missed:{ae_id}"
    return f"sae_report_due:{ae_id}:{clock.name}", f"sae_report_missed:{ae_id}:{clock.name}"
