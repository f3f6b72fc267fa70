"""How times and durations read in summaries and postmortems (always UTC, units spelled out)."""

from __future__ import annotations

from datetime import UTC, datetime


def clock(at: datetime) -> str:
    """`12:03:27 UTC` for a timestamp (naive timestamps are taken as UTC)."""
    return f"{as_utc(at):%H:%M:%S} UTC"


def stamp(at: datetime) -> str:
    """`2024-05-01 12:03:27 UTC` for a timestamp."""
    return f"{as_utc(at):%Y-%m-%d %H:%M:%S} UTC"


def as_utc(at: datetime) -> datetime:
    """The same instant in UTC; a naive timestamp is assumed to already be UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def human_duration(seconds: float) -> str:
    """`94 s`, `12 min`, `2 h 05 min`, `3 d 4 h`: coarse enough to read, exact enough to act on."""
    total_s = max(0, round(seconds))
    if total_s < 120:
        return f"{total_s} s"
    minutes = total_s // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def parse_time(value: object) -> datetime | None:
    """A datetime from a datetime or an ISO-8601 string (`Z` accepted); None when absent or bad."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None
