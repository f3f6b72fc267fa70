"""A model's signals summarised the way the alert rules see them, read straight from state.

``read_model`` takes a snapshot (gauges now, counters so far); ``Window`` compares two
snapshots to get ratios over the time between them, like ``rate()`` over a range. Used by the
simulator's tests, benchmarks and demo narration; Prometheus never sees this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.simulation import Simulation
from simulator.telemetry import TTFT_BUCKETS_S

TTFT_SLO_S = 2.5


@dataclass(frozen=True)
class GpuReadout:
    """One GPU, by the node it sits on."""

    node: str
    pool: str
    utilization_pct: float
    temperature_c: float
    sm_clock_mhz: float
    clock_event_reasons: int
    last_xid: int


@dataclass(frozen=True)
class ModelReadout:
    """One model (or one pool of it) at one instant; gateway counters are model-wide."""

    clock_s: float
    version: str
    drift_psi: float
    waiting: float
    running: float
    kv_cache_usage_avg: float
    kv_cache_usage_max: float
    preemptions: float
    ttft_count: float
    ttft_over_slo: float
    requests_by_code: dict[str, float]
    upstream_errors: float
    gpus: list[GpuReadout]

    def gpu(self, node: str) -> GpuReadout:
        return next(gpu for gpu in self.gpus if gpu.node == node)


@dataclass(frozen=True)
class Window:
    """What happened to a model between two readouts."""

    before: ModelReadout
    after: ModelReadout

    def requests(self, code: str | None = None) -> float:
        codes = [code] if code is not None else list(self.after.requests_by_code)
        return sum(
            self.after.requests_by_code.get(c, 0.0) - self.before.requests_by_code.get(c, 0.0)
            for c in codes
        )

    @property
    def error_ratio(self) -> float:
        """Share of requests answered with a 5xx."""
        total = self.requests()
        errors = sum(self.requests(code) for code in self.after.requests_by_code if code[0] == "5")
        return errors / total if total else 0.0

    @property
    def ttft_slo_miss_ratio(self) -> float:
        """Share of requests whose first token came later than the SLO threshold."""
        count = self.after.ttft_count - self.before.ttft_count
        missed = self.after.ttft_over_slo - self.before.ttft_over_slo
        return missed / count if count else 0.0

    @property
    def preemptions(self) -> float:
        return self.after.preemptions - self.before.preemptions

    @property
    def upstream_errors_per_request(self) -> float:
        total = self.requests()
        return (self.after.upstream_errors - self.before.upstream_errors) / total if total else 0.0


def read_model(simulation: Simulation, name: str, pool: str | None = None) -> ModelReadout:
    """Snapshot the model's signals now; engine and GPU signals of one pool if ``pool``."""
    model = simulation.model(name)
    replicas = [r for r in model.replicas() if pool is None or r.pool == pool]
    serving = [replica for replica in replicas if replica.is_serving]
    slo_bucket = TTFT_BUCKETS_S.index(TTFT_SLO_S)
    kv = [replica.kv_cache_usage for replica in serving] or [0.0]
    return ModelReadout(
        clock_s=simulation.clock_s,
        version=model.version,
        drift_psi=model.drift_psi,
        waiting=sum(replica.num_requests_waiting for replica in replicas),
        running=sum(replica.num_requests_running for replica in replicas),
        kv_cache_usage_avg=sum(kv) / len(kv),
        kv_cache_usage_max=max(kv),
        preemptions=sum(replica.counters.preemptions for replica in replicas),
        ttft_count=sum(replica.counters.time_to_first_token.count for replica in replicas),
        ttft_over_slo=sum(
            replica.counters.time_to_first_token.count
            - replica.counters.time_to_first_token.cumulative[slo_bucket]
            for replica in replicas
        ),
        requests_by_code=dict(model.gateway.requests),
        upstream_errors=model.gateway.upstream_errors,
        gpus=[
            GpuReadout(
                node=replica.node,
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
