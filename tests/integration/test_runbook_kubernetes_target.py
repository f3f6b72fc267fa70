"""KubernetesTarget through the real `kubernetes` client against a loopback API server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from bot.adapters.kubernetes_target import KubernetesTarget
from bot.domain.errors import UpstreamUnavailableError
from bot.runbook.errors import TargetError
from bot.runbook.targets import KubernetesTargetConfig
from tests.servers.kubernetes import MERGE_PATCH, KubernetesApiServer

NS = "serving"
MODEL = "llama-3-8b"


def route() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "llama", "namespace": NS},
        "spec": {
            "parentRefs": [{"name": "inference-gateway"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                    "backendRefs": [
                        {"name": "llama-us-east", "port": 8000, "weight": 3},
                        {"name": "llama-us-west", "port": 8000, "weight": 1},
                    ],
                }
            ],
        },
    }


def isvc() -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "llama", "namespace": NS},
        "spec": {
            "predictor": {"canaryTrafficPercent": 20, "model": {"modelFormat": {"name": "hf"}}}
        },
        "status": {
            "components": {
                "predictor": {
                    "latestCreatedRevision": "llama-predictor-00003",
                    "latestRolledoutRevision": "llama-predictor-00003",
                    "previousRolledoutRevision": "llama-predictor-00002",
                    "traffic": [
                        {"revisionName": "llama-predictor-00003", "percent": 20, "tag": "latest"},
                        {"revisionName": "llama-predictor-00002", "percent": 80, "tag": "prev"},
                    ],
                }
            }
        },
    }


@pytest.fixture
def server() -> Iterator[KubernetesApiServer]:
    with KubernetesApiServer() as running:
        api = running.api
        api.add_deployment("llama-us-east", 4, ["v1.3.0", "v1.4.2"], NS)
        api.add_deployment("llama-us-west", 2, ["v1.3.0", "v1.4.2"], NS)
        api.put("httproutes", route())
        api.put("inferenceservices", isvc())
        yield running


def make_target(server: KubernetesApiServer, **overrides: Any) -> KubernetesTarget:
    values: dict[str, Any] = {
        "kind": "kubernetes",
        "name": MODEL,
        "host": server.url,
        "namespace": NS,
        "pools": {
            "primary": {"deployment": "llama-us-east"},
            "secondary": {"deployment": "llama-us-west"},
        },
        "route": "llama",
    }
    values.update(overrides)
    return KubernetesTarget(KubernetesTargetConfig.model_validate(values))


def test_state_reads_scale_route_and_revisions(server: KubernetesApiServer) -> None:
    """State comes from the scale subresources, the HTTPRoute's weights and the ReplicaSets."""
    state = make_target(server).get_state(MODEL)
    assert state.replicas == {"primary": 4, "secondary": 2}
    assert state.traffic_weights == {"primary": 75, "secondary": 25}
    assert state.version == "v1.4.2"
    assert state.version_history == ("v1.3.0", "v1.4.2")
    assert state.known_good == "v1.3.0"
    paths = {c.path for c in server.api.calls}
    assert f"/apis/apps/v1/namespaces/{NS}/deployments/llama-us-east/scale" in paths
    lists = [c for c in server.api.calls if c.path.endswith("/replicasets")]
    assert lists[0].query["labelSelector"] == ["app=llama-us-east"]


def test_set_replicas_merge_patches_the_scale_subresource(server: KubernetesApiServer) -> None:
    """Scaling sends one merge patch of spec.replicas to the Deployment's scale subresource."""
    target = make_target(server)
    target.set_replicas(MODEL, "primary", 6)
    patch = server.api.calls[-1]
    assert (patch.method, patch.content_type) == ("PATCH", MERGE_PATCH)
    assert patch.path == f"/apis/apps/v1/namespaces/{NS}/deployments/llama-us-east/scale"
    assert patch.body == {"spec": {"replicas": 6}}
    assert target.get_state(MODEL).replicas["primary"] == 6


