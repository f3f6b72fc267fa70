"""The simulator's /metrics text: real vLLM / DCGM names, types and labels, parseable, monotonic."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from simulator.catalog import LLAMA, RERANKER
from simulator.exposition import render
from simulator.faults import FaultKind, FaultRequest
from simulator.simulation import Simulation

VLLM_LABELS = {"model_name", "engine", "pod", "namespace", "pool"}
DCGM_LABELS = {
    "gpu", "UUID", "device", "modelName", "Hostname", "hostname",
    "pod", "namespace", "container", "model_name",
}  # fmt: skip
CONTRACT: dict[str, tuple[str, set[str]]] = {
    "vllm:time_to_first_token_seconds": ("histogram", VLLM_LABELS),
    "vllm:e2e_request_latency_seconds": ("histogram", VLLM_LABELS),
    "vllm:inter_token_latency_seconds": ("histogram", VLLM_LABELS),
    "vllm:num_requests_running": ("gauge", VLLM_LABELS),
    "vllm:num_requests_waiting": ("gauge", VLLM_LABELS),
    "vllm:kv_cache_usage_perc": ("gauge", VLLM_LABELS),
    "vllm:num_preemptions": ("counter", VLLM_LABELS),
    "vllm:request_success": ("counter", VLLM_LABELS | {"finished_reason"}),
    "vllm:prompt_tokens": ("counter", VLLM_LABELS),
    "vllm:generation_tokens": ("counter", VLLM_LABELS),
    "DCGM_FI_DEV_GPU_UTIL": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_FB_USED": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_FB_FREE": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_GPU_TEMP": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_POWER_USAGE": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_SM_CLOCK": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_XID_ERRORS": ("gauge", DCGM_LABELS),
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": ("gauge", DCGM_LABELS),
    "llm_drift_score": ("gauge", {"model_name", "metric"}),
    "llm_model_version_info": ("gauge", {"model_name", "version", "pool"}),
    "llm_requests": ("counter", {"model_name", "code"}),
    "llm_request_errors": ("counter", {"model_name", "code"}),
    "llm_upstream_errors": ("counter", {"model_name", "upstream"}),
    "llm_replicas": ("gauge", {"model_name", "pool"}),
    "llm_replicas_ready": ("gauge", {"model_name", "pool"}),
    "llm_traffic_weight": ("gauge", {"model_name", "pool"}),
}


def families(simulation: Simulation) -> dict[str, Metric]:
    return {
        family.name: family
        for family in text_string_to_metric_families(render(simulation).decode())
    }


def samples(simulation: Simulation, name: str) -> list[Sample]:
    """Samples of one series name (e.g. ``vllm:prompt_tokens_total``)."""
    return [
        sample
        for family in families(simulation).values()
        for sample in family.samples
        if sample.name == name
    ]


def test_every_contract_metric_is_exposed_with_its_type_and_labels() -> None:
    """Each metric of the contract parses with the right type and exactly its labels."""
    simulation = Simulation(seed=2)
    simulation.advance(30)
    parsed = families(simulation)
    assert set(parsed) == set(CONTRACT)
    for name, (kind, labels) in CONTRACT.items():
        family = parsed[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, sample


def test_series_counts_follow_the_fleet() -> None:
    """One vLLM series per pod, one DCGM series per GPU, one version series per pool."""
    simulation = Simulation(seed=2)
    replicas = sum(pool.replicas for spec in (LLAMA, RERANKER) for pool in spec.pools)
    assert len(samples(simulation, "vllm:num_requests_waiting")) == replicas
    gpu_series = samples(simulation, "DCGM_FI_DEV_GPU_TEMP")
    assert len({sample.labels["UUID"] for sample in gpu_series}) == replicas
    assert all(s.labels["Hostname"] == s.labels["hostname"] for s in gpu_series)
    assert {s.labels["modelName"] for s in gpu_series} == {"NVIDIA H100 80GB HBM3"}
    versions = {
        (s.labels["model_name"], s.labels["pool"], s.labels["version"])
        for s in samples(simulation, "llm_model_version_info")
    }
    assert versions == {
        ("llama-3-70b-instruct", "primary", "v1.4.2"),
        ("llama-3-70b-instruct", "secondary", "v1.4.2"),
        ("reranker-v2", "primary", "2.3.0"),
    }


def test_counters_and_buckets_never_go_down() -> None:
    """Across scrapes every counter and histogram series is non-decreasing, faults or not."""
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
    pod = "llama-3-70b-instruct-primary-0"
    buckets = [
        sample for sample in family.samples
        if sample.name.endswith("_bucket") and sample.labels["pod"] == pod
    ]  # fmt: skip
    bounds = [sample.labels["le"] for sample in buckets]
    assert "2.5" in bounds
    assert bounds[-1] == "+Inf"
    values = [sample.value for sample in buckets]
    assert values == sorted(values)
    count = next(
        s.value for s in family.samples if s.name.endswith("_count") and s.labels["pod"] == pod
    )
    assert values[-1] == count > 0


def test_xid_and_thermal_show_in_dcgm_series() -> None:
    """An XID sets DCGM_FI_DEV_XID_ERRORS on its node; thermal sets the clock-reason bits."""
    simulation = Simulation(seed=4)
    simulation.inject(FaultRequest(FaultKind.GPU_XID, RERANKER.name, node="gpu-node-09", xid=48))
    simulation.inject(FaultRequest(FaultKind.THERMAL, LLAMA.name, node="gpu-node-02"))
    simulation.advance(120)
    xids = {s.labels["Hostname"]: s.value for s in samples(simulation, "DCGM_FI_DEV_XID_ERRORS")}
    assert xids["gpu-node-09"] == 48
    assert sum(xids.values()) == 48
    reasons = {
        s.labels["Hostname"]: int(s.value)
        for s in samples(simulation, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS")
    }
    assert reasons["gpu-node-02"] & 0x60
    assert not any(bits & 0x60 for host, bits in reasons.items() if host != "gpu-node-02")


def test_gateway_error_counters_exist_before_any_error() -> None:
    """Error series are exposed at zero from the start, so error ratios are never 'no data'."""
    simulation = Simulation(seed=4)
    codes = {
        (s.labels["model_name"], s.labels["code"]): s.value
        for s in samples(simulation, "llm_request_errors_total")
    }
    assert codes[(LLAMA.name, "503")] == 0
    assert {code for _, code in codes} == {"500", "502", "503"}
