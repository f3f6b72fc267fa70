"""Past alerts as Prometheus's `ALERTS` series keeps them, and the notifications Alertmanager
would have sent for them.

Prometheus writes one `ALERTS{alertname, alertstate="firing", <labels>}` sample per rule
evaluation while an alert fires. `firing_intervals` turns the sample times of one such series
into `FiringInterval`s: a run of evaluations with no gap longer than `GAP_EVALUATIONS`
intervals is one firing, which ends one evaluation after its last sample (the evaluation that
found it resolved). `without_inhibited` removes the time an alert spent muted by an inhibit
rule, and `rebuild_notifications` groups what is left as Alertmanager would
(bot/domain/alert_routing.py): one `Notification` per aggregation group and episode -- the life
of the group, from its first alert until the first flush that finds all of them resolved --
first sent `group_wait` after the group appeared, carrying the alerts firing then (later alerts
join at the next `group_interval` flush). An episode whose alerts all stopped before a flush
found one firing sends nothing (`suppressed`).

`webhook_payload` writes a notification as Alertmanager's webhook v4 body. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.alert_routing import InhibitRule, RoutingTree

GAP_EVALUATIONS = 2.5
"""A gap between samples longer than this many evaluation intervals ends a firing (one
missed or late evaluation does not)."""
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


def alert_fingerprint(labels: Mapping[str, str]) -> str:
    """The fingerprint Prometheus and Alertmanager give a label set (FNV-1a 64, hex)."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return f"{value:016x}"


