"""Every series the simulated fleet exposes, described once for the live /metrics text and
for the offline history writer: the exporter contract of ``simulator/README.md``.

Five sources, each with the target Prometheus would scrape it as (``job``/``instance`` are
added only by the history writer; the live exposition never carries them):

- vLLM engines, per pod: ``vllm:*`` with model_name, engine, namespace, pod
  (job="vllm", instance="<pod-ip>:8000");
- vLLM's API server, per pod: ``http_requests_total`` and ``http_request_duration_seconds``
  with handler, method (and status), namespace, pod (same target);
- dcgm-exporter, per GPU of every node: ``DCGM_FI_*`` with gpu, UUID, device, modelName,
  Hostname, DCGM_FI_DRIVER_VERSION, plus pod/namespace/container of the pod using the GPU
  when Kubernetes pod mapping is on (job="dcgm-exporter", instance="<node-ip>:9400");
- kube-state-metrics: pods, containers, readiness, restarts, ReplicaSets, Deployments
  (job="kube-state-metrics", instance="ksm:8080");
- Firebreak's drift monitor: ``llm_drift_score{model_name, metric="psi"}``
  (job="drift-monitor", instance="drift-monitor:9100").

Counter families are named without ``_total``; their samples carry it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from simulator.catalog import CONTAINER, ENGINE, GPU_DRIVER_VERSION, GPU_MODEL_NAME, NAMESPACE
from simulator.cluster import Gpu, Node
from simulator.fleet import Replica
from simulator.identities import image_id_of
from simulator.simulation import Simulation
from simulator.telemetry import FINISHED_REASONS, HTTP_STATUSES, Histogram

Kind = Literal["gauge", "counter", "histogram"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ExporterOptions:
    """How the exporters are configured, as they vary between real deployments."""

    dcgm_pod_mapping: bool = True
    """dcgm-exporter's Kubernetes mode: pod, namespace, container on GPUs in use."""
    vllm_names: Literal["new", "old"] = "new"
    """"old": vLLM before 0.10 (``vllm:gpu_cache_usage_perc``,
    ``vllm:time_per_output_token_seconds``)."""
    dcgm_names: Literal["new", "old"] = "new"
    """"old": dcgm-exporter before 3.3 (``DCGM_FI_DEV_CLOCK_THROTTLE_REASONS``)."""


@dataclass(frozen=True)
class Target:
    """The scrape target a series comes from, as Prometheus would label it."""

    job: str
    instance: str


KSM_TARGET = Target("kube-state-metrics", "ksm:8080")
DRIFT_TARGET = Target("drift-monitor", "drift-monitor:9100")


@dataclass(frozen=True)
class Series:
    """One series: a value, or for a histogram cumulative ``(le, count)`` buckets and a sum."""

    labels: Labels
    target: Target
    value: float = 0.0
    buckets: tuple[tuple[str, float], ...] = ()
    sum: float = 0.0


@dataclass
class Family:
    """A metric family: name (counters without ``_total``), type, help and its series."""

    name: str
    kind: Kind
    help: str
    series: list[Series] = field(default_factory=list)

    def add(self, labels: Labels, target: Target, value: float) -> None:
        self.series.append(Series(labels, target, value=value))

    def add_histogram(self, labels: Labels, target: Target, histogram: Histogram) -> None:
        bounds = [repr(bound) for bound in histogram.bounds] + ["+Inf"]
        buckets = tuple(
            (bound, float(math.floor(count)))
            for bound, count in zip(bounds, histogram.cumulative, strict=True)
        )
        self.series.append(Series(labels, target, buckets=buckets, sum=histogram.total))


def collect(simulation: Simulation, options: ExporterOptions) -> list[Family]:
    """Every family of the fleet's current state, sources in contract order."""
    pods = [
        (model.name, replica)
        for model in simulation.fleet.models.values()
        for replica in model.replicas()
    ]
    engines = [(model, replica) for model, replica in pods if replica.exposes_metrics]
    families = [*_vllm(engines, options), *_http(engines)]
    families += _dcgm(simulation.fleet.cluster.nodes, pods, options)
    families += _kube_state(simulation, pods)
    drift = Family("llm_drift_score", "gauge", "Input drift of the model against its reference.")
    for model in simulation.fleet.models.values():
        labels = (("model_name", model.name), ("metric", "psi"))
        drift.add(labels, DRIFT_TARGET, round(model.drift_psi, 4))
    return [*families, drift]


