"""Each simulated fault moves its own signals and not the others, and its runbook relieves it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from simulator.bodies import FaultBody
from simulator.catalog import LLAMA, RERANKER
from simulator.faults import FaultKind, FaultRequest
from simulator.fleet import ReplicaPhase
from simulator.readout import Window, observe
from simulator.simulation import InvalidActionError, Simulation, UnknownFaultError
from simulator.traffic import CLOCKS_EVENT_HW_THERMAL, CLOCKS_EVENT_SW_THERMAL

LLAMA_NAME, RERANKER_NAME = LLAMA.name, RERANKER.name
THERMAL_BITS = CLOCKS_EVENT_SW_THERMAL | CLOCKS_EVENT_HW_THERMAL


@pytest.fixture
def simulation() -> Simulation:
    simulation = Simulation(seed=11)
    simulation.advance(120)
    return simulation


def baseline_and_fault(simulation: Simulation, request: FaultRequest) -> tuple[Window, Window]:
    """Five healthy minutes, then five minutes with the fault."""
    healthy = observe(simulation, request.model, 300)
    simulation.inject(request)
    simulation.advance(60)
    return healthy, observe(simulation, request.model, 240)


def assert_gpus_nominal(window: Window) -> None:
    for gpu in window.after.gpus:
        assert gpu.last_xid == 0
        assert gpu.temperature_c < 80
        assert gpu.clock_event_reasons & THERMAL_BITS == 0


def test_saturation_moves_queue_kv_and_latency_only(simulation: Simulation) -> None:
    """Saturation raises queue, KV cache, preemptions and TTFT, not errors, drift or GPU faults."""
    healthy, faulty = baseline_and_fault(simulation, FaultRequest(FaultKind.SATURATION, LLAMA_NAME))
    assert faulty.after.waiting > 10 * max(healthy.after.waiting, 1)
    assert faulty.after.kv_cache_usage_max > 0.95
    assert faulty.preemptions > 0
    assert faulty.ttft_slo_miss_ratio > 0.3
    assert faulty.error_ratio < 0.01
    assert faulty.after.drift_psi < 0.05
    assert_gpus_nominal(faulty)


def test_gpu_xid_kills_the_engine_and_the_service_routes_around_it(
    simulation: Simulation,
) -> None:
    """XID 79 zeroes the GPU; its pod answers 5xx briefly, then turns not-ready and crash-loops
    while the pool's other replicas take its share without errors."""
    node = simulation.fleet.nodes_of(LLAMA_NAME)[0]
    pool = simulation.model(LLAMA_NAME).pools["primary"]
    victim = next(replica for replica in pool.replicas if replica.node == node)
    healthy = observe(simulation, LLAMA_NAME, 300)
    simulation.inject(FaultRequest(FaultKind.GPU_XID, LLAMA_NAME, node=node))
    simulation.advance(3)
    assert victim.phase is ReplicaPhase.DYING
    assert victim.http.by_status()["5xx"] > 0
    simulation.advance(57)
    assert victim.phase is ReplicaPhase.CRASH_LOOP
    assert not victim.is_ready
    assert pool.ready_replicas == 3
    restarts = victim.restarts
    faulty = observe(simulation, LLAMA_NAME, 240)
    assert victim.restarts >= restarts + 3
    assert victim.phase is ReplicaPhase.CRASH_LOOP
    broken = faulty.after.gpu(node)
    assert (broken.last_xid, broken.utilization_pct, broken.sm_clock_mhz) == (79, 0, 0)
    assert faulty.error_ratio < 0.01
    others = [gpu for gpu in faulty.after.gpus if gpu.node != node and gpu.pool == "primary"]
    before = [gpu for gpu in healthy.after.gpus if gpu.node != node and gpu.pool == "primary"]
    assert min(gpu.utilization_pct for gpu in others) > max(gpu.utilization_pct for gpu in before)
    assert faulty.after.kv_cache_usage_max < 0.9
    assert faulty.after.drift_psi < 0.05


def test_a_crash_looping_pod_serves_again_once_the_gpu_recovers(
    simulation: Simulation,
) -> None:
    """Clearing the XID lets the container's next restart load the model and serve."""
    fault = simulation.inject(FaultRequest(FaultKind.GPU_XID, LLAMA_NAME))
    simulation.advance(120)
    simulation.clear(fault.id)
    simulation.advance(60 + 60 + 5)
    assert simulation.model(LLAMA_NAME).pools["primary"].ready_replicas == 4


def test_failover_away_from_the_xid_pool_restores_service(simulation: Simulation) -> None:
    """Moving all traffic to the secondary pool ends the errors without saturating it."""
    simulation.inject(FaultRequest(FaultKind.GPU_XID, LLAMA_NAME))
    simulation.advance(120)
    simulation.set_traffic_weights(LLAMA_NAME, {"primary": 0, "secondary": 100})
    simulation.advance(60)
    after = observe(simulation, LLAMA_NAME, 240)
    assert after.error_ratio < 0.01
    assert after.ttft_slo_miss_ratio < 0.01
    assert after.after.kv_cache_usage_max < 0.9


