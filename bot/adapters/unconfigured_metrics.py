"""UnconfiguredMetricsSource: the MetricsSource without FIREBREAK_PROMETHEUS_URL; never answers."""

from __future__ import annotations

from datetime import datetime

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.signals import Series

REASON = "FIREBREAK_PROMETHEUS_URL is not set"


class UnconfiguredMetricsSource:
    """Every query says why it cannot answer, so triage reports it rather than reading zeros."""

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        raise UpstreamUnavailableError(REASON)

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        raise UpstreamUnavailableError(REASON)
