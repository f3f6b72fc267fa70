"""The traffic model: one step of load against capacity, and everything that follows from it.

For each model, demand (base rate x fault multiplier x mild noise) is split across pools by
traffic weight, and evenly across each pool's ready pods (the Service's endpoints). Each pod's
vLLM API server counts every request when its response starts (``http_requests_total``): a
small share of client errors (4xx), failures before the engine (an upstream dependency, a
defective release: 5xx), and the rest admitted to the engine (2xx; clients that give up in
the queue later show as ``finished_reason="abort"``). A pod whose engine just died answers
everything with 5xx until it turns not-ready. A pool with traffic but no ready pod loses it
(no endpoint answers, so no pod counts it).

Each engine is a fluid queue: when arrivals exceed its capacity (per-replica throughput x
thermal throttle factor) a backlog builds, which fills the KV cache, causes preemptions and
adds queueing delay to time to first token. Below capacity, steady-state queueing
(rho^2 / (1 - rho)) keeps waiting small. Every GPU of the cluster then follows its engine's
load; a node's cooling failure pushes its working GPUs past the throttle point, which cuts
clocks and therefore capacity.
"""

from __future__ import annotations

import math
import random

from simulator.catalog import (
    CLIENT_TIMEOUT_S,
    GPU_FRAMEBUFFER_MIB,
    GPU_IDLE_SM_CLOCK_MHZ,
    GPU_MAX_SM_CLOCK_MHZ,
    MAX_NUM_SEQS,
    VLLM_GPU_MEMORY_UTILIZATION,
    ModelSpec,
)
from simulator.cluster import Cluster, Gpu
from simulator.faults import FaultEffects, NodeEffects
from simulator.fleet import ModelState, Pool, Replica, ReplicaPhase

BASELINE_APP_ERROR_RATIO = 0.002
BASELINE_CLIENT_ERROR_RATIO = 0.003
BASELINE_ABORT_RATIO = 0.001
BASELINE_DRIFT_PSI = 0.02
FAILED_RESPONSE_S = 0.02
"""Median duration of a request the API server fails before the engine."""

THROTTLE_START_C = 87.0
HW_SLOWDOWN_C = 89.0
CLOCKS_EVENT_GPU_IDLE = 0x1
CLOCKS_EVENT_HW_SLOWDOWN = 0x8
CLOCKS_EVENT_SW_THERMAL = 0x20
CLOCKS_EVENT_HW_THERMAL = 0x40

KV_CACHE_TIME_CONSTANT_S = 15.0
TEMPERATURE_TIME_CONSTANT_S = 20.0
DRIFT_TIME_CONSTANT_S = 10.0


def approach(current: float, target: float, dt_s: float, time_constant_s: float) -> float:
    """First-order lag: move ``current`` toward ``target``; stable for any step size."""
    return current + (target - current) * (1.0 - math.exp(-dt_s / time_constant_s))


def defect_error_ratio(intensity: float) -> float:
    return 0.08 + 0.17 * intensity


def defect_drift_psi(intensity: float) -> float:
    return 0.30 + 0.40 * intensity


def step_model(model: ModelState, effects: FaultEffects, dt_s: float, rng: random.Random) -> None:
    """Advance one model's pods by ``dt_s`` simulated seconds under the given fault effects."""
    spec = model.spec
    demand_rps = spec.request_rate_rps * effects.traffic_multiplier
    demand_rps *= max(0.5, 1.0 + rng.gauss(0.0, 0.03))
    total_weight = sum(pool.traffic_weight for pool in model.pools.values())
    drifted_psi, served_rps = 0.0, 0.0
    for pool in model.pools.values():
        pool_rps = demand_rps * pool.traffic_weight / total_weight if total_weight > 0 else 0.0
        pool_drift, pool_served = _step_pool(model, pool, pool_rps, effects, dt_s, rng)
        drifted_psi += pool_drift
        served_rps += pool_served
    drift_target = BASELINE_DRIFT_PSI + abs(rng.gauss(0.0, 0.004))
    if served_rps > 0.0 and drifted_psi > 0.0:
        drifted_share_psi = drifted_psi / served_rps
        drift_target = max(drift_target, drifted_share_psi + rng.gauss(0.0, 0.01))
    model.drift_psi = max(0.0, approach(model.drift_psi, drift_target, dt_s, DRIFT_TIME_CONSTANT_S))


