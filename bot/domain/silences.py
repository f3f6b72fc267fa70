"""Alertmanager silences as Firebreak shows them on incidents: their matchers, who made them and
until when, and whether one covers an incident. Pure: no I/O.

A silence Firebreak makes for an incident has one equality matcher per label of the incident
(the labels its Alertmanager group had in common), so it silences that group's alerts and no
others. A silence covers an incident when every one of its matchers matches the incident's
labels (Alertmanager's semantics, bot/domain/label_matchers.py), so silences made in
Alertmanager's own UI that cover an incident show on it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.durations import parse_duration_s
from bot.domain.label_matchers import LabelMatcher, MatchOp

MIN_SILENCE = timedelta(minutes=1)
MAX_SILENCE = timedelta(days=30)
DEFAULT_SILENCE = timedelta(hours=1)  # the Silence 1h button


class SilenceState(StrEnum):
    """Alertmanager's states of a silence."""

    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"


class SilenceOrigin(StrEnum):
    """How Firebreak knows a silence: it made it for the incident, or the sync found it."""

    FIREBREAK = "firebreak"
    ALERTMANAGER = "alertmanager"


@dataclass(frozen=True)
class Silence:
    """One Alertmanager silence as it applies to an incident."""

    id: str
    matchers: tuple[LabelMatcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: SilenceState = SilenceState.ACTIVE
    origin: SilenceOrigin = SilenceOrigin.ALERTMANAGER

    def covers(self, labels: Mapping[str, str]) -> bool:
        """Every matcher matches the labels (a silence without matchers covers nothing)."""
        return bool(self.matchers) and all(m.matches(dict(labels)) for m in self.matchers)

    def in_force(self, now: datetime) -> bool:
        """Active and not yet past its end."""
        return self.state is SilenceState.ACTIVE and self.ends_at > now

    def describe(self) -> str:
        """`{model_name="x", severity="page"}`: the matchers as Alertmanager prints them."""
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"


def matchers_for(labels: Mapping[str, str]) -> tuple[LabelMatcher, ...]:
    """One equality matcher per label, sorted by name; ValueError when there is no label."""
    if not labels:
        raise ValueError("the incident has no labels to match its alerts by")
    return tuple(LabelMatcher(name, MatchOp.EQUAL, value) for name, value in sorted(labels.items()))


def matcher(name: str, value: str, is_regex: bool, is_equal: bool) -> LabelMatcher:
    """A matcher from Alertmanager API v2's fields; MatcherSyntaxError for a bad regex."""
    if is_regex:
        op = MatchOp.REGEX if is_equal else MatchOp.NOT_REGEX
        return LabelMatcher.parse(str(LabelMatcher(name, op, value)))
    return LabelMatcher(name, MatchOp.EQUAL if is_equal else MatchOp.NOT_EQUAL, value)


def silence_span(text: str) -> timedelta:
    """A silence's length from `30m`, `2h`, `1h30m` or `1d`; ValueError outside 1 min to 30 days."""
    try:
        seconds = parse_duration_s(text.strip().lower())
    except ValueError:
        raise ValueError(f"{text!r} is not a duration (try 30m, 2h or 1d)") from None
    if not MIN_SILENCE.total_seconds() <= seconds <= MAX_SILENCE.total_seconds():
        raise ValueError(f"a silence lasts between 1m and 30d, not {text!r}")
    return timedelta(seconds=seconds)


def silence_line(silences: Sequence[Silence], now: datetime) -> str | None:
    """`Silenced until 14:05 UTC by @alice` for the silence in force that ends last (and how
    many more there are); None when none is in force."""
    live = sorted((s for s in silences if s.in_force(now)), key=lambda s: (s.ends_at, s.id))
    if not live:
        return None
    last = live[-1]
    day = "" if last.ends_at.date() == now.date() else f"{last.ends_at:%Y-%m-%d} "
    line = f"Silenced until {day}{last.ends_at:%H:%M} UTC by {last.created_by or 'someone'}"
    if len(live) > 1:
        line += f" (+{len(live) - 1} more silence{'s' * (len(live) > 2)})"
    return line
