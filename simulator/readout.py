"""A model's signals summarised the way the alert rules see them, read straight from state.

``read_model`` takes a snapshot (gauges now, counters so far, per pod); ``Window`` compares
two snapshots to get ratios over the time between them, like ``rate()`` over a range: a pod
that appeared (or whose container restarted) counts from zero, a pod that was deleted drops
out. Used by the simulator's tests and benchmarks; Prometheus never sees this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.simulation import Simulation
from simulator.telemetry import HTTP_STATUSES, TTFT_BUCKETS_S

TTFT_SLO_S = 2.5


@dataclass(frozen=True)
class GpuReadout:
    """The GPU one of the model's pods runs on."""

    node: str
    gpu: str
    pod: str
    pool: str
    utilization_pct: float
    temperature_c: float
    sm_clock_mhz: float
    clock_event_reasons: int
    last_xid: int


@dataclass(frozen=True)
class PodReadout:
    """One pod's counters so far; ``key`` changes when its container restarts."""

    key: tuple[str, str]
    requests_by_status: dict[str, float]
    ttft_count: float
    ttft_over_slo: float
    preemptions: float


@dataclass(frozen=True)
class ModelReadout:
    """One model (or one pool of it) at one instant."""

    clock_s: float
    version: str
    drift_psi: float
    waiting: float
    running: float
    kv_cache_usage_avg: float
    kv_cache_usage_max: float
    pods: dict[tuple[str, str], PodReadout]
    gpus: list[GpuReadout]

    def gpu(self, node: str) -> GpuReadout:
        """The GPU of the model's (first) pod on ``node``."""
        return next(gpu for gpu in self.gpus if gpu.node == node)

    @property
    def requests_by_status(self) -> dict[str, float]:
        totals = dict.fromkeys(HTTP_STATUSES, 0.0)
        for pod in self.pods.values():
            for status, count in pod.requests_by_status.items():
                totals[status] += count
        return totals

    @property
    def preemptions(self) -> float:
        return sum(pod.preemptions for pod in self.pods.values())

    @property
    def ttft_count(self) -> float:
        return sum(pod.ttft_count for pod in self.pods.values())


@dataclass(frozen=True)
class Window:
    """What happened to a model between two readouts."""

    before: ModelReadout
    after: ModelReadout

    def _delta(self, read: Callable[[PodReadout], float]) -> float:
        total = 0.0
        for key, pod in self.after.pods.items():
            previous = self.before.pods.get(key)
            total += read(pod) - (read(previous) if previous is not None else 0.0)
        return total

    def requests(self, status: str | None = None) -> float:
        """Responses in the window, of one status class ("2xx", "4xx", "5xx") or all."""
        statuses = [status] if status is not None else list(HTTP_STATUSES)
        return self._delta(lambda pod: sum(pod.requests_by_status[s] for s in statuses))

    @property
    def error_ratio(self) -> float:
        """Share of responses that were server errors (5xx)."""
        total = self.requests()
        return self.requests("5xx") / total if total else 0.0

    @property
    def ttft_slo_miss_ratio(self) -> float:
        """Share of requests whose first token came later than the SLO threshold."""
        count = self._delta(lambda pod: pod.ttft_count)
        missed = self._delta(lambda pod: pod.ttft_over_slo)
        return missed / count if count else 0.0

    @property
    def preemptions(self) -> float:
        return self._delta(lambda pod: pod.preemptions)


def read_model(simulation: Simulation, name: str, pool: str | None = None) -> ModelReadout:
    """Snapshot the model's signals now; one pool's only if ``pool``."""
    model = simulation.model(name)
    replicas = [r for r in model.replicas() if pool is None or r.pool == pool]
    serving = [replica for replica in replicas if replica.is_serving]
    slo_bucket = TTFT_BUCKETS_S.index(TTFT_SLO_S)
    kv = [replica.kv_cache_usage for replica in serving] or [0.0]
    pods = {}
    for replica in replicas:
        ttft = replica.counters.time_to_first_token
        key = (replica.pod, replica.container_id)
        pods[key] = PodReadout(
            key=key,
            requests_by_status=replica.http.by_status(),
            ttft_count=ttft.count,
            ttft_over_slo=ttft.count - ttft.cumulative[slo_bucket],
            preemptions=replica.counters.preemptions,
        )
    return ModelReadout(
        clock_s=simulation.clock_s,
        version=model.version,
        drift_psi=model.drift_psi,
        waiting=sum(replica.num_requests_waiting for replica in replicas),
        running=sum(replica.num_requests_running for replica in replicas),
        kv_cache_usage_avg=sum(kv) / len(kv),
        kv_cache_usage_max=max(kv),
        pods=pods,
        gpus=[
            GpuReadout(
                node=replica.node,
                gpu=replica.gpu.index,
                pod=replica.pod,
                pool=replica.pool,
                utilization_pct=replica.gpu.utilization_pct,
                temperature_c=replica.gpu.temperature_c,
                sm_clock_mhz=replica.gpu.sm_clock_mhz,
                clock_event_reasons=replica.gpu.clock_event_reasons,
                last_xid=replica.gpu.last_xid,
            )
            for replica in replicas
        ],
    )


def observe(
    simulation: Simulation, name: str, simulated_s: float, pool: str | None = None
) -> Window:
    """Advance the simulation and return what happened to ``name`` (or one pool) meanwhile."""
    before = read_model(simulation, name, pool)
    simulation.advance(simulated_s)
    return Window(before, read_model(simulation, name, pool))
