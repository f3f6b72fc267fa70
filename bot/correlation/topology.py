"""Topology resolution before scoring: model → its pods over the window (vanished ones too) →
their nodes, ReplicaSets and images (kube-state-metrics) → their GPUs (dcgm-exporter, by `pod`
when Kubernetes mapping is on, else by `Hostname`).

An incident scoped by model starts from the model's vLLM series; one scoped by node or pod (a
GPU alert carries no model label) finds the pods on that node, then their models. Every step
degrades on its own: without kube-state-metrics the nodes come from dcgm-exporter's pod mapping,
without either the GPUs are unknown — and `missing` says so in words a user can act on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from bot.correlation.catalogue import Catalogue, LabelNames
from bot.correlation.templates import Scope, ScopeError, matcher, regex_matcher, render_query
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError
from bot.domain.signals import Series

log = structlog.get_logger(__name__)

# `<deployment>-<pod-template-hash>-<5 chars>`: the ReplicaSet is the name less its suffix.
_DEPLOYMENT_POD = re.compile(r"^(?P<replicaset>.+-[a-z0-9]{6,10})-[a-z0-9]{5}$")
NODE_LABELS = ("Hostname", "node", "kubernetes_node")

Ask = Callable[[str], list[Series]]


@dataclass(frozen=True)
class Pod:
    """One pod of the model as seen over the window (times are Unix seconds)."""

    namespace: str
    name: str
    model: str = ""
    first_seen: float | None = None  # first and last point of its engine's series
    last_seen: float | None = None
    node: str = ""
    replicaset: str = ""
    image: str = ""
    listed_until: float | None = None  # last point of its kube_pod_info
    not_ready: bool = False
    restarts: float = 0.0

    @property
    def version(self) -> str:
        """The image tag, which is how a model release shows in Kubernetes."""
        tail = self.image.rsplit("/", 1)[-1]
        return tail.split(":", 1)[1] if ":" in tail else ""


@dataclass(frozen=True)
class Gpu:
    host: str
    gpu: str
    uuid: str
    pod: str = ""


@dataclass(frozen=True)
class Topology:
    """What triage resolved for one incident, and what it could not see."""

    models: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    pods: tuple[Pod, ...] = ()
    gpus: tuple[Gpu, ...] = ()
    gpu_mapping: str = "none"  # "pod", "node" or "none"
    seen: frozenset[str] = frozenset()  # backends that answered: vllm, kube, dcgm
    missing: tuple[str, ...] = ()
    names: LabelNames = field(default_factory=LabelNames)
    alerted_nodes: tuple[str, ...] = ()  # named by the incident's own labels

    @property
    def nodes(self) -> tuple[str, ...]:
        found = {p.node for p in self.pods if p.node} | {g.host for g in self.gpus}
        return tuple(sorted(found | set(self.alerted_nodes)))

    def scopes(self) -> dict[Scope, str]:
        """The matchers each placeholder expands to; a scope not resolved is absent."""
        scopes: dict[Scope, str] = {}
        names = self.names
        if self.models:
            scopes[Scope.MODEL] = regex_matcher(names.model, self.models)
        if self.pods:
            scopes[Scope.PODS] = pods_matchers(names, self.pods)
        if self.gpus:
            scopes[Scope.GPUS] = ", ".join(
                (
                    regex_matcher(names.gpu_host, [g.host for g in self.gpus]),
                    regex_matcher(names.gpu_uuid, [g.uuid for g in self.gpus]),
                )
            )
        if self.nodes:
            scopes[Scope.NODES] = regex_matcher(names.node, self.nodes)
            scopes[Scope.HOSTS] = regex_matcher(names.gpu_host, self.nodes)
        return scopes

    def pod_on(self, host: str, gpu: str) -> str:
        """The model's pod on this GPU: dcgm-exporter's mapping, else the one pod on its node."""
        mapped = next((g.pod for g in self.gpus if (g.host, g.gpu) == (host, gpu) and g.pod), "")
        if mapped:
            return mapped
        on_node = {p.name for p in self.pods if p.node == host}
        return on_node.pop() if len(on_node) == 1 else ""

    def gpus_on(self, node: str) -> list[Gpu]:
        return [g for g in self.gpus if g.host == node]

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "namespaces": list(self.namespaces),
            "nodes": list(self.nodes),
            "gpu_mapping": self.gpu_mapping,
            "pods": [
                {
                    "pod": p.name,
                    "namespace": p.namespace,
                    "node": p.node,
                    "replicaset": p.replicaset,
                    "image": p.image,
                    "first_seen": p.first_seen,
                    "last_seen": p.last_seen,
                    "not_ready": p.not_ready,
                    "restarts": p.restarts,
                }
                for p in self.pods
            ],
            "gpus": [
                {"Hostname": g.host, "gpu": g.gpu, "UUID": g.uuid, "pod": g.pod} for g in self.gpus
            ],
            "seen": sorted(self.seen),
            "missing": list(self.missing),
        }


def replicaset_of(pod: Pod) -> str:
    """The pod's ReplicaSet: kube-state-metrics' answer, else read from a Deployment pod name."""
    if pod.replicaset:
        return pod.replicaset
    match = _DEPLOYMENT_POD.match(pod.name)
    return match["replicaset"] if match else ""


def pods_matchers(names: LabelNames, pods: Iterable[Pod]) -> str:
    """`namespace=~"…", pod=~"…"` for these pods, in the catalogue's label names."""
    pods = list(pods)
    parts = [regex_matcher(names.pod, [p.name for p in pods])]
    namespaces = [p.namespace for p in pods if p.namespace]
    if namespaces:
        parts.insert(0, regex_matcher(names.namespace, namespaces))
    return ", ".join(parts)