def test_failover_rewrites_backend_weights_with_resource_version(
    server: KubernetesApiServer,
) -> None:
    """Traffic weights go to the HTTPRoute's backendRefs in a conditional merge patch."""
    target = make_target(server)
    target.set_traffic(MODEL, {"primary": 0, "secondary": 100})
    patch = server.api.calls[-1]
    assert patch.content_type == MERGE_PATCH
    assert patch.body["metadata"]["resourceVersion"]
    refs = patch.body["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"], r["port"]) for r in refs] == [
        ("llama-us-east", 0, 8000),
        ("llama-us-west", 100, 8000),
    ]
    assert target.get_state(MODEL).traffic_weights == {"primary": 0, "secondary": 100}
    stored = server.api.get("httproutes", NS, "llama")
    assert stored["spec"]["parentRefs"] == [{"name": "inference-gateway"}]


def test_rollback_restores_an_older_revision_template(server: KubernetesApiServer) -> None:
    """Rolling back copies the older ReplicaSet's pod template onto the Deployment."""
    target = make_target(server)
    target.set_version(MODEL, "v1.3.0")
    patch = server.api.calls[-1]
    assert patch.path == f"/apis/apps/v1/namespaces/{NS}/deployments/llama-us-east"
    sent = patch.body["spec"]["template"]
    assert sent["metadata"]["labels"]["app.kubernetes.io/version"] == "v1.3.0"
    assert "pod-template-hash" not in sent["metadata"]["labels"]
    state = target.get_state(MODEL)
    assert state.version == "v1.3.0"
    assert state.version_history == ("v1.4.2", "v1.3.0")
    with pytest.raises(TargetError, match="v9"):
        target.set_version(MODEL, "v9")


def test_kserve_rollback_sets_canary_traffic_to_zero(server: KubernetesApiServer) -> None:
    """With KServe, rolling back to the previous revision patches canaryTrafficPercent: 0."""
    target = make_target(server, rollback="kserve", inference_service="llama")
    state = target.get_state(MODEL)
    assert state.version == "llama-predictor-00002"
    assert state.known_good == "llama-predictor-00002"
    target.set_version(MODEL, "llama-predictor-00002")
    patch = server.api.calls[-1]
    assert patch.path == f"/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/llama"
    assert patch.body == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
    target.set_version(MODEL, "llama-predictor-00003")
    assert server.api.calls[-1].body == {"spec": {"predictor": {"canaryTrafficPercent": 100}}}


def test_api_errors_become_firebreak_errors(server: KubernetesApiServer) -> None:
    """A 5xx is UpstreamUnavailableError, a 4xx TargetError with its status, a dead host too."""
    target = make_target(server)
    scale = f"/apis/apps/v1/namespaces/{NS}/deployments/llama-us-east/scale"
    server.api.fail_next[("PATCH", scale)] = 503
    with pytest.raises(UpstreamUnavailableError):
        target.set_replicas(MODEL, "primary", 5)
    server.api.fail_next[("PATCH", scale)] = 403
    with pytest.raises(TargetError) as refused:
        target.set_replicas(MODEL, "primary", 5)
    assert refused.value.status == 403
    assert not isinstance(refused.value, k8s.ApiException)


def test_unreachable_cluster_is_upstream_unavailable() -> None:
    """A cluster that does not answer raises UpstreamUnavailableError, not a urllib3 error."""
    with KubernetesApiServer() as gone:
        url = gone.url
    config = KubernetesTargetConfig.model_validate(
        {
            "kind": "kubernetes",
            "name": MODEL,
            "host": url,
            "pools": {"primary": {"deployment": "x"}},
        }
    )
    configuration = k8s.Configuration()
    configuration.host = url
    configuration.retries = 0
    target = KubernetesTarget(config, k8s.ApiClient(configuration))
    with pytest.raises(UpstreamUnavailableError):
        target.get_state(MODEL)