def _step_pool(
    model: ModelState,
    pool: Pool,
    pool_rps: float,
    effects: FaultEffects,
    dt_s: float,
    rng: random.Random,
) -> tuple[float, float]:
    """Route a pool's share to its ready pods; return (served x drift PSI, served) per second."""
    ready = [replica for replica in pool.replicas if replica.is_ready]
    per_replica_rps = pool_rps / len(ready) if ready else 0.0
    drifted_psi = served_total = 0.0
    for replica in pool.replicas:
        arrival_rps = per_replica_rps if replica.is_ready else 0.0
        engine_rps = _answer_requests(replica, model.spec, arrival_rps, effects, dt_s)
        served_rps = _step_engine(replica, model.spec, engine_rps, dt_s, rng)
        defect = effects.defective_versions.get(replica.version)
        if defect is not None:
            drifted_psi += served_rps * defect_drift_psi(defect)
        served_total += served_rps
        is_working = replica.is_serving and engine_rps > 0.0
        replica.gpu.busy = (
            min(1.0, engine_rps / _capacity_rps(replica, model.spec)) if is_working else 0.0
        )
    return drifted_psi, served_total


def _answer_requests(
    replica: Replica, spec: ModelSpec, arrival_rps: float, effects: FaultEffects, dt_s: float
) -> float:
    """Count the pod's responses by handler and status; return requests admitted per second."""
    if arrival_rps <= 0.0:
        return 0.0
    defect = effects.defective_versions.get(replica.version)
    app_error_ratio = BASELINE_APP_ERROR_RATIO
    if defect is not None:
        app_error_ratio += defect_error_ratio(defect)
    client_errors = arrival_rps * BASELINE_CLIENT_ERROR_RATIO
    valid = arrival_rps - client_errors
    if replica.phase is ReplicaPhase.DYING:
        failed = valid
    else:
        upstream_failed = valid * effects.upstream_error_ratio
        failed = upstream_failed + (valid - upstream_failed) * app_error_ratio
    admitted = valid - failed
    ttft_s = spec.prefill_s / replica.gpu.throttle_factor + replica.num_requests_waiting / max(
        _capacity_rps(replica, spec), 1e-6
    )
    for handler, share in spec.handler_shares:
        http = replica.http
        http.record(handler, "4xx", client_errors * share * dt_s)
        http.record(handler, "5xx", failed * share * dt_s)
        http.record(handler, "2xx", admitted * share * dt_s)
        duration = http.duration[handler]
        duration.observe_lognormal((client_errors + failed) * share * dt_s, FAILED_RESPONSE_S, 0.5)
        duration.observe_lognormal(admitted * share * dt_s, ttft_s, 0.4)
    return admitted


def _capacity_rps(replica: Replica, spec: ModelSpec) -> float:
    return spec.replica_throughput_rps * replica.gpu.throttle_factor


def _step_engine(
    replica: Replica, spec: ModelSpec, arrival_rps: float, dt_s: float, rng: random.Random
) -> float:
    """Advance one vLLM engine; return the requests it completed per second."""
    if not replica.is_serving:
        _idle_engine(replica)
        return 0.0
    capacity_rps = _capacity_rps(replica, spec)
    backlog_before = replica.backlog
    backlog = max(0.0, backlog_before + (arrival_rps - capacity_rps) * dt_s)
    served_rps = arrival_rps + (backlog_before - backlog) / dt_s
    max_backlog = capacity_rps * CLIENT_TIMEOUT_S
    aborted_rps = 0.0
    if backlog > max_backlog:
        aborted_rps = (backlog - max_backlog) / dt_s
        backlog = max_backlog
    replica.backlog = backlog

    load = arrival_rps / capacity_rps
    busy = min(load, 1.0)
    steady_load = min(load, 0.95)
    steady_queue = steady_load * steady_load / (1.0 - steady_load)
    waiting = max(0.0, backlog + steady_queue * (1.0 + rng.gauss(0.0, 0.1)))
    replica.num_requests_waiting = float(round(waiting))
    queue_wait_s = waiting / capacity_rps

    slowdown = 1.0 / replica.gpu.throttle_factor
    ttft_s = spec.prefill_s * slowdown * (1.0 + 0.5 * busy) + queue_wait_s
    inter_token_s = spec.inter_token_s * slowdown * (1.0 + 0.6 * busy)
    decode_s = spec.generation_tokens_mean * inter_token_s
    replica.num_requests_running = float(
        round(min(MAX_NUM_SEQS, served_rps * (decode_s + spec.prefill_s)))
    )
    if backlog > 1.0:
        kv_target = 0.93 + 0.06 * min(1.0, backlog / (capacity_rps * 20.0))
    else:
        kv_target = 0.04 + 0.6 * busy
    kv = approach(replica.kv_cache_usage, kv_target, dt_s, KV_CACHE_TIME_CONSTANT_S)
    replica.kv_cache_usage = min(1.0, max(0.0, kv + rng.gauss(0.0, 0.003)))

    completed = served_rps * dt_s
    counters = replica.counters
    counters.time_to_first_token.observe_lognormal(completed, ttft_s, 0.35)
    counters.e2e_latency.observe_lognormal(completed, ttft_s + decode_s, 0.4)
    tokens_between = max(0.0, spec.generation_tokens_mean - 1.0)
    counters.inter_token_latency.observe_lognormal(completed * tokens_between, inter_token_s, 0.25)
    counters.finished["stop"] += completed * 0.88
    counters.finished["length"] += completed * (0.12 - BASELINE_ABORT_RATIO)
    counters.finished["abort"] += completed * BASELINE_ABORT_RATIO + aborted_rps * dt_s
    counters.prompt_tokens += completed * spec.prompt_tokens_mean
    counters.generation_tokens += completed * spec.generation_tokens_mean
    counters.preemptions += completed * max(0.0, replica.kv_cache_usage - 0.9) * 3.0
    return served_rps