def _pod_target(replica: Replica) -> Target:
    return Target("vllm", f"{replica.pod_ip}:8000")


def _vllm_labels(model: str, replica: Replica) -> Labels:
    return (
        ("model_name", model), ("engine", ENGINE), ("namespace", NAMESPACE), ("pod", replica.pod)
    )  # fmt: skip


def _vllm(engines: list[tuple[str, Replica]], options: ExporterOptions) -> Iterator[Family]:
    old = options.vllm_names == "old"
    kv_name = "vllm:gpu_cache_usage_perc" if old else "vllm:kv_cache_usage_perc"
    gauges: tuple[tuple[str, str, Callable[[Replica], float]], ...] = (
        ("vllm:num_requests_running", "Number of requests in model execution batches.",
         lambda r: r.num_requests_running),
        ("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
         lambda r: r.num_requests_waiting),
        (kv_name, "KV-cache usage. 1 means 100 percent usage.", lambda r: r.kv_cache_usage),
    )  # fmt: skip
    for name, documentation, read in gauges:
        family = Family(name, "gauge", documentation)
        for model, replica in engines:
            family.add(_vllm_labels(model, replica), _pod_target(replica), read(replica))
        yield family
    counters: tuple[tuple[str, str, Callable[[Replica], float]], ...] = (
        ("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
         lambda r: r.counters.preemptions),
        ("vllm:prompt_tokens", "Number of prefill tokens processed.",
         lambda r: r.counters.prompt_tokens),
        ("vllm:generation_tokens", "Number of generation tokens processed.",
         lambda r: r.counters.generation_tokens),
    )  # fmt: skip
    for name, documentation, read in counters:
        family = Family(name, "counter", documentation)
        for model, replica in engines:
            value = math.floor(read(replica))
            family.add(_vllm_labels(model, replica), _pod_target(replica), value)
        yield family
    success = Family("vllm:request_success", "counter", "Count of successfully processed requests.")
    for model, replica in engines:
        for reason in FINISHED_REASONS:
            labels = (*_vllm_labels(model, replica), ("finished_reason", reason))
            value = math.floor(replica.counters.finished[reason])
            success.add(labels, _pod_target(replica), value)
    yield success
    itl_name = "vllm:time_per_output_token_seconds" if old else "vllm:inter_token_latency_seconds"
    histograms: tuple[tuple[str, str, Callable[[Replica], Histogram]], ...] = (
        ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
         lambda r: r.counters.time_to_first_token),
        ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
         lambda r: r.counters.e2e_latency),
        (itl_name, "Histogram of inter-token latency in seconds.",
         lambda r: r.counters.inter_token_latency),
    )  # fmt: skip
    for name, documentation, read_histogram in histograms:
        family = Family(name, "histogram", documentation)
        for model, replica in engines:
            labels = _vllm_labels(model, replica)
            family.add_histogram(labels, _pod_target(replica), read_histogram(replica))
        yield family


def _http(engines: list[tuple[str, Replica]]) -> Iterator[Family]:
    requests = Family(
        "http_requests", "counter", "Total number of requests by method, status and handler."
    )
    duration = Family(
        "http_request_duration_seconds", "histogram",
        "Latency with only few buckets by handler. Made to be only used if aggregation by "
        "handler is important.",
    )  # fmt: skip
    for _, replica in engines:
        target = _pod_target(replica)
        pod = (("namespace", NAMESPACE), ("pod", replica.pod))
        for handler in replica.http.handlers:
            for status in HTTP_STATUSES:
                labels: Labels = (
                    ("handler", handler), ("method", "POST"), ("status", status), *pod
                )  # fmt: skip
                requests.add(labels, target, math.floor(replica.http.requests[(handler, status)]))
            labels = (("handler", handler), ("method", "POST"), *pod)
            duration.add_histogram(labels, target, replica.http.duration[handler])
    return iter((requests, duration))


