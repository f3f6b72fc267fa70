"""Renders the simulated fleet as Prometheus text format, with real vLLM and DCGM names.

Three sources share one endpoint, as they would behind a federating scrape:

- vLLM engines, one set of series per pod (``vllm:*``), labels model_name, engine, pod,
  namespace, pool;
- dcgm-exporter, one set per GPU (``DCGM_FI_DEV_*``), with its Kubernetes pod mapping labels
  plus model_name;
- the model gateway and deploy system (``llm_*``): requests and errors by code, upstream
  errors, drift score, serving version, replicas and traffic weights.

Metric families are built with prometheus_client's family types and rendered with its
``generate_latest``, so the text is exactly what a real client library would emit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from simulator.catalog import CONTAINER, ENGINE, GPU_DEVICE, GPU_MODEL_NAME, NAMESPACE
from simulator.fleet import Gpu, ModelState, Replica
from simulator.simulation import Simulation
from simulator.telemetry import ERROR_CODES, FINISHED_REASONS, Histogram

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

VLLM_LABELS = ["model_name", "engine", "pod", "namespace", "pool"]
DCGM_LABELS = [
    "gpu", "UUID", "device", "modelName", "Hostname", "hostname",
    "pod", "namespace", "container", "model_name",
]  # fmt: skip

VLLM_GAUGES: tuple[tuple[str, str, Callable[[Replica], float]], ...] = (
    ("vllm:num_requests_running", "Number of requests in model execution batches.",
     lambda replica: replica.num_requests_running),
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
     lambda replica: replica.num_requests_waiting),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
     lambda replica: replica.kv_cache_usage),
)  # fmt: skip
VLLM_COUNTERS: tuple[tuple[str, str, Callable[[Replica], float]], ...] = (
    ("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
     lambda replica: replica.counters.preemptions),
    ("vllm:prompt_tokens", "Number of prefill tokens processed.",
     lambda replica: replica.counters.prompt_tokens),
    ("vllm:generation_tokens", "Number of generation tokens processed.",
     lambda replica: replica.counters.generation_tokens),
)  # fmt: skip
VLLM_HISTOGRAMS: tuple[tuple[str, str, Callable[[Replica], Histogram]], ...] = (
    ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
     lambda replica: replica.counters.time_to_first_token),
    ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
     lambda replica: replica.counters.e2e_latency),
    ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
     lambda replica: replica.counters.inter_token_latency),
)  # fmt: skip
DCGM_FIELDS: tuple[tuple[str, str, Callable[[Gpu], float]], ...] = (
    ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", lambda gpu: gpu.utilization_pct),
    ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).",
     lambda gpu: float(round(gpu.framebuffer_used_mib))),
    ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).",
     lambda gpu: float(round(gpu.framebuffer_free_mib))),
    ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).",
     lambda gpu: float(round(gpu.temperature_c))),
    ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", lambda gpu: round(gpu.power_w, 3)),
    ("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", lambda gpu: gpu.sm_clock_mhz),
    ("DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.",
     lambda gpu: float(gpu.last_xid)),
    ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "Current clock event reasons (bitmask).",
     lambda gpu: float(gpu.clock_event_reasons)),
)  # fmt: skip


def render(simulation: Simulation) -> bytes:
    """The whole fleet's current state as Prometheus text exposition format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_FleetSnapshot(list(_families(simulation))))
    return generate_latest(registry)


