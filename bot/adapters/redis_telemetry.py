"""RedisTelemetry: the Telemetry and TelemetryReader ports on Redis.

Every process records into the same Redis, so a count made in a worker's pool child reaches
the API's `/metrics` and outlives the process (Prometheus reads a Redis flush as a counter
reset). One hash per family, `firebreak:telemetry:<family>`; a field is the JSON list of the
label values followed by what it holds: `v` (a counter's total), or a histogram's `sum`,
`count` and `le:<bound>` (observations in that bucket alone; cumulated when read). A counter
costs one HINCRBYFLOAT, an observation one pipelined round trip of three commands.

Recording never raises: when Redis fails, the sample is dropped, the failure logged, and
recording pauses for `MUTE_S`, so an outage costs the stages one timeout, not one per sample;
`from_url` builds a client that fails at once (no retries, short timeouts) for the same
reason. Reading raises UpstreamUnavailableError. Queue depths are kombu's Redis lists: one per queue
and message priority step (`<queue>`, `<queue>\\x06\\x163`, ...).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.telemetry import MetricKind, MetricSpec, RecordedSeries, recorded_specs

log = structlog.get_logger(__name__)
KEY_PREFIX = "firebreak:telemetry:"
MUTE_S = 5.0
TIMEOUT_S = 1.0
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)  # kombu's redis transport defaults


def _field(values: tuple[str, ...], part: str) -> str:
    return json.dumps([*values, part], separators=(",", ":"))


def _bound(value: float) -> str:
    return repr(float(value))


class RedisTelemetry:
    """Records every process's samples in Redis and reads them back for `/metrics`."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._muted_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> RedisTelemetry:
        """On a client of its own that gives up at once: a metric is not worth a retry."""
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=TIMEOUT_S,
            socket_timeout=TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client)

    # ---- Telemetry ------------------------------------------------------------------------

    def count(
        self, metric: MetricSpec, labels: Mapping[str, str] | None = None, value: float = 1.0
    ) -> None:
        values = metric.label_values(labels)
        if metric.kind is not MetricKind.COUNTER:
            raise ValueError(f"{metric.name} is a {metric.kind.value}, not a counter")
        if self._muted():
            return
        try:
            self._redis.hincrbyfloat(KEY_PREFIX + metric.name, _field(values, "v"), value)
        except redis.RedisError as exc:
            self._mute(metric, exc)

    def observe(
        self, metric: MetricSpec, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        values = metric.label_values(labels)
        if metric.kind is not MetricKind.HISTOGRAM:
            raise ValueError(f"{metric.name} is a {metric.kind.value}, not a histogram")
        if self._muted():
            return
        bucket = next((b for b in metric.buckets if value <= b), None)
        key = KEY_PREFIX + metric.name
        pipe = self._redis.pipeline(transaction=False)
        pipe.hincrbyfloat(key, _field(values, "sum"), value)
        pipe.hincrby(key, _field(values, "count"), 1)
        if bucket is not None:
            pipe.hincrby(key, _field(values, f"le:{_bound(bucket)}"), 1)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            self._mute(metric, exc)

    def _muted(self) -> bool:
        return time.monotonic() < self._muted_until

    def _mute(self, metric: MetricSpec, exc: redis.RedisError) -> None:
        with self._lock:
            self._muted_until = time.monotonic() + MUTE_S
        log.warning("telemetry_unrecorded", metric=metric.name, reason=str(exc), paused_s=MUTE_S)

    # ---- TelemetryReader ------------------------------------------------------------------

    def recorded(self) -> dict[str, list[RecordedSeries]]:
        """Every recorded family's series, read in one round trip."""
        specs = recorded_specs()
        pipe = self._redis.pipeline(transaction=False)
        for spec in specs:
            pipe.hgetall(KEY_PREFIX + spec.name)
        try:
            replies = pipe.execute()
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"telemetry unavailable: {exc}") from exc
        return {spec.name: _series(spec, raw) for spec, raw in zip(specs, replies, strict=True)}

    def queue_depths(self, queues: Sequence[str]) -> dict[str, int]:
        """Messages waiting in each queue, over all of its priority lists."""
        pipe = self._redis.pipeline(transaction=False)
        for queue in queues:
            for step in PRIORITY_STEPS:
                pipe.llen(f"{queue}{PRIORITY_SEPARATOR}{step}" if step else queue)
        try:
            lengths = pipe.execute()
        except redis.RedisError as exc:
            raise UpstreamUnavailableError(f"broker unavailable: {exc}") from exc
        size = len(PRIORITY_STEPS)
        return {
            queue: sum(int(n) for n in lengths[i * size : (i + 1) * size])
            for i, queue in enumerate(queues)
        }


def _series(spec: MetricSpec, raw: Mapping[bytes, bytes]) -> list[RecordedSeries]:
    """A family's hash as series; fields of another label set (an older release) are skipped."""
    parts: dict[tuple[str, ...], dict[str, float]] = {}
    for field, number in raw.items():
        decoded = json.loads(field)
        values, part = tuple(str(v) for v in decoded[:-1]), str(decoded[-1])
        if len(values) != len(spec.labels):
            continue
        parts.setdefault(values, {})[part] = float(number)
    if spec.kind is MetricKind.COUNTER:
        return [
            RecordedSeries(values, held.get("v", 0.0)) for values, held in sorted(parts.items())
        ]
    series = []
    for values, held in sorted(parts.items()):
        running, cumulative = 0.0, []
        for bound in spec.buckets:
            running += held.get(f"le:{_bound(bound)}", 0.0)
            cumulative.append(running)
        series.append(
            RecordedSeries(values, held.get("count", 0.0), held.get("sum", 0.0), tuple(cumulative))
        )
    return series
