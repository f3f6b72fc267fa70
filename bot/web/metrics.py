"""The /metrics registry: the API process's own counters, plus what every other process
recorded (Redis) and what the database and broker hold, read at scrape time.

Every family is declared in bot/domain/telemetry.py. A source that cannot answer leaves its
families out of that scrape (and says so in the log); the others are still served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bot.domain.errors import StoreUnavailableError, UpstreamUnavailableError
from bot.domain.incidents import IncidentStatus
from bot.domain.telemetry import (
    ALERTS_RECEIVED,
    ALERTS_REJECTED,
    DELIVERIES_PENDING,
    DELIVERIES_PENDING_AGE,
    INCIDENTS,
    INCIDENTS_OPEN,
    OUTBOX_PENDING,
    OUTBOX_PENDING_AGE,
    QUEUE_DEPTH,
    RUNBOOK_RUNS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_SECONDS,
    Backlog,
    MetricKind,
    MetricSpec,
    RecordedSeries,
    recorded_specs,
)
from bot.ports import BacklogReader, TelemetryReader

log = structlog.get_logger(__name__)


def _gauge(spec: MetricSpec, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(spec.name, spec.help, value=value)


def _backlog_families(backlog: Backlog) -> Iterator[Metric]:
    incidents = GaugeMetricFamily(INCIDENTS.name, INCIDENTS.help, labels=INCIDENTS.labels)
    for status in IncidentStatus:
        incidents.add_metric([status.value], backlog.incidents.get(status.value, 0))
    yield incidents
    open_count = sum(n for s, n in backlog.incidents.items() if s != IncidentStatus.RESOLVED)
    yield _gauge(INCIDENTS_OPEN, open_count)
    yield _gauge(DELIVERIES_PENDING, backlog.deliveries_pending)
    yield _gauge(DELIVERIES_PENDING_AGE, backlog.deliveries_oldest_age_s)
    yield _gauge(OUTBOX_PENDING, backlog.outbox_pending)
    yield _gauge(OUTBOX_PENDING_AGE, backlog.outbox_oldest_age_s)
    runs = GaugeMetricFamily(RUNBOOK_RUNS.name, RUNBOOK_RUNS.help, labels=RUNBOOK_RUNS.labels)
    for (runbook, state), count in sorted(backlog.runs.items()):
        runs.add_metric([runbook, state], count)
    yield runs


def _recorded_family(spec: MetricSpec, series: Sequence[RecordedSeries]) -> Metric:
    if spec.kind is MetricKind.COUNTER:
        counter = CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
        for one in series:
            counter.add_metric(list(one.labels), one.value)
        return counter
    histogram = HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)
    for one in series:
        buckets = [(repr(b), n) for b, n in zip(spec.buckets, one.buckets, strict=True)]
        histogram.add_metric(list(one.labels), [*buckets, ("+Inf", one.value)], one.sum)
    return histogram


class StageCollector(Collector):
    """Reads the database, the recorded samples and the queue depths on every scrape."""

    def __init__(
        self,
        backlog: BacklogReader,
        telemetry: TelemetryReader,
        queues: Sequence[str],
        clock: Callable[[], datetime],
    ) -> None:
        self._backlog = backlog
        self._telemetry = telemetry
        self._queues = tuple(queues)
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            yield from _backlog_families(self._backlog.backlog(self._clock()))
        except StoreUnavailableError as exc:
            log.warning("metrics_store_unavailable", reason=str(exc))
        try:
            recorded = self._telemetry.recorded()
        except UpstreamUnavailableError as exc:
            log.warning("metrics_telemetry_unavailable", reason=str(exc))
        else:
            for spec in recorded_specs():
                yield _recorded_family(spec, recorded.get(spec.name, []))
        try:
            depths = self._telemetry.queue_depths(self._queues)
        except UpstreamUnavailableError as exc:
            log.warning("metrics_queue_depths_unavailable", reason=str(exc))
            return
        spec = QUEUE_DEPTH
        queue_depth = GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
        for queue, depth in depths.items():
            queue_depth.add_metric([queue], depth)
        yield queue_depth


class WebMetrics:
    """The API process's registry: its own counters and the StageCollector."""

    def __init__(self, stages: StageCollector) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = self._counter(ALERTS_RECEIVED)
        self.deliveries = self._counter(WEBHOOK_DELIVERIES)
        self.alerts_rejected = self._counter(ALERTS_REJECTED)
        self.webhook_seconds = Histogram(
            WEBHOOK_SECONDS.name,
            WEBHOOK_SECONDS.help,
            buckets=WEBHOOK_SECONDS.buckets,
            registry=self.registry,
        )
        self.registry.register(stages)

    def _counter(self, spec: MetricSpec) -> Counter:
        return Counter(spec.name, spec.help, spec.labels, registry=self.registry)
