"""The simulator's traffic model: load against capacity, warm-up, determinism, monotonicity."""

from __future__ import annotations

import pytest

from simulator.catalog import LLAMA, REPLICA_WARMUP_S
from simulator.exposition import render
from simulator.faults import FaultKind, FaultRequest
from simulator.readout import observe, read_model
from simulator.simulation import Simulation

LLAMA_NAME = LLAMA.name


@pytest.fixture
def simulation() -> Simulation:
    """A fleet past its first minutes, so lags have settled."""
    simulation = Simulation(seed=7)
    simulation.advance(120)
    return simulation


def test_healthy_fleet_meets_its_slo(simulation: Simulation) -> None:
    """With load below capacity, queues stay short, KV cache moderate and TTFT within SLO."""
    window = observe(simulation, LLAMA_NAME, 300)
    after = window.after
    assert after.waiting < 20
    assert 0.1 < after.kv_cache_usage_avg < 0.6
    assert window.ttft_slo_miss_ratio < 0.001
    assert window.error_ratio < 0.01
    assert window.preemptions == 0
    assert 0.01 < after.drift_psi < 0.05


def test_load_above_capacity_builds_a_queue_and_fills_the_kv_cache(
    simulation: Simulation,
) -> None:
    """A traffic surge beyond capacity grows the queue, fills KV cache, preempts, slows TTFT."""
    simulation.inject(FaultRequest(FaultKind.SATURATION, LLAMA_NAME, intensity=0.5))
    early = observe(simulation, LLAMA_NAME, 60, pool="primary")
    late = observe(simulation, LLAMA_NAME, 120, pool="primary")
    assert late.after.waiting > early.after.waiting > 100
    assert late.after.kv_cache_usage_avg > 0.93
    assert late.preemptions > 0
    assert late.ttft_slo_miss_ratio > 0.5


def test_higher_intensity_saturates_harder() -> None:
    """The saturation multiplier grows with intensity, and so does the queue."""
    waiting = []
    for intensity in (0.0, 1.0):
        simulation = Simulation(seed=1)
        simulation.inject(FaultRequest(FaultKind.SATURATION, LLAMA_NAME, intensity=intensity))
        simulation.advance(120)
        waiting.append(read_model(simulation, LLAMA_NAME).waiting)
    assert waiting[1] > 2 * waiting[0]


def test_scaling_out_relieves_saturation(simulation: Simulation) -> None:
    """Enough new replicas, once warmed up, drain the queue and bring TTFT back within SLO."""
    simulation.inject(FaultRequest(FaultKind.SATURATION, LLAMA_NAME, intensity=0.5))
    simulation.advance(180)
    simulation.set_replicas(LLAMA_NAME, "primary", 9)
    simulation.advance(900)
    window = observe(simulation, LLAMA_NAME, 120)
    assert window.after.waiting < 50
    assert window.after.kv_cache_usage_max < 0.9
    assert window.ttft_slo_miss_ratio < 0.01


def test_new_replicas_take_traffic_only_after_warm_up(simulation: Simulation) -> None:
    """A scaled-out replica warms up (no traffic, not ready) before it serves."""
    simulation.set_replicas(LLAMA_NAME, "primary", 5)
    pool = simulation.model(LLAMA_NAME).pools["primary"]
    assert (len(pool.replicas), pool.ready_replicas) == (5, 4)
    newest = pool.replicas[-1]
    simulation.advance(REPLICA_WARMUP_S / 2)
    assert newest.gpu.utilization_pct == 0
    simulation.advance(REPLICA_WARMUP_S)
    assert pool.ready_replicas == 5
    assert newest.gpu.utilization_pct > 10


def test_scaling_down_removes_the_newest_replicas_and_their_nodes(
    simulation: Simulation,
) -> None:
    """Scaling in removes the newest pods, and their nodes' GPU series with them."""
    pool = simulation.model(LLAMA_NAME).pools["primary"]
    pods = [replica.pod for replica in pool.replicas]
    simulation.set_replicas(LLAMA_NAME, "primary", 2)
    assert [replica.pod for replica in pool.replicas] == pods[:2]
    assert pods[3] not in render(simulation).decode()


def test_same_seed_same_fleet() -> None:
    """One seed and one sequence of actions render identical metrics; another seed does not."""
    renders = []
    for _ in range(2):
        simulation = Simulation(seed=42)
        simulation.advance(60)
        simulation.inject(FaultRequest(FaultKind.THERMAL, LLAMA_NAME, intensity=0.7))
        simulation.set_replicas(LLAMA_NAME, "secondary", 4)
        simulation.advance(90)
        renders.append(render(simulation))
    assert renders[0] == renders[1]
    other = Simulation(seed=43)
    other.advance(60)
    first = Simulation(seed=42)
    first.advance(60)
    assert render(other) != render(first)


def test_step_size_does_not_change_the_outcome() -> None:
    """One 600 s advance and 2400 quarter-second ticks converge to the same fleet state."""
    coarse, fine = Simulation(seed=3), Simulation(seed=3)
    coarse.advance(600)
    for _ in range(2400):
        fine.advance(0.25)
    coarse_readout, fine_readout = read_model(coarse, LLAMA_NAME), read_model(fine, LLAMA_NAME)
    assert coarse_readout.clock_s == pytest.approx(fine_readout.clock_s)
    assert coarse_readout.kv_cache_usage_avg == pytest.approx(
        fine_readout.kv_cache_usage_avg, abs=0.05
    )
    assert coarse_readout.ttft_count == pytest.approx(fine_readout.ttft_count, rel=0.05)
