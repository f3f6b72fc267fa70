"""What Firebreak observes: metrics and alerts, Alertmanager silences and history, the
clock, and its own telemetry (bot/domain/telemetry.py names every family)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.alert_history import FiringInterval
from bot.domain.signals import Series
from bot.domain.silences import Silence
from bot.domain.telemetry import MetricSpec, RecordedSeries


class MetricsSource(Protocol):
    """Range and instant PromQL queries; raises UpstreamUnavailableError when it cannot answer."""

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]: ...
    def query(self, promql: str, at: datetime | None = None) -> list[Series]: ...


class AlertSource(Protocol):
    """What Alertmanager currently holds active, for reconciliation."""

    def active_fingerprints(self) -> set[str]: ...


class SilenceManager(Protocol):
    """Alertmanager's silences (API v2). NotConfiguredError without an Alertmanager URL,
    UpstreamUnavailableError when it cannot be reached, RefusedError when it refuses."""

    def create(self, silence: Silence) -> str:
        """Create `silence` (its id is ignored); answer the id Alertmanager gave it."""
        ...

    def expire(self, silence_id: str) -> None:
        """Expire a silence now; one already expired or unknown is left as it is."""

    def silences(self) -> list[Silence]:
        """Every silence Alertmanager holds, expired ones included."""
        ...


class AlertHistory(Protocol):
    """Past alerts as the metrics backend recorded them (Prometheus's `ALERTS` series); raises
    UpstreamUnavailableError when it cannot answer."""

    def evaluation_interval_s(self) -> float:
        """The resolution alerts were recorded at (the rule evaluation interval)."""
        ...

    def firing(self, start: datetime, end: datetime) -> list[FiringInterval]:
        """Every alert's firings between `start` and `end`, earliest first."""
        ...


class Telemetry(Protocol):
    """Counts and timings of Firebreak's own stages, kept where every process's reach
    `/metrics`. Never raises for an outage: a lost sample must not stop the stage it measures."""

    def count(
        self, metric: MetricSpec, labels: Mapping[str, str] | None = None, value: float = 1.0
    ) -> None: ...
    def observe(
        self, metric: MetricSpec, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        """One observation of a histogram family (seconds, for the `_seconds` ones)."""


class TelemetryReader(Protocol):
    """What `/metrics` reads from Redis at scrape time; raises UpstreamUnavailableError."""

    def recorded(self) -> dict[str, list[RecordedSeries]]:
        """Every recorded family's series, by family name."""
        ...

    def queue_depths(self, queues: Sequence[str]) -> dict[str, int]:
        """Messages waiting in each broker queue."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
