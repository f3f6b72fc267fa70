"""The simulated fleet's Kubernetes lifecycle as the exporters show it: rollouts, rollbacks,
scale-out, releases, engines that die and crash-loop, and the shared-node layout."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from simulator.app import create_app
from simulator.catalog import LLAMA, REPLICA_WARMUP_S, RERANKER
from simulator.exposition import render
from simulator.faults import FaultKind, FaultRequest
from simulator.simulation import Simulation

LLAMA_NAME, RERANKER_NAME = LLAMA.name, RERANKER.name
REGISTRY = "registry.example.com/genai"


def samples(simulation: Simulation, name: str) -> list[Sample]:
    text = render(simulation).decode()
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def pods_of(simulation: Simulation, metric: str, model: str) -> set[str]:
    return {s.labels["pod"] for s in samples(simulation, metric) if model in s.labels["pod"]}


def replicasets(simulation: Simulation, deployment: str) -> set[str]:
    return {
        s.labels["created_by_name"]
        for s in samples(simulation, "kube_pod_info")
        if s.labels["created_by_name"].startswith(f"{deployment}-")
    }


def test_a_release_rolls_pods_over_to_a_new_replicaset_and_image() -> None:
    """New pods warm beside the old ones; once they serve, the old pods and series are gone."""
    simulation = Simulation(seed=3)
    simulation.advance(60)
    deployment = f"{RERANKER_NAME}-primary"
    old_pods = pods_of(simulation, "vllm:num_requests_running", RERANKER_NAME)
    (old_replicaset,) = replicasets(simulation, deployment)
    assert simulation.release(RERANKER_NAME) == "2.3.1"
    simulation.advance(REPLICA_WARMUP_S / 2)
    assert len(replicasets(simulation, deployment)) == 2
    assert pods_of(simulation, "vllm:num_requests_running", RERANKER_NAME) == old_pods
    simulation.advance(REPLICA_WARMUP_S)
    (new_replicaset,) = replicasets(simulation, deployment)
    assert new_replicaset != old_replicaset
    new_pods = pods_of(simulation, "vllm:num_requests_running", RERANKER_NAME)
    assert len(new_pods) == 2
    assert not new_pods & old_pods
    assert all(pod.startswith(f"{new_replicaset}-") for pod in new_pods)
    assert not pods_of(simulation, "kube_pod_info", RERANKER_NAME) & old_pods
    images = {
        s.labels["image"] for s in samples(simulation, "kube_pod_container_info")
        if RERANKER_NAME in s.labels["pod"]
    }  # fmt: skip
    assert images == {f"{REGISTRY}/{RERANKER_NAME}:2.3.1"}
    owners = {s.labels["replicaset"] for s in samples(simulation, "kube_replicaset_owner")}
    assert {old_replicaset, new_replicaset} <= owners
    assert simulation.known_good_version(RERANKER_NAME) == "2.3.1"


def test_rollback_reuses_the_old_replicaset_name_with_new_pods() -> None:
    """Going back to an old image brings back its ReplicaSet name, not its pods."""
    simulation = Simulation(seed=3)
    deployment = f"{LLAMA_NAME}-secondary"
    (original,) = replicasets(simulation, deployment)
    first_pods = pods_of(simulation, "kube_pod_info", deployment)
    simulation.inject(FaultRequest(FaultKind.BAD_DEPLOY, LLAMA_NAME))
    simulation.advance(120)
    assert replicasets(simulation, deployment) != {original}
    simulation.set_version(LLAMA_NAME, "v1.4.2")
    simulation.advance(120)
    assert replicasets(simulation, deployment) == {original}
    pods = pods_of(simulation, "kube_pod_info", deployment)
    assert len(pods) == 3
    assert not pods & first_pods


def test_a_bad_deploy_fails_requests_on_its_new_pods() -> None:
    """During a bad rollout, 5xx come from the new release's pods, not the old ones."""
    simulation = Simulation(seed=3)
    simulation.advance(30)
    simulation.inject(FaultRequest(FaultKind.BAD_DEPLOY, RERANKER_NAME, intensity=1.0))
    simulation.advance(REPLICA_WARMUP_S + 30)
    for replica in simulation.model(RERANKER_NAME).replicas():
        statuses = replica.http.by_status()
        assert replica.version == "2.4.0"
        assert statuses["5xx"] > 0.15 * (statuses["2xx"] + statuses["5xx"])


