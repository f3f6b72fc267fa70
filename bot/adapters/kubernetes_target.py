"""KubernetesTarget: the Target port on a Kubernetes cluster, through the official client.

- replicas: each pool is a Deployment; read and patch its `scale` subresource.
- traffic: a Gateway API HTTPRoute (gateway.networking.k8s.io/v1); pools are backendRefs and
  weights are written back with a JSON merge patch guarded by the route's resourceVersion.
- version: either a Deployment's revisions (ReplicaSets' `deployment.kubernetes.io/revision`;
  rolling back copies an older ReplicaSet's pod template, as `kubectl rollout undo` does) or a
  KServe InferenceService (serving.kserve.io/v1beta1), where `canaryTrafficPercent: 0` sends
  every request back to the previous rolled-out revision.
- restart: a rollout restart stamps the pod template's `kubectl.kubernetes.io/restartedAt`.
- nodes (the ClusterTarget port): cordon, uncordon and drain, in `kubernetes_nodes.py`.

Kubernetes and transport errors become UpstreamUnavailableError; a refusal (4xx) TargetError.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import structlog
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from bot.adapters.kubernetes_nodes import KubernetesNodes
from bot.adapters.kubernetes_translation import MERGE_PATCH, call
from bot.domain.runbooks import DrainResult, NodeState, TargetState
from bot.runbook.errors import TargetError
from bot.runbook.targets import KubernetesTargetConfig, model_of

log = structlog.get_logger(__name__)
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
GATEWAY = ("gateway.networking.k8s.io", "v1", "httproutes")
KSERVE = ("serving.kserve.io", "v1beta1", "inferenceservices")
T = TypeVar("T")


def api_client_for(config: KubernetesTargetConfig) -> k8s.ApiClient:
    """A client for the configured host, or in-cluster / kubeconfig settings when none is set."""
    configuration = k8s.Configuration()
    if config.host:
        configuration.host = config.host.rstrip("/")
        configuration.verify_ssl = config.verify_ssl
        if config.token_path:
            token = Path(config.token_path).read_text(encoding="utf-8").strip()
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
    else:
        load_incluster: Any = k8s_config.load_incluster_config  # untyped in the client
        load_kube_config: Any = k8s_config.load_kube_config
        try:
            load_incluster(client_configuration=configuration)
        except ConfigException:
            load_kube_config(client_configuration=configuration)
    return k8s.ApiClient(configuration)


class KubernetesTarget:
    """One model's pools, route and versions on one cluster."""

    def __init__(self, config: KubernetesTargetConfig, api: k8s.ApiClient | None = None) -> None:
        self._config = config
        self._api = api or api_client_for(config)
        self._apps = k8s.AppsV1Api(self._api)
        self._custom = k8s.CustomObjectsApi(self._api)
        self._nodes = KubernetesNodes(config, self._api)

    @classmethod
    def from_config(cls, config: KubernetesTargetConfig) -> KubernetesTarget:
        return cls(config)

    def close(self) -> None:
        close: Any = self._api.close  # untyped in the client
        close()

    def _plain(self, obj: object) -> dict[str, Any]:
        """A client model as the JSON dict the API server sent (camelCase keys)."""
        sanitize: Any = self._api.sanitize_for_serialization  # untyped in the client
        plain = sanitize(obj)
        return plain if isinstance(plain, dict) else {}

    # ---- the Target port --------------------------------------------------------------

    def get_state(self, model: str) -> TargetState:
        self._check_model(model)
        replicas = {pool: self._read_replicas(p.deployment) for pool, p in self._pools()}
        weights = self._read_weights() if self._config.route else {}
        if self._config.rollback == "kserve":
            version, history, known_good = self._kserve_versions()
        else:
            version, history, known_good = self._deployment_versions()
        return TargetState(
            replicas=replicas,
            traffic_weights=weights,
            version=version,
            version_history=tuple(history),
            known_good=known_good,
        )

    def set_replicas(self, model: str, pool: str, replicas: int) -> None:
        self._check_model(model)
        deployment = self._pool(pool).deployment
        body = {"spec": {"replicas": replicas}}
        self._call(
            "patch_deployment_scale",
            lambda: self._apps.patch_namespaced_deployment_scale(
                deployment, self._ns, body, _content_type=MERGE_PATCH
            ),
        )
        log.info("kubernetes_replicas_set", deployment=deployment, replicas=replicas)

    def set_traffic(self, model: str, weights: dict[str, int]) -> None:
        self._check_model(model)
        if not self._config.route:
            raise TargetError(f"target {self._config.name} has no HTTPRoute configured")
        backends = {self._backend(pool): weight for pool, weight in weights.items()}
        route = self._get_custom(GATEWAY, self._config.route)
        rules = route.get("spec", {}).get("rules", [])
        touched = False
        for rule in rules:
            for ref in rule.get("backendRefs", []):
                if ref.get("name") in backends:
                    ref["weight"] = int(backends[ref["name"]])
                    touched = True
        if not touched:
            raise TargetError(f"HTTPRoute {self._config.route} has none of {sorted(backends)}")
        patch = {
            "metadata": {"resourceVersion": route.get("metadata", {}).get("resourceVersion")},
            "spec": {"rules": rules},
        }
        self._patch_custom(GATEWAY, self._config.route, patch)
        log.info("kubernetes_traffic_set", route=self._config.route, weights=weights)

    def set_version(self, model: str, version: str) -> None:
        self._check_model(model)
        if self._config.rollback == "kserve":
            self._set_kserve_version(version)
        else:
            self._set_deployment_version(version)
        log.info("kubernetes_version_set", target=self._config.name, version=version)

    # ---- the ClusterTarget port -------------------------------------------------------

    def node_state(self, node: str) -> NodeState:
        return self._nodes.node_state(node)

    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        self._nodes.set_unschedulable(node, unschedulable)

    def drain(self, node: str, timeout_s: float) -> DrainResult:
        return self._nodes.drain(node, timeout_s)

    def restarted_at(self, model: str, pool: str) -> str:
        self._check_model(model)
        name = self._pool(pool).deployment
        deployment = self._call(
            "read_deployment", lambda: self._apps.read_namespaced_deployment(name, self._ns)
        )
        template = self._plain(deployment.spec.template)
        annotations = template.get("metadata", {}).get("annotations") or {}
        return str(annotations.get(RESTARTED_AT, ""))

    def restart(self, model: str, pool: str, restarted_at: str) -> None:
        self._check_model(model)
        name = self._pool(pool).deployment
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}}
        self._call(
            "patch_deployment",
            lambda: self._apps.patch_namespaced_deployment(
                name, self._ns, body, _content_type=MERGE_PATCH
            ),
        )
        log.info("kubernetes_rollout_restarted", deployment=name, restarted_at=restarted_at)

    # ---- replicas and traffic ---------------------------------------------------------

    @property
    def _ns(self) -> str:
        return self._config.namespace

    def _pools(self) -> Iterator[tuple[str, Any]]:
        return iter(self._config.pools.items())

    def _pool(self, pool: str) -> Any:
        if pool not in self._config.pools:
            raise TargetError(f"target {self._config.name} has no pool {pool!r}")
        return self._config.pools[pool]

    def _backend(self, pool: str) -> str:
        found = self._pool(pool)
        return str(found.backend or found.deployment)

    def _read_replicas(self, deployment: str) -> int:
        scale = self._call(
            "read_deployment_scale",
            lambda: self._apps.read_namespaced_deployment_scale(deployment, self._ns),
        )
        return int(scale.spec.replicas or 0) if scale.spec is not None else 0

    def _read_weights(self) -> dict[str, int]:
        route = self._get_custom(GATEWAY, self._config.route)
        pool_of = {self._backend(pool): pool for pool in self._config.pools}
        raw: dict[str, int] = dict.fromkeys(self._config.pools, 0)
        for rule in route.get("spec", {}).get("rules", []):
            refs = [r for r in rule.get("backendRefs", []) if r.get("name") in pool_of]
            if refs:
                for ref in refs:
                    raw[pool_of[ref["name"]]] += int(ref.get("weight", 1))
                break
        return as_percent(raw)

    # ---- versions: Deployment revisions -----------------------------------------------

    def _deployment(self) -> Any:
        name = self._pool(self._config.rollback_pool).deployment
        return self._call(
            "read_deployment", lambda: self._apps.read_namespaced_deployment(name, self._ns)
        )

    def _revisions(self, deployment: Any) -> list[tuple[int, str, dict[str, Any]]]:
        """(revision, version, pod template) of the deployment's ReplicaSets, oldest first."""
        selector = ",".join(f"{k}={v}" for k, v in deployment.spec.selector.match_labels.items())
        listed = self._call(
            "list_replica_sets",
            lambda: self._apps.list_namespaced_replica_set(self._ns, label_selector=selector),
        )
        uid = deployment.metadata.uid
        found = []
        for rs in listed.items:
            meta = rs.metadata or k8s.V1ObjectMeta()
            owners = meta.owner_references or []
            if uid and not any(o.uid == uid for o in owners):
                continue
            revision = int((meta.annotations or {}).get(REVISION, "0"))
            template = self._plain(rs.spec.template)
            found.append((revision, self._version_of(template), template))
        return sorted(found, key=lambda item: item[0])

    def _version_of(self, template: dict[str, Any]) -> str:
        labels = template.get("metadata", {}).get("labels", {}) or {}
        if self._config.version_label in labels:
            return str(labels[self._config.version_label])
        containers = template.get("spec", {}).get("containers", [])
        return str(containers[0].get("image", "")) if containers else ""

    def _deployment_versions(self) -> tuple[str, list[str], str | None]:
        deployment = self._deployment()
        current = self._version_of(self._plain(deployment.spec.template))
        history: list[str] = []
        for _, version, _ in self._revisions(deployment):
            if version in history:
                history.remove(version)
            history.append(version)
        annotations = deployment.metadata.annotations or {}
        known_good = annotations.get(self._config.known_good_annotation)
        if known_good is None:
            earlier = [v for v in history if v != current]
            known_good = earlier[-1] if earlier else None
        return current, history, known_good

    def _set_deployment_version(self, version: str) -> None:
        deployment = self._deployment()
        matches = [t for _, v, t in self._revisions(deployment) if v == version]
        if not matches:
            raise TargetError(f"no ReplicaSet of {deployment.metadata.name} runs {version!r}")
        wanted = matches[-1]
        wanted_meta = wanted.setdefault("metadata", {})
        wanted_meta.get("labels", {}).pop(POD_TEMPLATE_HASH, None)
        current = self._plain(deployment.spec.template)
        for field in ("labels", "annotations"):
            stale = set(current.get("metadata", {}).get(field, {}) or {})
            stale -= set(wanted_meta.get(field, {}) or {})
            if stale:
                wanted_meta.setdefault(field, {}).update(dict.fromkeys(stale))
        name = deployment.metadata.name
        body = {"spec": {"template": wanted}}
        self._call(
            "patch_deployment",
            lambda: self._apps.patch_namespaced_deployment(
                name, self._ns, body, _content_type=MERGE_PATCH
            ),
        )

    # ---- versions: KServe InferenceService --------------------------------------------

    def _kserve_versions(self) -> tuple[str, list[str], str | None]:
        isvc = self._get_custom(KSERVE, self._config.inference_service)
        predictor = isvc.get("status", {}).get("components", {}).get("predictor", {})
        history = []
        for key in (
            "previousRolledoutRevision",
            "latestRolledoutRevision",
            "latestCreatedRevision",
        ):
            revision = predictor.get(key)
            if revision and revision not in history:
                history.append(revision)
        traffic = predictor.get("traffic") or []
        serving: dict[str, Any] = max(traffic, key=lambda t: int(t.get("percent", 0)), default={})
        current = str(serving.get("revisionName") or predictor.get("latestRolledoutRevision", ""))
        annotations = isvc.get("metadata", {}).get("annotations", {}) or {}
        known_good = annotations.get(self._config.known_good_annotation) or predictor.get(
            "previousRolledoutRevision"
        )
        return current, history, known_good

    def _set_kserve_version(self, version: str) -> None:
        isvc = self._get_custom(KSERVE, self._config.inference_service)
        predictor = isvc.get("status", {}).get("components", {}).get("predictor", {})
        if version == predictor.get("previousRolledoutRevision"):
            percent = 0
        elif version in (
            predictor.get("latestRolledoutRevision"),
            predictor.get("latestCreatedRevision"),
        ):
            percent = 100
        else:
            raise TargetError(f"InferenceService has no revision {version!r} to route to")
        patch = {"spec": {"predictor": {"canaryTrafficPercent": percent}}}
        self._patch_custom(KSERVE, self._config.inference_service, patch)

    # ---- calls ------------------------------------------------------------------------

    def _check_model(self, model: str) -> None:
        if model != model_of(self._config):
            raise TargetError(
                f"target {self._config.name} serves {model_of(self._config)}, not {model}"
            )

    def _get_custom(self, kind: tuple[str, str, str], name: str) -> dict[str, Any]:
        group, version, plural = kind
        found = self._call(
            f"get_{plural}",
            lambda: self._custom.get_namespaced_custom_object(
                group, version, self._ns, plural, name
            ),
        )
        return found if isinstance(found, dict) else {}

    def _patch_custom(self, kind: tuple[str, str, str], name: str, body: dict[str, Any]) -> None:
        group, version, plural = kind
        self._call(
            f"patch_{plural}",
            lambda: self._custom.patch_namespaced_custom_object(
                group, version, self._ns, plural, name, body, _content_type=MERGE_PATCH
            ),
        )

    def _call(self, what: str, request: Callable[[], T]) -> T:
        return call(what, request)


def as_percent(weights: dict[str, int]) -> dict[str, int]:
    """Relative weights as integer percentages summing to 100 (largest remainder)."""
    total = sum(weights.values())
    if total <= 0:
        return dict.fromkeys(weights, 0)
    exact = {k: w * 100 / total for k, w in weights.items()}
    floors = {k: int(v) for k, v in exact.items()}
    order = sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))
    for key in order[: 100 - sum(floors.values())]:
        floors[key] += 1
    return floors
