"""Task durations kept as histogram buckets in Redis, so every worker's timings reach /metrics."""

from __future__ import annotations

import redis

BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_KEY = "firebreak:metrics:task_seconds"


class RedisTaskMetrics:
    """Observe in the worker, read in the API: one Redis hash per task name."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def observe(self, task: str, duration_s: float, state: str) -> None:
        key = f"{_KEY}:{task}"
        pipe = self._redis.pipeline(transaction=False)
        for bound in BUCKETS_S:
            if duration_s <= bound:
                pipe.hincrby(key, f"le:{bound}", 1)
        pipe.hincrby(key, "le:+Inf", 1)
        pipe.hincrbyfloat(key, "sum", duration_s)
        pipe.hincrby(key, f"state:{state}", 1)
        pipe.sadd(_KEY, task)
        pipe.execute()

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per task: cumulative bucket counts (`le:<bound>`), `sum`, and `state:<name>` counts."""
        tasks = sorted(t.decode() for t in self._redis.smembers(_KEY))  # type: ignore[union-attr]
        out: dict[str, dict[str, float]] = {}
        for task in tasks:
            raw = self._redis.hgetall(f"{_KEY}:{task}")
            out[task] = {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]
        return out
