"""The simulator's /metrics text: exactly the real exporters' names, types and labels."""

from __future__ import annotations

import re

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from simulator.catalog import LLAMA, RERANKER
from simulator.exposition import render
from simulator.faults import FaultKind, FaultRequest
from simulator.series import ExporterOptions
from simulator.simulation import Simulation

VLLM = {"model_name", "engine", "namespace", "pod"}
DCGM = {"gpu", "UUID", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}
MAPPED = DCGM | {"pod", "namespace", "container"}
POD = {"namespace", "pod", "uid"}
DEPLOYMENT = {"namespace", "deployment"}
CONTRACT: dict[str, tuple[str, set[str]]] = {
    "vllm:num_requests_running": ("gauge", VLLM),
    "vllm:num_requests_waiting": ("gauge", VLLM),
    "vllm:kv_cache_usage_perc": ("gauge", VLLM),
    "vllm:num_preemptions": ("counter", VLLM),
    "vllm:prompt_tokens": ("counter", VLLM),
    "vllm:generation_tokens": ("counter", VLLM),
    "vllm:request_success": ("counter", VLLM | {"finished_reason"}),
    "vllm:time_to_first_token_seconds": ("histogram", VLLM),
    "vllm:e2e_request_latency_seconds": ("histogram", VLLM),
    "vllm:inter_token_latency_seconds": ("histogram", VLLM),
    "http_requests": ("counter", {"handler", "method", "status", "namespace", "pod"}),
    "http_request_duration_seconds": ("histogram", {"handler", "method", "namespace", "pod"}),
    **{
        name: ("gauge", DCGM)
        for name in (
            "DCGM_FI_DEV_GPU_UTIL",
            "DCGM_FI_DEV_FB_USED",
            "DCGM_FI_DEV_FB_FREE",
            "DCGM_FI_DEV_GPU_TEMP",
            "DCGM_FI_DEV_POWER_USAGE",
            "DCGM_FI_DEV_SM_CLOCK",
            "DCGM_FI_DEV_XID_ERRORS",
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
        )
    },
    "kube_pod_info": (
        "gauge",
        POD
        | {
            "node",
            "host_ip",
            "pod_ip",
            "created_by_kind",
            "created_by_name",
            "priority_class",
            "host_network",
        },
    ),
    "kube_pod_container_info": (
        "gauge",
        POD
        | {
            "container",
            "image_spec",
            "image",
            "image_id",
            "container_id",
        },
    ),
    "kube_pod_status_ready": ("gauge", POD | {"condition"}),
    "kube_pod_container_status_restarts": ("counter", POD | {"container"}),
    "kube_replicaset_owner": (
        "gauge",
        {
            "namespace",
            "replicaset",
            "owner_kind",
            "owner_name",
            "owner_is_controller",
        },
    ),
    "kube_deployment_spec_replicas": ("gauge", DEPLOYMENT),
    "kube_deployment_status_replicas_available": ("gauge", DEPLOYMENT),
    "llm_drift_score": ("gauge", {"model_name", "metric"}),
}
PODS = sum(pool.replicas for spec in (LLAMA, RERANKER) for pool in spec.pools)


def families(simulation: Simulation, options: ExporterOptions | None = None) -> dict[str, Metric]:
    text = render(simulation, options).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(
    simulation: Simulation, name: str, options: ExporterOptions | None = None
) -> list[Sample]:
    """Samples of one series name (e.g. ``vllm:prompt_tokens_total``)."""
    return [
        sample
        for family in families(simulation, options).values()
        for sample in family.samples
        if sample.name == name
    ]


def test_exactly_the_contract_families_with_their_types_and_labels() -> None:
    """Every family of the contract, and no other, parses with its type and exact labels."""
    simulation = Simulation(seed=2)
    simulation.advance(30)
    parsed = families(simulation)
    assert set(parsed) == set(CONTRACT)
    for name, (kind, labels) in CONTRACT.items():
        assert parsed[name].type == kind, name
        for sample in parsed[name].samples:
            present = set(sample.labels) - {"le"}
            if name.startswith("DCGM_"):
                assert present in (DCGM, MAPPED), sample
            else:
                assert present == labels, sample


def test_nothing_invented_survives() -> None:
    """No pool, lower-case hostname, job or instance label; no llm_* gateway metric."""
    text = render(Simulation(seed=2)).decode()
    assert not re.search(r"[{,](pool|hostname|job|instance)=", text)
    assert not re.search(r"^llm_(?!drift_score)", text, flags=re.MULTILINE)
    dcgm = [line for line in text.splitlines() if line.startswith("DCGM_")]
    assert dcgm
    assert not any("model_name=" in line for line in dcgm)


def test_kubernetes_names_follow_deployment_replicaset_pod() -> None:
    """Pods are <model>-<pool>-<10-char hash>-<5 chars>, owned by their ReplicaSet."""
    simulation = Simulation(seed=2)
    info = samples(simulation, "kube_pod_info")
    assert len(info) == PODS
    alphabet = "[bcdfghjklmnpqrstvwxz2456789]"
    for sample in info:
        replicaset = sample.labels["created_by_name"]
        assert re.fullmatch(rf"[a-z0-9.-]+-(primary|secondary)-{alphabet}{{10}}", replicaset)
        assert re.fullmatch(rf"{re.escape(replicaset)}-{alphabet}{{5}}", sample.labels["pod"])
        assert re.fullmatch(r"gpu-node-\d\d", sample.labels["node"])
    owners = {
        s.labels["replicaset"]: s.labels["owner_name"]
        for s in samples(simulation, "kube_replicaset_owner")
    }
    assert set(owners.values()) == {
        "llama-3-70b-instruct-primary", "llama-3-70b-instruct-secondary", "reranker-v2-primary",
    }  # fmt: skip
    images = {s.labels["image"] for s in samples(simulation, "kube_pod_container_info")}
    assert images == {
        "registry.example.com/genai/llama-3-70b-instruct:v1.4.2",
        "registry.example.com/genai/reranker-v2:2.3.0",
    }