def test_scale_out_adds_pods_to_the_current_replicaset() -> None:
    """More replicas means more pods of the same ReplicaSet, ready after warm-up."""
    simulation = Simulation(seed=3)
    deployment = f"{LLAMA_NAME}-primary"
    (replicaset,) = replicasets(simulation, deployment)
    simulation.set_replicas(LLAMA_NAME, "primary", 6)
    assert replicasets(simulation, deployment) == {replicaset}
    assert len(pods_of(simulation, "kube_pod_info", deployment)) == 6
    spec = {
        s.labels["deployment"]: s.value
        for s in samples(simulation, "kube_deployment_spec_replicas")
    }
    available = {
        s.labels["deployment"]: s.value
        for s in samples(simulation, "kube_deployment_status_replicas_available")
    }
    assert (spec[deployment], available[deployment]) == (6, 4)
    simulation.advance(REPLICA_WARMUP_S + 1)
    assert len(pods_of(simulation, "vllm:num_requests_running", deployment)) == 6


def test_a_dead_engines_series_end_and_its_restarts_climb() -> None:
    """After a GPU XID the pod's vLLM and http series end, it is not ready and restarts."""
    simulation = Simulation(seed=3)
    simulation.advance(30)
    fault = simulation.inject(FaultRequest(FaultKind.GPU_XID, LLAMA_NAME))
    victim = next(r for r in simulation.model(LLAMA_NAME).replicas() if r.node == fault.node)
    simulation.advance(30)
    assert victim.pod not in pods_of(simulation, "vllm:num_requests_running", LLAMA_NAME)
    assert victim.pod not in pods_of(simulation, "http_requests_total", LLAMA_NAME)
    ready = {
        s.labels["condition"]: s.value
        for s in samples(simulation, "kube_pod_status_ready")
        if s.labels["pod"] == victim.pod
    }
    assert ready == {"true": 0, "false": 1, "unknown": 0}

    def restarts() -> float:
        return next(
            s.value
            for s in samples(simulation, "kube_pod_container_status_restarts_total")
            if s.labels["pod"] == victim.pod
        )

    first = restarts()
    simulation.advance(300)
    assert restarts() >= first + 5
    mapped = [s for s in samples(simulation, "DCGM_FI_DEV_XID_ERRORS") if s.value == 79]
    assert [s.labels.get("pod") for s in mapped] == [victim.pod]


def test_shared_nodes_put_the_reranker_on_gpu_1_of_llama_primary_nodes() -> None:
    """The shared layout hosts two models on a node; the default gives each its own nodes."""
    shared = Simulation(seed=3, shared_nodes=True)
    llama_primary = {r.node for r in shared.model(LLAMA_NAME).pools["primary"].replicas}
    reranker = shared.model(RERANKER_NAME).replicas()
    assert {r.node for r in reranker} <= llama_primary
    assert {r.gpu.index for r in reranker} == {"1"}
    separate = Simulation(seed=3)
    assert not set(separate.fleet.nodes_of(RERANKER_NAME)) & set(
        separate.fleet.nodes_of(LLAMA_NAME)
    )


def test_release_through_the_control_api() -> None:
    """POST /control/models/{model}/releases rolls out a healthy release (named or next)."""
    releases = f"/control/models/{LLAMA_NAME}/releases"
    with TestClient(create_app(Simulation(seed=3))) as api:
        answer = api.post(releases)
        assert answer.status_code == 201
        assert answer.json()["version"] == answer.json()["known_good_version"] == "v1.4.3"
        named = api.post(releases, json={"version": "v2.0.0"})
        assert named.json()["version"] == "v2.0.0"
        refused = api.post(releases, json={"colour": 1})
        assert refused.status_code == 422


def test_same_seed_same_names() -> None:
    """Pod names, uids and GPU UUIDs are deterministic from the seed."""
    first, second, other = Simulation(seed=5), Simulation(seed=5), Simulation(seed=6)
    assert samples(first, "kube_pod_info") == samples(second, "kube_pod_info")
    assert pods_of(first, "kube_pod_info", LLAMA_NAME) != pods_of(
        other, "kube_pod_info", LLAMA_NAME
    )