def _idle_engine(replica: Replica) -> None:
    replica.backlog = 0.0
    replica.num_requests_waiting = 0.0
    replica.num_requests_running = 0.0
    replica.kv_cache_usage = 0.0


def apply_xids(cluster: Cluster, effects: NodeEffects) -> None:
    """Every GPU reports the XID its active fault gives it (0 when none)."""
    for gpu in cluster.gpus():
        gpu.last_xid = effects.xid_by_gpu.get((gpu.node, gpu.index), 0)


def step_gpus(cluster: Cluster, effects: NodeEffects, dt_s: float, rng: random.Random) -> None:
    """Advance every GPU of the cluster: its engine's load, its node's cooling, its XID."""
    for node in cluster.nodes:
        thermal = effects.thermal_intensity_by_node.get(node.name)
        for gpu in node.gpus:
            if gpu.has_fallen_over:
                _step_dead_gpu(gpu, dt_s)
            else:
                _step_gpu(gpu, thermal, dt_s, rng)


def _step_gpu(gpu: Gpu, thermal: float | None, dt_s: float, rng: random.Random) -> None:
    """Utilisation follows load; temperature follows utilisation (or a cooling failure)."""
    loaded = GPU_FRAMEBUFFER_MIB * VLLM_GPU_MEMORY_UTILIZATION
    gpu.framebuffer_used_mib = loaded if gpu.loaded else 0.0
    if gpu.busy > 0.0:
        utilization = 100.0 * (0.12 + 0.88 * gpu.busy) + rng.gauss(0.0, 1.5)
        gpu.utilization_pct = float(round(min(100.0, max(1.0, utilization))))
    else:
        gpu.utilization_pct = 0.0
    temperature_target = 31.0 + 0.4 * gpu.utilization_pct
    if thermal is not None:
        if gpu.utilization_pct > 5.0:
            temperature_target = 88.0 + 4.0 * thermal
        else:
            temperature_target += 12.0
    temperature_target += rng.gauss(0.0, 0.3)
    gpu.temperature_c = approach(
        gpu.temperature_c, temperature_target, dt_s, TEMPERATURE_TIME_CONSTANT_S
    )
    throttled = gpu.temperature_c >= THROTTLE_START_C
    gpu.throttle_factor = (
        min(1.0, max(0.45, 1.0 - (gpu.temperature_c - 85.0) * 0.08)) if throttled else 1.0
    )
    reasons = 0
    if gpu.utilization_pct < 1.0:
        reasons |= CLOCKS_EVENT_GPU_IDLE
    if throttled:
        reasons |= CLOCKS_EVENT_SW_THERMAL
    if gpu.temperature_c >= HW_SLOWDOWN_C:
        reasons |= CLOCKS_EVENT_HW_THERMAL | CLOCKS_EVENT_HW_SLOWDOWN
    gpu.clock_event_reasons = reasons
    busy_clock = GPU_MAX_SM_CLOCK_MHZ * gpu.throttle_factor
    gpu.sm_clock_mhz = float(
        round(busy_clock if gpu.utilization_pct >= 1.0 else GPU_IDLE_SM_CLOCK_MHZ)
    )
    gpu.power_w = 70.0 + 6.2 * gpu.utilization_pct * gpu.throttle_factor


def _step_dead_gpu(gpu: Gpu, dt_s: float) -> None:
    """A GPU that fell off the bus: no work, no clocks; it cools down, the XID stays."""
    gpu.utilization_pct = 0.0
    gpu.sm_clock_mhz = 0.0
    gpu.power_w = 0.0
    gpu.throttle_factor = 1.0
    gpu.clock_event_reasons = 0
    gpu.framebuffer_used_mib = 0.0
    gpu.temperature_c = approach(gpu.temperature_c, 34.0, dt_s, TEMPERATURE_TIME_CONSTANT_S)
