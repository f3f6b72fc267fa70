"""FakeTelemetry: the Telemetry port in memory, checking labels as the Redis adapter does."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.telemetry import MetricKind, MetricSpec


class FakeTelemetry:
    """Counter totals and histogram observations by (family, label values)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, tuple[str, ...]], float] = {}
        self.observed: dict[tuple[str, tuple[str, ...]], list[float]] = {}

    def count(
        self, metric: MetricSpec, labels: Mapping[str, str] | None = None, value: float = 1.0
    ) -> None:
        assert metric.kind is MetricKind.COUNTER, metric.name
        key = (metric.name, metric.label_values(labels))
        self.counts[key] = self.counts.get(key, 0.0) + value

    def observe(
        self, metric: MetricSpec, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        assert metric.kind is MetricKind.HISTOGRAM, metric.name
        self.observed.setdefault((metric.name, metric.label_values(labels)), []).append(value)