def test_application_xid_does_not_stop_the_replica(simulation: Simulation) -> None:
    """XID 13 (a user-program fault) is reported but the replica keeps serving."""
    node = simulation.fleet.nodes_of(LLAMA_NAME)[0]
    _, faulty = baseline_and_fault(
        simulation, FaultRequest(FaultKind.GPU_XID, LLAMA_NAME, node=node, xid=13)
    )
    assert faulty.after.gpu(node).last_xid == 13
    assert faulty.after.gpu(node).utilization_pct > 10
    assert faulty.error_ratio < 0.01


def test_scaling_in_removes_the_broken_replica_first(simulation: Simulation) -> None:
    """Scale-in drops the replica on the failed GPU, as a ReplicaSet drops unhealthy pods."""
    node = simulation.fleet.nodes_of(LLAMA_NAME)[2]
    simulation.inject(FaultRequest(FaultKind.GPU_XID, LLAMA_NAME, node=node))
    simulation.advance(5)
    simulation.set_replicas(LLAMA_NAME, "primary", 3)
    assert node not in simulation.fleet.nodes_of(LLAMA_NAME)
    simulation.set_replicas(LLAMA_NAME, "primary", 4)
    simulation.advance(180)
    assert observe(simulation, LLAMA_NAME, 120).error_ratio < 0.01


def test_bad_deploy_changes_version_drift_and_errors(simulation: Simulation) -> None:
    """A bad deploy ships the next version; drift and the error ratio jump, GPUs stay fine."""
    healthy, faulty = baseline_and_fault(
        simulation, FaultRequest(FaultKind.BAD_DEPLOY, RERANKER_NAME)
    )
    assert (healthy.after.version, faulty.after.version) == ("2.3.0", "2.4.0")
    assert faulty.after.drift_psi > 0.25
    assert faulty.error_ratio > 0.05
    assert faulty.requests("5xx") > 0
    assert faulty.after.waiting < 20
    assert faulty.ttft_slo_miss_ratio < 0.01
    assert_gpus_nominal(faulty)


def test_rollback_to_known_good_relieves_a_bad_deploy(simulation: Simulation) -> None:
    """Rolling back to the known-good version returns drift and errors to normal."""
    simulation.inject(FaultRequest(FaultKind.BAD_DEPLOY, RERANKER_NAME))
    simulation.advance(120)
    known_good = simulation.known_good_version(RERANKER_NAME)
    assert known_good == "2.3.0"
    simulation.set_version(RERANKER_NAME, known_good)
    simulation.advance(120)
    after = observe(simulation, RERANKER_NAME, 120)
    assert after.after.version == "2.3.0"
    assert after.after.drift_psi < 0.05
    assert after.error_ratio < 0.01
    versions = [
        record["version"] for record in simulation.describe_model(RERANKER_NAME)["version_history"]
    ]
    assert versions == ["2.2.1", "2.3.0", "2.4.0", "2.3.0"]


def test_thermal_throttles_the_nodes_gpu_and_slows_it(simulation: Simulation) -> None:
    """A cooling failure takes the node's working GPU to ~90 C, thermal reasons, lower clock."""
    node = simulation.fleet.nodes_of(LLAMA_NAME)[1]
    healthy, faulty = baseline_and_fault(
        simulation, FaultRequest(FaultKind.THERMAL, LLAMA_NAME, node=node)
    )
    hot = faulty.after.gpu(node)
    assert 88 <= hot.temperature_c <= 93
    assert hot.clock_event_reasons & THERMAL_BITS
    assert hot.sm_clock_mhz < 0.8 * healthy.after.gpu(node).sm_clock_mhz
    replica = next(r for r in simulation.model(LLAMA_NAME).replicas() if r.node == node)
    healthy_replica = next(r for r in simulation.model(LLAMA_NAME).replicas() if r.node != node)
    assert replica.kv_cache_usage > healthy_replica.kv_cache_usage
    assert faulty.error_ratio < 0.01
    assert all(gpu.temperature_c < 80 for gpu in faulty.after.gpus if gpu.node != node)


def test_draining_a_hot_gpu_lets_it_cool(simulation: Simulation) -> None:
    """With traffic moved away from its pool, the throttled GPU cools and unthrottles."""
    node = simulation.fleet.nodes_of(LLAMA_NAME)[0]
    simulation.inject(FaultRequest(FaultKind.THERMAL, LLAMA_NAME, node=node))
    simulation.advance(180)
    simulation.set_traffic_weights(LLAMA_NAME, {"primary": 0, "secondary": 100})
    simulation.advance(240)
    gpu = observe(simulation, LLAMA_NAME, 10).after.gpu(node)
    assert gpu.temperature_c < 80
    assert gpu.clock_event_reasons & THERMAL_BITS == 0