def _dcgm(
    nodes: list[Node], pods: list[tuple[str, Replica]], options: ExporterOptions
) -> Iterator[Family]:
    reasons_name = (
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
        if options.dcgm_names == "old"
        else "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"
    )
    fields: tuple[tuple[str, str, Callable[[Gpu], float]], ...] = (
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
        (reasons_name, "Current clock event reasons (bitmask).",
         lambda gpu: float(gpu.clock_event_reasons)),
    )  # fmt: skip
    pod_of = {replica.pod: replica for _, replica in pods}
    gpus: list[tuple[Gpu, Labels, Target]] = []
    for node in nodes:
        target = Target("dcgm-exporter", f"{node.ip}:9400")
        for gpu in node.gpus:
            labels: Labels = (
                ("gpu", gpu.index), ("UUID", gpu.uuid), ("device", gpu.device),
                ("modelName", GPU_MODEL_NAME), ("Hostname", node.name),
                ("DCGM_FI_DRIVER_VERSION", GPU_DRIVER_VERSION),
            )  # fmt: skip
            if options.dcgm_pod_mapping and gpu.pod in pod_of:
                mapping = (("pod", gpu.pod), ("namespace", NAMESPACE), ("container", CONTAINER))
                labels = (*labels, *mapping)
            gpus.append((gpu, labels, target))
    for name, documentation, read in fields:
        family = Family(name, "gauge", documentation)
        for gpu, labels, target in gpus:
            family.add(labels, target, read(gpu))
        yield family


def _kube_state(simulation: Simulation, pods: list[tuple[str, Replica]]) -> list[Family]:
    pod_info = Family("kube_pod_info", "gauge", "Information about pod.")
    container_info = Family(
        "kube_pod_container_info", "gauge", "Information about a container in a pod."
    )
    ready = Family(
        "kube_pod_status_ready", "gauge", "Describes whether the pod is ready to serve requests."
    )
    restarts = Family(
        "kube_pod_container_status_restarts", "counter",
        "The number of container restarts per container.",
    )  # fmt: skip
    owner = Family("kube_replicaset_owner", "gauge", "Information about the ReplicaSet's owner.")
    spec_replicas = Family(
        "kube_deployment_spec_replicas", "gauge", "Number of desired pods for a deployment."
    )
    available = Family(
        "kube_deployment_status_replicas_available", "gauge",
        "The number of available replicas per deployment.",
    )  # fmt: skip
    for _, replica in pods:
        pod = (("namespace", NAMESPACE), ("pod", replica.pod), ("uid", replica.uid))
        pod_info.add(
            (*pod, ("node", replica.node), ("host_ip", replica.host_ip),
             ("pod_ip", replica.pod_ip), ("created_by_kind", "ReplicaSet"),
             ("created_by_name", replica.replicaset), ("priority_class", ""),
             ("host_network", "false")),
            KSM_TARGET, 1.0,
        )  # fmt: skip
        container_info.add(
            (*pod, ("container", CONTAINER), ("image_spec", replica.image),
             ("image", replica.image), ("image_id", image_id_of(replica.image)),
             ("container_id", replica.container_id)),
            KSM_TARGET, 1.0,
        )  # fmt: skip
        for condition in ("true", "false", "unknown"):
            is_it = (condition == "true") == replica.is_ready and condition != "unknown"
            ready.add((*pod, ("condition", condition)), KSM_TARGET, 1.0 if is_it else 0.0)
        restarts.add((*pod, ("container", CONTAINER)), KSM_TARGET, float(replica.restarts))
    for model in simulation.fleet.models.values():
        for pool in model.pools.values():
            for replicaset in pool.replicasets.values():
                owner.add(
                    (("namespace", NAMESPACE), ("replicaset", replicaset.name),
                     ("owner_kind", "Deployment"), ("owner_name", pool.deployment),
                     ("owner_is_controller", "true")),
                    KSM_TARGET, 1.0,
                )  # fmt: skip
            deployment = (("namespace", NAMESPACE), ("deployment", pool.deployment))
            spec_replicas.add(deployment, KSM_TARGET, float(pool.desired_replicas))
            available.add(deployment, KSM_TARGET, float(pool.ready_replicas))
    return [pod_info, container_info, ready, restarts, owner, spec_replicas, available]