def _span(series: Series) -> tuple[float | None, float | None]:
    times = [t for t, v in series.points if math.isfinite(v)]
    return (min(times), max(times)) if times else (None, None)


def _last_value(series: Series) -> float:
    values = [v for _, v in series.points if math.isfinite(v)]
    return values[-1] if values else 0.0


class _Resolver:
    """One resolution: asks through `ask`, remembers what failed, builds the Topology."""

    def __init__(self, catalogue: Catalogue, ask: Ask, step_s: float) -> None:
        self.names = catalogue.labels
        self.queries = catalogue.topology
        self._ask = ask
        self.step_s = step_s
        self.failures: list[str] = []
        self.queries_issued: list[str] = []

    def ask(self, template: str, scopes: Mapping[Scope, str]) -> list[Series] | None:
        try:
            promql = render_query(template, scopes, step_s=self.step_s)
        except ScopeError:
            return None
        self.queries_issued.append(promql)
        try:
            return self._ask(promql)
        except (UpstreamUnavailableError, BadQueryError) as exc:
            self.failures.append(str(exc))
            log.warning("topology_query_failed", promql=promql, error=str(exc))
            return None

    def label(self, series: Series, key: str) -> str:
        return series.labels.get(getattr(self.names, key), "")


def resolve(
    catalogue: Catalogue, ask: Ask, labels: Mapping[str, str], *, step_s: float
) -> tuple[Topology, list[str]]:
    """The incident's topology, and the PromQL it asked (for the report)."""
    r = _Resolver(catalogue, ask, step_s)
    names = catalogue.labels
    model = labels.get(names.model, "")
    namespace = labels.get(names.namespace, "")
    seed_pod = labels.get(names.pod, "")
    node_labels = dict.fromkeys((names.gpu_host, names.node, *NODE_LABELS))
    seed_nodes = sorted({labels[k] for k in node_labels if labels.get(k)})
    seen: set[str] = set()

    models = [model] if model else []
    if not models:
        models = _models_from_seeds(r, namespace, seed_pod, seed_nodes, seen)
    namespaces = [namespace] if namespace else []
    pods: dict[tuple[str, str], Pod] = {}
    if models:
        scope = [regex_matcher(names.model, models)]
        if namespaces:
            scope.append(regex_matcher(names.namespace, namespaces))
        for series in r.ask(r.queries.pods, {Scope.MODEL: ", ".join(scope)}) or []:
            name = r.label(series, "pod")
            if not name:
                continue
            first, last = _span(series)
            ns = r.label(series, "namespace")
            pods[(ns, name)] = Pod(ns, name, first_seen=first, last_seen=last)
        if pods:
            seen.add("vllm")
            namespaces = namespaces or sorted({ns for ns, _ in pods if ns})

    pods = _with_kube_state(r, pods, seen)
    gpus, mapping = _gpus(r, pods, seed_nodes, labels, seen)
    topology = Topology(
        models=tuple(models),
        namespaces=tuple(namespaces),
        pods=tuple(sorted(pods.values(), key=lambda p: (p.first_seen or 0.0, p.name))),
        gpus=tuple(gpus),
        gpu_mapping=mapping,
        seen=frozenset(seen),
        names=names,
        alerted_nodes=tuple(seed_nodes),
    )
    return replace(topology, missing=tuple(_missing(topology, r.failures))), r.queries_issued