class _FleetSnapshot(Collector):
    """A collector that yields families built beforehand (under the simulation's lock)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def _families(simulation: Simulation) -> Iterator[Metric]:
    models = list(simulation.fleet.models.values())
    replicas = [(model, replica) for model in models for replica in model.replicas()]
    yield from _vllm_families(replicas)
    yield from _dcgm_families(replicas)
    yield from _gateway_families(models)


def _vllm_labels(model: ModelState, replica: Replica) -> list[str]:
    return [model.name, ENGINE, replica.pod, NAMESPACE, replica.pool]


def _vllm_families(replicas: list[tuple[ModelState, Replica]]) -> Iterator[Metric]:
    for name, documentation, read_gauge in VLLM_GAUGES:
        gauge = GaugeMetricFamily(name, documentation, labels=VLLM_LABELS)
        for model, replica in replicas:
            gauge.add_metric(_vllm_labels(model, replica), read_gauge(replica))
        yield gauge

    for name, documentation, read_counter in VLLM_COUNTERS:
        counter = CounterMetricFamily(name, documentation, labels=VLLM_LABELS)
        for model, replica in replicas:
            counter.add_metric(_vllm_labels(model, replica), math.floor(read_counter(replica)))
        yield counter

    success = CounterMetricFamily(
        "vllm:request_success",
        "Count of successfully processed requests.",
        labels=[*VLLM_LABELS, "finished_reason"],
    )
    for model, replica in replicas:
        for reason in FINISHED_REASONS:
            success.add_metric(
                [*_vllm_labels(model, replica), reason],
                math.floor(replica.counters.finished[reason]),
            )
    yield success

    for name, documentation, read_histogram in VLLM_HISTOGRAMS:
        family = HistogramMetricFamily(name, documentation, labels=VLLM_LABELS)
        for model, replica in replicas:
            histogram = read_histogram(replica)
            family.add_metric(
                _vllm_labels(model, replica), _buckets(histogram), sum_value=histogram.total
            )
        yield family


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    """Cumulative integer bucket counts; flooring keeps them monotonic and non-decreasing.

    ``repr`` of these bounds ("0.001", "1.0", "2560.0") is what prometheus_client, and so a
    real vLLM, writes in the ``le`` label; PromQL selects on that exact text.
    """
    bounds = [repr(bound) for bound in histogram.bounds] + ["+Inf"]
    return [
        (bound, float(math.floor(count)))
        for bound, count in zip(bounds, histogram.cumulative, strict=True)
    ]


def _dcgm_families(replicas: list[tuple[ModelState, Replica]]) -> Iterator[Metric]:
    for name, documentation, read_field in DCGM_FIELDS:
        gauge = GaugeMetricFamily(name, documentation, labels=DCGM_LABELS)
        for model, replica in replicas:
            gpu = replica.gpu
            labels = [
                gpu.index, gpu.uuid, GPU_DEVICE, GPU_MODEL_NAME, replica.node, replica.node,
                replica.pod, NAMESPACE, CONTAINER, model.name,
            ]  # fmt: skip
            gauge.add_metric(labels, read_field(gpu))
        yield gauge


def _gateway_families(models: list[ModelState]) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "llm_requests", "Requests answered by the model gateway, by HTTP status code.",
        labels=["model_name", "code"],
    )  # fmt: skip
    errors = CounterMetricFamily(
        "llm_request_errors", "Requests the model gateway answered with a server error (5xx).",
        labels=["model_name", "code"],
    )  # fmt: skip
    upstream = CounterMetricFamily(
        "llm_upstream_errors", "Failed calls from the model gateway to an upstream dependency.",
        labels=["model_name", "upstream"],
    )  # fmt: skip
    drift = GaugeMetricFamily(
        "llm_drift_score", "Input drift of the model against its reference window.",
        labels=["model_name", "metric"],
    )  # fmt: skip
    version_info = GaugeMetricFamily(
        "llm_model_version_info", "The model version serving in each pool (always 1).",
        labels=["model_name", "version", "pool"],
    )  # fmt: skip
    replicas = GaugeMetricFamily(
        "llm_replicas", "Desired replicas of the model in each pool.",
        labels=["model_name", "pool"],
    )  # fmt: skip
    ready = GaugeMetricFamily(
        "llm_replicas_ready", "Replicas of the model in each pool that finished warming up.",
        labels=["model_name", "pool"],
    )  # fmt: skip
    weights = GaugeMetricFamily(
        "llm_traffic_weight", "Share of the model's traffic routed to each pool (0..100).",
        labels=["model_name", "pool"],
    )  # fmt: skip
    for model in models:
        gateway = model.gateway
        for code, value in gateway.requests.items():
            requests.add_metric([model.name, code], math.floor(value))
        for code in ERROR_CODES:
            errors.add_metric([model.name, code], math.floor(gateway.requests.get(code, 0.0)))
        upstream.add_metric([model.name, "vector-db"], math.floor(gateway.upstream_errors))
        drift.add_metric([model.name, "psi"], round(model.drift_psi, 4))
        for pool in model.pools.values():
            version_info.add_metric([model.name, model.version, pool.name], 1.0)
            replicas.add_metric([model.name, pool.name], float(pool.desired_replicas))
            ready.add_metric([model.name, pool.name], float(pool.ready_replicas))
            weights.add_metric([model.name, pool.name], pool.traffic_weight)
    yield from (requests, errors, upstream, drift, version_info, replicas, ready, weights)