def test_one_dcgm_series_per_gpu_and_pod_mapping_only_on_used_gpus() -> None:
    """Every node reports eight GPUs; only a GPU a pod uses carries pod labels."""
    simulation = Simulation(seed=2)
    temps = samples(simulation, "DCGM_FI_DEV_GPU_TEMP")
    nodes = {s.labels["Hostname"] for s in temps}
    assert len(temps) == 8 * len(nodes) == 8 * PODS
    mapped = [s for s in temps if "pod" in s.labels]
    assert len(mapped) == PODS
    assert {s.labels["container"] for s in mapped} == {"vllm"}
    pods = {s.labels["pod"] for s in samples(simulation, "vllm:num_requests_waiting")}
    assert {s.labels["pod"] for s in mapped} == pods


def test_pod_mapping_switch_removes_pod_labels() -> None:
    """Without pod mapping no DCGM series has pod, namespace or container."""
    options = ExporterOptions(dcgm_pod_mapping=False)
    temps = samples(Simulation(seed=2), "DCGM_FI_DEV_GPU_TEMP", options)
    assert all(set(sample.labels) == DCGM for sample in temps)


def test_old_names_options() -> None:
    """Old vLLM and dcgm-exporter names replace the new ones, and only those."""
    options = ExporterOptions(vllm_names="old", dcgm_names="old")
    simulation = Simulation(seed=2)
    simulation.advance(15)
    names = set(families(simulation, options))
    assert {
        "vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds",
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
    } <= names  # fmt: skip
    assert not names & {
        "vllm:kv_cache_usage_perc", "vllm:inter_token_latency_seconds",
        "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
    }  # fmt: skip
    assert len(names) == len(CONTRACT)


def test_counters_and_buckets_never_go_down() -> None:
    """Across scrapes every counter and histogram series of a living pod is non-decreasing."""
    simulation = Simulation(seed=9)
    simulation.inject(FaultRequest(FaultKind.SATURATION, LLAMA.name, intensity=1.0))
    previous: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for _ in range(20):
        simulation.advance(7.5)
        for family in families(simulation).values():
            if family.type not in ("counter", "histogram"):
                continue
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                assert sample.value >= previous.get(key, 0.0), key
                previous[key] = sample.value


def test_histogram_buckets_are_cumulative_with_vllm_bounds() -> None:
    """TTFT buckets use vLLM's bounds (2.5 s among them) and add up to the count."""
    simulation = Simulation(seed=4)
    simulation.advance(60)
    family = families(simulation)["vllm:time_to_first_token_seconds"]
    pod = family.samples[0].labels["pod"]
    buckets = [s for s in family.samples if s.name.endswith("_bucket") and s.labels["pod"] == pod]
    bounds = [sample.labels["le"] for sample in buckets]
    assert "2.5" in bounds
    assert bounds[-1] == "+Inf"
    values = [sample.value for sample in buckets]
    assert values == sorted(values)
    count = next(
        s.value for s in family.samples if s.name.endswith("_count") and s.labels["pod"] == pod
    )
    assert values[-1] == count > 0


def test_http_error_series_exist_at_zero_from_the_start() -> None:
    """Every pod exposes 2xx, 4xx and 5xx per handler from the start, so ratios have data."""
    simulation = Simulation(seed=4)
    requests = samples(simulation, "http_requests_total")
    assert {s.labels["status"] for s in requests} == {"2xx", "4xx", "5xx"}
    assert {s.labels["handler"] for s in requests} == {"/v1/chat/completions", "/v1/completions"}
    assert all(s.value == 0 for s in requests if s.labels["status"] == "5xx")
    assert len({s.labels["pod"] for s in requests}) == PODS


def test_drift_score_per_model() -> None:
    """llm_drift_score carries model_name and metric="psi" only."""
    drift = samples(Simulation(seed=4), "llm_drift_score")
    assert {(s.labels["model_name"], s.labels["metric"]) for s in drift} == {
        (LLAMA.name, "psi"), (RERANKER.name, "psi"),
    }  # fmt: skip


def test_xid_and_thermal_show_in_dcgm_series() -> None:
    """An XID marks the pod's GPU; a cooling failure sets thermal bits on its node's GPUs."""
    simulation = Simulation(seed=4)
    xid_node = simulation.fleet.nodes_of(RERANKER.name)[1]
    hot_node = simulation.fleet.nodes_of(LLAMA.name)[1]
    simulation.inject(FaultRequest(FaultKind.GPU_XID, RERANKER.name, node=xid_node, xid=48))
    simulation.inject(FaultRequest(FaultKind.THERMAL, LLAMA.name, node=hot_node))
    simulation.advance(120)
    xids = [s for s in samples(simulation, "DCGM_FI_DEV_XID_ERRORS") if s.value]
    assert [(s.labels["Hostname"], s.value) for s in xids] == [(xid_node, 48)]
    reasons = [
        (s.labels["Hostname"], int(s.value))
        for s in samples(simulation, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS")
        if int(s.value) & 0x60
    ]
    assert reasons
    assert {host for host, _ in reasons} == {hot_node}