def _models_from_seeds(
    r: _Resolver, namespace: str, seed_pod: str, seed_nodes: Sequence[str], seen: set[str]
) -> list[str]:
    """Models serving on the incident's pod or nodes (a GPU alert names no model)."""
    pod_names = {seed_pod} if seed_pod else set()
    if seed_nodes:
        nodes = {Scope.NODES: regex_matcher(r.names.node, seed_nodes)}
        on_nodes = r.ask(r.queries.pods_on_nodes, nodes)
        for series in on_nodes or []:
            seen.add("kube")
            pod_names.add(r.label(series, "pod"))
        hosts = {Scope.HOSTS: regex_matcher(r.names.gpu_host, seed_nodes)}
        mapped = r.ask(r.queries.gpus, hosts)
        for series in mapped or []:
            seen.add("dcgm")
            if r.label(series, "pod"):
                pod_names.add(r.label(series, "pod"))
    pod_names.discard("")
    if not pod_names:
        return []
    scope = regex_matcher(r.names.pod, sorted(pod_names))
    if namespace:
        scope += ", " + matcher(r.names.namespace, namespace)
    found = r.ask(r.queries.models, {Scope.PODS: scope}) or []
    return sorted({r.label(s, "model") for s in found if r.label(s, "model")})


def _with_kube_state(
    r: _Resolver, pods: dict[tuple[str, str], Pod], seen: set[str]
) -> dict[tuple[str, str], Pod]:
    """Nodes, ReplicaSets, images, readiness and restarts from kube-state-metrics."""
    if not pods:
        return pods
    scopes = {Scope.PODS: pods_matchers(r.names, pods.values())}
    updates: dict[tuple[str, str], dict[str, Any]] = {key: {} for key in pods}

    def each(template: str) -> Iterable[tuple[tuple[str, str], Series]]:
        for series in r.ask(template, scopes) or []:
            key = (r.label(series, "namespace"), r.label(series, "pod"))
            if key in updates:
                seen.add("kube")
                yield key, series

    for key, series in each(r.queries.pod_info):
        _, listed_until = _span(series)
        updates[key].update(
            node=r.label(series, "node"),
            replicaset=r.label(series, "replicaset"),
            listed_until=listed_until,
        )
    for key, series in each(r.queries.pod_images):
        updates[key]["image"] = r.label(series, "image")
    for key, series in each(r.queries.not_ready):
        updates[key]["not_ready"] = _last_value(series) > 0
    for key, series in each(r.queries.restarts):
        values = [v for _, v in series.points if math.isfinite(v)]
        updates[key]["restarts"] = (max(values) - min(values)) if values else 0.0
    return {key: replace(pod, **updates[key]) for key, pod in pods.items()}


def _gpus(
    r: _Resolver,
    pods: Mapping[tuple[str, str], Pod],
    seed_nodes: Sequence[str],
    labels: Mapping[str, str],
    seen: set[str],
) -> tuple[list[Gpu], str]:
    """The GPUs the model's pods ran on: by pod mapping when the exporter has it, else by node."""
    pod_names = {name for _, name in pods}
    nodes = sorted({p.node for p in pods.values() if p.node} | set(seed_nodes))
    if not nodes and not pod_names:
        return [], "none"
    answer = None
    if nodes:
        answer = r.ask(r.queries.gpus, {Scope.HOSTS: regex_matcher(r.names.gpu_host, nodes)})
    if not answer and pod_names:  # dcgm-exporter's Hostname may not be the node's name
        scopes = {Scope.PODS: pods_matchers(r.names, pods.values())}
        answer = r.ask(r.queries.gpus_of_pods, scopes)
    found = [
        Gpu(r.label(s, "gpu_host"), r.label(s, "gpu"), r.label(s, "gpu_uuid"), r.label(s, "pod"))
        for s in answer or []
        if r.label(s, "gpu_uuid")
    ]
    if found:
        seen.add("dcgm")
    mapped = any(g.pod for g in found)
    alerted = labels.get(r.names.gpu_uuid, "")
    if mapped and pod_names:
        chosen = [g for g in found if g.pod in pod_names or g.uuid == alerted]
        mapping = "pod"
    else:
        chosen = found
        mapping = "node" if found else "none"
    unique = {(g.host, g.uuid): g for g in chosen}
    return sorted(unique.values(), key=lambda g: (g.host, g.gpu)), mapping


def _missing(topology: Topology, failures: Sequence[str]) -> list[str]:
    """What triage cannot see, in words that say which causes stay open."""
    notes: list[str] = []
    if failures:
        notes.append(f"topology queries failed: {failures[0]}")
    if not topology.models:
        notes.append(
            f"no model resolved (no {topology.names.model} label on the incident, and no vLLM "
            "pod found on its node or pod); serving signals cannot be scoped"
        )
    elif not topology.pods:
        notes.append(
            f"no vLLM series for {', '.join(topology.models)}; capacity and error causes "
            "cannot be judged"
        )
    if topology.pods and "kube" not in topology.seen:
        notes.append(
            "no kube-state-metrics for the model's pods: nodes, images, readiness and restarts "
            "unknown"
        )
    if not topology.gpus:
        where = (
            f"nodes {', '.join(topology.nodes)}" if topology.nodes else "the model's pods or nodes"
        )
        notes.append(f"no dcgm-exporter series for {where}; GPU causes cannot be ruled out")
    return notes