def test_upstream_errors_raise_5xx_on_every_pod_but_leave_engines_alone(
    simulation: Simulation,
) -> None:
    """A failing dependency fails requests in the API server: 5xx on every pod of the model;
    engines, GPUs, drift and the release are unaffected."""
    healthy, faulty = baseline_and_fault(
        simulation, FaultRequest(FaultKind.UPSTREAM_ERRORS, LLAMA_NAME, intensity=0.5)
    )
    assert healthy.error_ratio < 0.01
    assert faulty.error_ratio > 0.2
    for replica in simulation.model(LLAMA_NAME).replicas():
        assert replica.http.by_status()["5xx"] > 0.1 * replica.http.by_status()["2xx"]
    assert faulty.after.kv_cache_usage_max < 0.6
    assert faulty.ttft_slo_miss_ratio < 0.01
    assert faulty.after.drift_psi < 0.05
    assert faulty.after.version == healthy.after.version
    assert_gpus_nominal(faulty)


def test_shared_node_thermal_hurts_both_models() -> None:
    """With shared nodes a cooling failure heats and throttles both models' GPUs."""
    simulation = Simulation(seed=11, shared_nodes=True)
    node = simulation.fleet.nodes_of(RERANKER_NAME)[0]
    assert node in simulation.fleet.nodes_of(LLAMA_NAME)
    simulation.inject(FaultRequest(FaultKind.THERMAL, RERANKER_NAME, node=node))
    simulation.advance(240)
    for name in (LLAMA_NAME, RERANKER_NAME):
        gpu = observe(simulation, name, 5).after.gpu(node)
        assert gpu.temperature_c >= 87, name
        assert gpu.clock_event_reasons & THERMAL_BITS, name


def test_clearing_a_fault_ends_its_effects(simulation: Simulation) -> None:
    """Deleting a fault stops it; deleting it again is an unknown fault."""
    fault = simulation.inject(FaultRequest(FaultKind.UPSTREAM_ERRORS, LLAMA_NAME))
    simulation.advance(60)
    simulation.clear(fault.id)
    assert observe(simulation, LLAMA_NAME, 60).error_ratio < 0.01
    with pytest.raises(UnknownFaultError):
        simulation.clear(fault.id)


def test_faults_on_one_model_leave_the_other_alone(simulation: Simulation) -> None:
    """Saturating llama does not touch the reranker's queue, errors or GPUs."""
    simulation.inject(FaultRequest(FaultKind.SATURATION, LLAMA_NAME, intensity=1.0))
    reranker = observe(simulation, RERANKER_NAME, 300)
    assert reranker.after.waiting < 20
    assert reranker.error_ratio < 0.01
    assert_gpus_nominal(reranker)


def test_node_faults_must_target_a_node_of_the_model(simulation: Simulation) -> None:
    """A GPU fault on a node that serves another model is refused."""
    reranker_node = simulation.fleet.nodes_of(RERANKER_NAME)[0]
    with pytest.raises(InvalidActionError, match="no replica on node"):
        simulation.inject(FaultRequest(FaultKind.THERMAL, LLAMA_NAME, node=reranker_node))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "meteor", "model": "m"}, "kind"),
        ({"kind": "saturation"}, "model"),
        ({"kind": "saturation", "model": ""}, "model"),
        ({"kind": "saturation", "model": "m", "intensity": 1.5}, "intensity"),
        ({"kind": "saturation", "model": "m", "intensity": True}, "intensity"),
        ({"kind": "saturation", "model": "m", "node": "gpu-node-01"}, "node"),
        ({"kind": "thermal", "model": "m", "xid": 79}, "xid"),
        ({"kind": "gpu_xid", "model": "m", "xid": 0}, "xid"),
        ({"kind": "gpu_xid", "model": "m", "xid": 79.0}, "xid"),
        ({"kind": "saturation", "model": "m", "colour": "red"}, "colour"),
    ],
)
def test_fault_requests_are_validated(body: dict[str, object], field: str) -> None:
    """Malformed fault requests are refused, naming the field at fault."""
    with pytest.raises(ValidationError) as refused:
        FaultBody.model_validate(body)
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_fault_request_defaults() -> None:
    """A minimal fault request gets intensity 0.5 and, for gpu_xid, XID 79 once injected."""
    request = FaultBody.model_validate({"kind": "gpu_xid", "model": LLAMA_NAME}).to_request()
    assert request.intensity == 0.5
    fault = Simulation(seed=1).inject(request)
    assert (fault.xid, fault.node, fault.id) == (79, "gpu-node-01", "fault-1")
