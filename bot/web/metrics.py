"""The /metrics registry: request-side counters plus gauges read from the store and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from bot.bootstrap import Container
from bot.domain.errors import StoreUnavailableError
from bot.domain.incidents import OPEN_STATUSES

log = structlog.get_logger(__name__)


class StoreCollector(Collector):
    """Open incidents and pending outbox rows, read at scrape time; task durations from Redis."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        try:
            with self._container.store.transaction() as tx:
                open_count = tx.incidents.count(OPEN_STATUSES)
                pending = tx.outbox.count_pending()
        except StoreUnavailableError as exc:
            log.warning("metrics_store_unavailable", reason=str(exc))
        else:
            yield GaugeMetricFamily(
                "firebreak_incidents_open", "Incidents not yet resolved", open_count
            )
            yield GaugeMetricFamily(
                "firebreak_outbox_pending", "Outbox rows not yet relayed", pending
            )
        try:
            snapshot = self._container.task_metrics.snapshot()
        except RedisError as exc:
            log.warning("metrics_task_durations_unavailable", reason=str(exc))
            return
        family = HistogramMetricFamily(
            "firebreak_task_duration_seconds", "Celery task durations", labels=["task"]
        )
        for task, values in snapshot.items():
            buckets = sorted(
                ((k.removeprefix("le:"), v) for k, v in values.items() if k.startswith("le:")),
                key=lambda kv: float(kv[0]),
            )
            family.add_metric([task], buckets, values.get("sum", 0.0))
        yield family


class WebMetrics:
    """Counters the API process owns."""

    def __init__(self, container: Container) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "firebreak_alerts_received",
            "Alerts received by status",
            ["status"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "firebreak_webhook_deliveries",
            "Webhook deliveries by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.alerts_rejected = Counter(
            "firebreak_alerts_rejected",
            "Alerts set aside from a delivery whose other alerts were stored",
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "firebreak_webhook_duration_seconds", "Webhook handling time", registry=self.registry
        )
        self.registry.register(StoreCollector(container))