@dataclass(frozen=True)
class FiringInterval:
    """One alert firing from `start` until `end` (None: still firing when the range ends)."""

    labels: dict[str, str]
    start: datetime
    end: datetime | None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed")

    @property
    def fingerprint(self) -> str:
        return alert_fingerprint(self.labels)

    def firing_at(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


def firing_intervals(
    labels: Mapping[str, str],
    sample_times: Iterable[float],
    interval_s: float,
    range_end: datetime,
) -> list[FiringInterval]:
    """The firings of one `ALERTS` series from its samples' times (Unix seconds, any order,
    repeats allowed). A firing whose last sample lies within `GAP_EVALUATIONS` intervals of
    `range_end` is still firing (end None)."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    tz = range_end.tzinfo
    own = {k: v for k, v in labels.items() if k not in ("alertstate", "__name__")}
    times = sorted(set(sample_times))
    runs: list[list[float]] = []
    for ts in times:
        if runs and ts - runs[-1][-1] <= GAP_EVALUATIONS * interval_s:
            runs[-1].append(ts)
        else:
            runs.append([ts])
    out = []
    for run in runs:
        start = datetime.fromtimestamp(run[0], tz)
        last = run[-1]
        ongoing = range_end.timestamp() - last <= GAP_EVALUATIONS * interval_s
        end = None if ongoing else datetime.fromtimestamp(last + interval_s, tz)
        out.append(FiringInterval(dict(own), start, end))
    return out


def without_inhibited(
    intervals: Sequence[FiringInterval], rules: Sequence[InhibitRule]
) -> list[FiringInterval]:
    """Each interval less the time a different firing alert muted it (an inhibit rule)."""
    if not rules:
        return list(intervals)
    out: list[FiringInterval] = []
    for target in intervals:
        mutes = [
            source
            for source in intervals
            if source is not target
            and any(rule.mutes(source.labels, target.labels) for rule in rules)
        ]
        out += _subtract(target, mutes)
    return out


def _subtract(target: FiringInterval, mutes: Sequence[FiringInterval]) -> list[FiringInterval]:
    pieces = [target]
    for mute in sorted(mutes, key=lambda m: m.start):
        kept: list[FiringInterval] = []
        for piece in pieces:
            if not _overlap(piece, mute):
                kept.append(piece)
                continue
            if piece.start < mute.start:
                kept.append(replace(piece, end=mute.start))
            if mute.end is not None and (piece.end is None or piece.end > mute.end):
                kept.append(replace(piece, start=mute.end))
        pieces = kept
    return pieces


def _overlap(a: FiringInterval, b: FiringInterval) -> bool:
    a_before_b_ends = b.end is None or a.start < b.end
    b_before_a_ends = a.end is None or b.start < a.end
    return a_before_b_ends and b_before_a_ends


@dataclass(frozen=True)
class Notification:
    """What one Alertmanager aggregation group sent for one episode: first at `notify_at`,
    with `first_alerts`; `alerts` holds every alert of the episode, later ones included."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    started_at: datetime
    notify_at: datetime
    ended_at: datetime | None
    alerts: tuple[FiringInterval, ...]
    first_alerts: tuple[FiringInterval, ...]
    group_wait_s: float = 0.0

    @property
    def common_labels(self) -> dict[str, str]:
        """The labels every alert of the first notification shares (the incident's labels)."""
        first, *rest = self.first_alerts
        return {k: v for k, v in first.labels.items() if all(a.labels.get(k) == v for a in rest)}

    @property
    def alert_names(self) -> list[str]:
        return sorted({a.name for a in self.first_alerts})

    @property
    def all_alert_names(self) -> list[str]:
        return sorted({a.name for a in self.alerts})


@dataclass(frozen=True)
class Rebuilt:
    """The notifications of a history, and how many episodes sent none (all alerts stopped
    before the first flush) or were wholly inhibited."""

    notifications: list[Notification]
    suppressed: int = 0
    inhibited: int = 0


def rebuild_notifications(intervals: Sequence[FiringInterval], tree: RoutingTree) -> Rebuilt:
    """Alertmanager's notifications for these firings under `tree`, earliest first."""
    visible = without_inhibited(intervals, tree.inhibit_rules)
    inhibited = len({a.fingerprint for a in intervals} - {a.fingerprint for a in visible})
    groups: dict[tuple[str, str], list[FiringInterval]] = {}
    routes = {}
    for interval in visible:
        for route in tree.routes_for(interval.labels):
            key = (route.receiver, route.group_key(interval.labels))
            groups.setdefault(key, []).append(interval)
            routes[key] = route
    notifications: list[Notification] = []
    suppressed = 0
    for (receiver, group_key), members in groups.items():
        route = routes[(receiver, group_key)]
        for episode in _episodes(members, route.group_wait_s, route.group_interval_s):
            sent = _first_flush(episode, route.group_wait_s, route.group_interval_s)
            if sent is None:
                suppressed += 1
                continue
            notify_at, first = sent
            ends = [a.end for a in episode]
            notifications.append(
                Notification(
                    receiver=receiver,
                    group_key=group_key,
                    group_labels=route.group_labels(first[0].labels),
                    started_at=episode[0].start,
                    notify_at=notify_at,
                    ended_at=None if any(e is None for e in ends) else max(e for e in ends if e),
                    alerts=tuple(episode),
                    first_alerts=tuple(first),
                    group_wait_s=route.group_wait_s,
                )
            )
    notifications.sort(key=lambda n: (n.notify_at, n.group_key, n.receiver))
    return Rebuilt(notifications, suppressed, inhibited)


def _episodes(
    members: Sequence[FiringInterval], group_wait_s: float, group_interval_s: float
) -> list[list[FiringInterval]]:
    """A group's alerts split into the lives of its aggregation group: created by an alert,
    flushed `group_wait` later and every `group_interval` after, and removed by the first flush
    that finds every alert resolved; an alert after that creates the group anew."""
    episodes: list[list[FiringInterval]] = []
    removed_at: datetime | None = None
    for interval in sorted(members, key=lambda a: a.start):
        if not episodes or (removed_at is not None and interval.start >= removed_at):
            episodes.append([])
        episodes[-1].append(interval)
        removed_at = _removal(episodes[-1], group_wait_s, group_interval_s)
    return episodes


def _removal(
    episode: Sequence[FiringInterval], group_wait_s: float, group_interval_s: float
) -> datetime | None:
    """The flush that finds every alert of the episode resolved; None while one still fires."""
    ends = [a.end for a in episode]
    if any(end is None for end in ends):
        return None
    last_end = max(end for end in ends if end is not None)
    first_at = episode[0].start + timedelta(seconds=group_wait_s)
    if last_end <= first_at:
        return first_at
    step = timedelta(seconds=max(group_interval_s, 1.0))
    return first_at + -(-(last_end - first_at) // step) * step


def _first_flush(
    episode: Sequence[FiringInterval], group_wait_s: float, group_interval_s: float
) -> tuple[datetime, list[FiringInterval]] | None:
    """When the group first sent a firing alert, and the alerts firing then; None if never.

    The first flush is `group_wait` after the group appeared, later ones every
    `group_interval`; an alert counts in the first flush that finds it firing."""
    first_at = episode[0].start + timedelta(seconds=group_wait_s)
    step = timedelta(seconds=max(group_interval_s, 1.0))
    flushes = []
    for alert in episode:
        if alert.start <= first_at:
            at = first_at
        else:
            ticks = -(-(alert.start - first_at) // step)
            at = first_at + ticks * step
        if alert.firing_at(at):
            flushes.append(at)
    if not flushes:
        return None
    at = min(flushes)
    return at, [a for a in episode if a.firing_at(at)]


def webhook_payload(
    notification: Notification, *, resolved: bool = False, external_url: str = ""
) -> dict[str, Any]:
    """The notification as Alertmanager's webhook v4 body: the first one (firing alerts), or
    with `resolved` the last one (every alert of the episode, with its end)."""
    alerts = notification.alerts if resolved else notification.first_alerts
    common = {
        k: v for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)
    }
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": "resolved" if resolved else "firing",
        "receiver": notification.receiver,
        "groupLabels": dict(notification.group_labels),
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": external_url,
        "alerts": [_alert_body(a, resolved) for a in alerts],
    }


def _alert_body(alert: FiringInterval, resolved: bool) -> dict[str, Any]:
    ended = resolved and alert.end is not None
    return {
        "status": "resolved" if ended else "firing",
        "labels": dict(alert.labels),
        "annotations": {},
        "startsAt": alert.start.isoformat(),
        "endsAt": alert.end.isoformat() if ended and alert.end else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": alert.fingerprint,
    }
