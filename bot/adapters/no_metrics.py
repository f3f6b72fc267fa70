"""UnconfiguredMetricsSource: the MetricsSource when no Prometheus URL is set. Every query
answers UpstreamUnavailableError, so a runbook's verification is inconclusive (never a
recovery) and the run holds for a human instead of guessing."""

from __future__ import annotations

from datetime import datetime

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.signals import Series


class UnconfiguredMetricsSource:
    """Says, on every query, that no Prometheus is configured (FIREBREAK_PROMETHEUS_URL)."""

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        raise UpstreamUnavailableError("no Prometheus configured (FIREBREAK_PROMETHEUS_URL)")

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        raise UpstreamUnavailableError("no Prometheus configured (FIREBREAK_PROMETHEUS_URL)")
