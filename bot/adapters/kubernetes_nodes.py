"""KubernetesNodes: cordon, uncordon and drain a cluster's nodes through the official client.

- cordon / uncordon: a JSON merge patch of `spec.unschedulable`, with the annotation
  `firebreak.dev/cordoned-by` marking nodes Firebreak cordoned (so it uncordons only those, and
  counts them against the target's `max_cordoned_nodes`).
- drain, as `kubectl drain` does: cordon, list the node's pods (`fieldSelector
  spec.nodeName=`), leave DaemonSet-owned, mirror and finished pods, and evict the rest through
  the Eviction API (policy/v1). A 429 is a PodDisruptionBudget refusing for now: retried every
  `retry_interval_s` until the timeout, then reported pod by pod; evicted pods are waited for
  until they are gone.

Kubernetes and transport errors become UpstreamUnavailableError; a refusal (4xx) TargetError.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from bot.adapters.kubernetes_translation import MERGE_PATCH, call, translated
from bot.domain.runbooks import DrainResult, NodeState
from bot.runbook.targets import KubernetesTargetConfig

log = structlog.get_logger(__name__)
CORDONED_BY = "firebreak.dev/cordoned-by"
MIRROR = "kubernetes.io/config.mirror"
FINISHED = frozenset({"Succeeded", "Failed"})
TOO_MANY_REQUESTS = 429


def _name(pod: Any) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def _quantity(value: object) -> float:
    text = str(value or "0")
    try:
        return float(text)
    except ValueError:
        return 0.0


def _ready(node: Any) -> bool:
    conditions = (node.status.conditions if node.status else None) or []
    ready = [c for c in conditions if c.type == "Ready"]
    return not ready or ready[0].status == "True"


def skip_reason(pod: Any) -> str | None:
    """Why a drain leaves this pod alone, as kubectl drain would; None when it evicts it."""
    meta = pod.metadata
    if MIRROR in (meta.annotations or {}):
        return "mirror pod (static, managed by the kubelet)"
    if any(o.kind == "DaemonSet" and o.controller for o in meta.owner_references or []):
        return "DaemonSet-managed"
    if pod.status is not None and pod.status.phase in FINISHED:
        return f"finished ({pod.status.phase})"
    return None


class KubernetesNodes:
    """The nodes of one cluster, as a Kubernetes target's node actions see them."""

    def __init__(
        self,
        config: KubernetesTargetConfig,
        api: k8s.ApiClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry_interval_s: float | None = None,
    ) -> None:
        self._config = config
        self._core = k8s.CoreV1Api(api)
        self._sleep = sleep
        self._clock = clock
        self._retry_interval_s = retry_interval_s or config.drain_retry_interval_s

    def node_state(self, node: str) -> NodeState:
        found = call("read_node", lambda: self._core.read_node(node))
        listed = call("list_nodes", lambda: self._core.list_node()).items
        pool = self._pool_of(found)
        others = [
            n
            for n in listed
            if n.metadata is not None
            and n.metadata.name != node
            and self._is_gpu(n)
            and self._pool_of(n) == pool
            and not (n.spec and n.spec.unschedulable)
            and _ready(n)
        ]
        return NodeState(
            name=node,
            unschedulable=bool(found.spec and found.spec.unschedulable),
            cordoned_by_firebreak=self._ours(found),
            gpu=self._is_gpu(found),
            pool=pool,
            other_schedulable_gpu_nodes=len(others),
            cordoned_by_firebreak_total=sum(1 for n in listed if self._ours(n)),
            max_cordoned=self._config.max_cordoned_nodes,
            pods=tuple(sorted(_name(p) for p in self._pods_on(node) if skip_reason(p) is None)),
        )

    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        body = {
            "metadata": {"annotations": {CORDONED_BY: "firebreak" if unschedulable else None}},
            "spec": {"unschedulable": unschedulable},
        }
        call("patch_node", lambda: self._core.patch_node(node, body, _content_type=MERGE_PATCH))
        log.info("kubernetes_node_cordoned" if unschedulable else "kubernetes_node_uncordoned",
                 node=node)  # fmt: skip

    def drain(self, node: str, timeout_s: float) -> DrainResult:
        deadline = self._clock() + timeout_s
        found = call("read_node", lambda: self._core.read_node(node))
        if not (found.spec and found.spec.unschedulable):
            self.set_unschedulable(node, True)
        skipped: dict[str, str] = {}
        pending: dict[str, Any] = {}
        for pod in self._pods_on(node):
            reason = skip_reason(pod)
            if reason is None:
                pending[_name(pod)] = pod
            else:
                skipped[_name(pod)] = reason
        evicted: list[str] = []
        refused: dict[str, str] = {}
        while pending:
            for name, pod in list(pending.items()):
                outcome = self._evict(pod)
                if outcome is None:
                    evicted.append(name)
                    pending.pop(name)
                    refused.pop(name, None)
                else:
                    refused[name] = outcome
            if not pending or self._clock() >= deadline:
                break
            self._sleep(min(self._retry_interval_s, max(0.0, deadline - self._clock())))
        remaining = {name: refused.get(name, "not evicted") for name in pending}
        remaining.update(self._still_there(node, evicted, deadline))
        result = DrainResult(node, tuple(sorted(evicted)), skipped, remaining)
        log.info(
            "kubernetes_node_drained" if result.complete else "kubernetes_node_drain_incomplete",
            node=node,
            evicted=len(evicted),
            skipped=len(skipped),
            remaining=sorted(remaining),
        )
        return result

    # ---- pods and evictions --------------------------------------------------------------

    def _pods_on(self, node: str) -> list[Any]:
        listed = call(
            "list_pods",
            lambda: self._core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}"),
        )
        return [p for p in listed.items if p.spec is None or p.spec.node_name in (None, node)]

    def _evict(self, pod: Any) -> str | None:
        """None when evicted (or already gone); else why not, for now."""
        meta = pod.metadata
        body = k8s.V1Eviction(
            api_version="policy/v1",
            kind="Eviction",
            metadata=k8s.V1ObjectMeta(name=meta.name, namespace=meta.namespace),
        )
        try:
            with translated("create_pod_eviction", passthrough=(TOO_MANY_REQUESTS, 404)):
                self._core.create_namespaced_pod_eviction(meta.name, meta.namespace, body)
        except ApiException as exc:
            if exc.status == 404:
                return None
            return f"eviction refused by a PodDisruptionBudget ({_message(exc)})"
        return None

    def _still_there(self, node: str, evicted: list[str], deadline: float) -> dict[str, str]:
        """Evicted pods not yet gone at the deadline (still terminating)."""
        waiting = set(evicted)
        while waiting:
            waiting &= {_name(p) for p in self._pods_on(node)}
            if not waiting or self._clock() >= deadline:
                break
            self._sleep(min(self._retry_interval_s, max(0.0, deadline - self._clock())))
        return dict.fromkeys(sorted(waiting), "evicted, still terminating")

    def _pool_of(self, node: Any) -> str:
        labels = (node.metadata.labels if node.metadata else None) or {}
        return str(labels.get(self._config.node_pool_label, ""))

    def _is_gpu(self, node: Any) -> bool:
        allocatable = (node.status.allocatable if node.status else None) or {}
        return _quantity(allocatable.get(self._config.gpu_resource)) > 0

    @staticmethod
    def _ours(node: Any) -> bool:
        annotations = node.metadata.annotations or {}
        return bool(node.spec and node.spec.unschedulable) and CORDONED_BY in annotations


def _message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return str(exc.reason)
    causes = (body.get("details") or {}).get("causes") or []
    return "; ".join(str(c.get("message")) for c in causes) or str(body.get("message", exc.reason))
