"""A loopback Kubernetes API server with the endpoints KubernetesTarget uses.

Point the real `kubernetes` client at `server.url` (Configuration.host). It serves, from
in-memory objects, with the API server's wire format:

    GET|PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}[/scale]
    GET       /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=k=v,...
    GET|PATCH /apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}
    GET|PATCH /apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}
    GET       /api/v1/nodes, GET|PATCH /api/v1/nodes/{name}
    GET       /api/v1/pods?fieldSelector=spec.nodeName=..., /api/v1/namespaces/{ns}/pods[/{name}]
    POST      /api/v1/namespaces/{ns}/pods/{name}/eviction   (policy/v1 Eviction)
    GET       /apis/policy/v1/namespaces/{ns}/poddisruptionbudgets

An eviction honours the PodDisruptionBudgets selecting the pod, as the API server does: when
evicting would leave fewer healthy pods than `minAvailable` (or more unavailable than
`maxUnavailable`) it answers 429 with a DisruptionBudget cause; otherwise the pod is deleted
and, when `replace_evicted` is set and a ReplicaSet owns it, a replacement is scheduled on
another schedulable node (the ReplicaSet controller and the scheduler, in one step).

PATCH accepts only `application/merge-patch+json` (RFC 7386) and answers 409 when the patch
carries a stale `metadata.resourceVersion`. Patching a Deployment's pod template to an older
ReplicaSet's template makes that ReplicaSet the newest revision, as the controller does.
Every request is recorded in `calls`; `fail_next[(method, path)] = status` fails one request.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

REVISION = "deployment.kubernetes.io/revision"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeKubernetes:
    """The objects the loopback server serves, keyed by (resource, namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls: list[Call] = []
        self.fail_next: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self._version = 100
        self.replace_evicted = True
        self.evictions: list[str] = []

    def next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def put(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta["resourceVersion"] = self.next_version()
        self.objects[(resource, meta["namespace"], meta["name"])] = obj
        return obj

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return self.objects[(resource, namespace, name)]

    def add_node(
        self,
        name: str,
        pool: str = "NVIDIA-H100-80GB-HBM3",
        gpus: int = 8,
        unschedulable: bool = False,
        ready: bool = True,
    ) -> dict[str, Any]:
        """A node as the kubelet and GPU feature discovery publish it."""
        labels = {"kubernetes.io/hostname": name}
        if gpus:
            labels["nvidia.com/gpu.product"] = pool
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "namespace": "", "labels": labels, "annotations": {}},
            "spec": {"unschedulable": True} if unschedulable else {},
            "status": {
                "allocatable": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": str(gpus)},
                "capacity": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": str(gpus)},
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        }
        return self.put("nodes", node)

    def add_pod(
        self,
        name: str,
        node: str,
        namespace: str = "serving",
        owner: tuple[str, str] | None = ("ReplicaSet", "llama-h2"),
        labels: dict[str, str] | None = None,
        mirror: bool = False,
        phase: str = "Running",
    ) -> dict[str, Any]:
        """A pod bound to `node`; `owner` is its controller (kind, name), None for a bare pod."""
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
        if owner is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "v1" if owner[0] == "Node" else "apps/v1",
                    "kind": owner[0],
                    "name": owner[1],
                    "uid": str(uuid.uuid4()),
                    "controller": True,
                }
            ]
        if mirror:
            meta["annotations"] = {"kubernetes.io/config.mirror": "hash"}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": phase},
        }
        return self.put("pods", pod)

    def add_pdb(
        self,
        name: str,
        match_labels: dict[str, str],
        namespace: str = "serving",
        min_available: int | None = None,
        max_unavailable: int | None = None,
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {"selector": {"matchLabels": match_labels}}
        if min_available is not None:
            spec["minAvailable"] = min_available
        if max_unavailable is not None:
            spec["maxUnavailable"] = max_unavailable
        pdb = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
            "status": {"expectedPods": len(self.pods_matching(namespace, match_labels))},
        }
        return self.put("poddisruptionbudgets", pdb)

    def pods_matching(self, namespace: str, match_labels: dict[str, str]) -> list[dict[str, Any]]:
        return [
            pod
            for (kind, ns, _), pod in self.objects.items()
            if kind == "pods"
            and ns == namespace
            and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            and all(pod["metadata"].get("labels", {}).get(k) == v for k, v in match_labels.items())
        ]

    def pods_on(self, node: str) -> list[str]:
        return sorted(
            f"{ns}/{name}"
            for (kind, ns, name), pod in self.objects.items()
            if kind == "pods" and pod["spec"].get("nodeName") == node
        )

    def evict(self, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
        """The Eviction subresource: (status, body)."""
        key = ("pods", namespace, name)
        if key not in self.objects:
            return 404, status_body(404, "NotFound", f'pods "{name}" not found')
        pod = self.objects[key]
        labels = pod["metadata"].get("labels", {})
        for (kind, ns, pdb_name), pdb in self.objects.items():
            if kind != "poddisruptionbudgets" or ns != namespace:
                continue
            selector = pdb["spec"]["selector"].get("matchLabels", {})
            if not all(labels.get(k) == v for k, v in selector.items()):
                continue
            healthy = len(self.pods_matching(namespace, selector))
            if "minAvailable" in pdb["spec"]:
                needed = int(pdb["spec"]["minAvailable"])
            else:
                expected = int(pdb["status"].get("expectedPods", healthy))
                needed = expected - int(pdb["spec"].get("maxUnavailable", 0))
            if healthy - 1 < needed:
                body = status_body(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                )
                body["details"] = {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {pdb_name} needs {needed} "
                            f"healthy pods and has {healthy} currently",
                        }
                    ]
                }
                return 429, body
        del self.objects[key]
        self.evictions.append(f"{namespace}/{name}")
        owners = pod["metadata"].get("ownerReferences", [])
        if self.replace_evicted and any(o["kind"] == "ReplicaSet" for o in owners):
            self._replace(pod)
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    def _replace(self, pod: dict[str, Any]) -> None:
        """The ReplicaSet controller and scheduler: a new pod on another schedulable node."""
        nodes = sorted(
            name
            for (kind, _, name), node in self.objects.items()
            if kind == "nodes"
            and not node["spec"].get("unschedulable")
            and name != pod["spec"]["nodeName"]
        )
        if not nodes:
            return
        replacement = copy.deepcopy(pod)
        owner = pod["metadata"]["ownerReferences"][0]["name"]
        replacement["metadata"]["name"] = f"{owner}-{uuid.uuid4().hex[:5]}"
        replacement["metadata"].pop("uid", None)
        replacement["spec"]["nodeName"] = nodes[0]
        self.put("pods", replacement)

    def add_deployment(
        self,
        name: str,
        replicas: int,
        versions: list[str],
        namespace: str = "serving",
        annotations: dict[str, str] | None = None,
    ) -> None:
        """A Deployment running the last of `versions`, with one ReplicaSet per version."""
        labels = {"app": name}
        deployment = self.put(
            "deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "annotations": annotations or {},
                },
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": labels},
                    "template": template(name, versions[-1]),
                },
            },
        )
        for revision, version in enumerate(versions, start=1):
            rs_template = template(name, version)
            rs_template["metadata"]["labels"]["pod-template-hash"] = f"h{revision}"
            self.put(
                "replicasets",
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": f"{name}-h{revision}",
                        "namespace": namespace,
                        "labels": {**labels, "pod-template-hash": f"h{revision}"},
                        "annotations": {REVISION: str(revision)},
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": name,
                                "uid": deployment["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": {
                        "replicas": replicas if version == versions[-1] else 0,
                        "selector": {"matchLabels": labels},
                        "template": rs_template,
                    },
                },
            )

    def after_deployment_patch(self, deployment: dict[str, Any]) -> None:
        """The Deployment controller: the ReplicaSet matching the template becomes newest."""
        wanted = _without_hash(deployment["spec"]["template"])
        uid = deployment["metadata"]["uid"]
        owned = [
            rs
            for (kind, _, _), rs in self.objects.items()
            if kind == "replicasets"
            and any(o["uid"] == uid for o in rs["metadata"].get("ownerReferences", []))
        ]
        newest = max(int(rs["metadata"]["annotations"][REVISION]) for rs in owned)
        for rs in owned:
            if _without_hash(rs["spec"]["template"]) == wanted:
                rs["metadata"]["annotations"][REVISION] = str(newest + 1)


def status_body(code: int, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message or reason,
        "reason": reason,
        "code": code,
    }


def template(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": name, "app.kubernetes.io/version": version}},
        "spec": {"containers": [{"name": "vllm", "image": f"vllm/vllm-openai:{version}"}]},
    }


def _without_hash(pod_template: dict[str, Any]) -> dict[str, Any]:
    cleaned = copy.deepcopy(pod_template)
    cleaned.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return cleaned


_PREFIXES = {
    "/api/v1/namespaces/": ("v1", {"pods"}),
    "/apis/policy/v1/namespaces/": ("policy/v1", {"poddisruptionbudgets"}),
    "/apis/apps/v1/namespaces/": ("apps/v1", {"deployments", "replicasets"}),
    "/apis/gateway.networking.k8s.io/v1/namespaces/": ("gateway", {"httproutes"}),
    "/apis/serving.kserve.io/v1beta1/namespaces/": ("kserve", {"inferenceservices"}),
}


class _Handler(BaseHTTPRequestHandler):
    server: KubernetesApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        content_type = self.headers.get("Content-Type", "")
        api = self.server.api
        with api.lock:
            api.calls.append(Call(method, split.path, parse_qs(split.query), content_type, body))
            failure = api.fail_next.pop((method, split.path), None)
            if failure is not None:
                self._status(failure, "InternalError" if failure >= 500 else "Forbidden")
                return
            self._route(method, split.path, parse_qs(split.query), content_type, body)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], ctype: str, body: Any
    ) -> None:
        api = self.server.api
        if path == "/api/v1/pods" and method == "GET":
            self._list("pods", None, query)
            return
        if path.startswith("/api/v1/nodes"):
            parts = path[len("/api/v1/nodes") :].strip("/").split("/")
            if parts == [""] and method == "GET":
                self._list("nodes", "", query)
                return
            path = f"/api/v1/namespaces//nodes/{parts[0]}"
        parts = path.split("/")
        if method == "POST" and path.startswith("/api/v1/namespaces/") and parts[-1] == "eviction":
            wanted = (body or {}).get("metadata", {}).get("name")
            if (body or {}).get("kind") != "Eviction" or wanted != parts[6]:
                self._status(400, "BadRequest")
                return
            code, document = api.evict(parts[4], parts[6])
            self._json(code, document)
            return
        if path.startswith("/api/v1/namespaces//nodes/"):
            self._object(method, "nodes", "", parts[-1], "", ctype, body)
            return
        for prefix, (_, resources) in _PREFIXES.items():
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            namespace, resource = parts[0], parts[1] if len(parts) > 1 else ""
            if resource not in resources:
                break
            if len(parts) == 2 and method == "GET":
                self._list(resource, namespace, query)
                return
            name = parts[2] if len(parts) > 2 else ""
            sub = parts[3] if len(parts) > 3 else ""
            self._object(method, resource, namespace, name, sub, ctype, body)
            return
        self._status(404, "NotFound")

    def _object(
        self, method: str, resource: str, namespace: str, name: str, sub: str, ctype: str, body: Any
    ) -> None:
        api = self.server.api
        key = (resource, namespace, name)
        if key not in api.objects:
            self._status(404, "NotFound")
            return
        obj = api.objects[key]
        if method == "PATCH":
            if ctype.split(";")[0].strip() != MERGE_PATCH:
                self._status(415, "UnsupportedMediaType")
                return
            wanted = (body or {}).get("metadata", {}).get("resourceVersion")
            if wanted and wanted != obj["metadata"]["resourceVersion"]:
                self._status(409, "Conflict")
                return
            if sub == "scale":
                body = {"spec": {"replicas": body["spec"]["replicas"]}}
            obj = merge_patch(obj, body)
            obj["metadata"]["resourceVersion"] = api.next_version()
            api.objects[key] = obj
            if resource == "deployments" and sub == "":
                api.after_deployment_patch(obj)
        self._json(200, _scale_of(obj) if sub == "scale" else obj)

    def _list(self, resource: str, namespace: str | None, query: dict[str, list[str]]) -> None:
        selector = dict(
            pair.split("=", 1)
            for pair in (query.get("labelSelector") or [""])[0].split(",")
            if pair
        )
        fields = dict(
            pair.split("=", 1)
            for pair in (query.get("fieldSelector") or [""])[0].split(",")
            if pair
        )
        items = [
            obj
            for (kind, ns, _), obj in self.server.api.objects.items()
            if kind == resource
            and (namespace is None or ns == namespace)
            and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
            and all(_field(obj, k) == v for k, v in fields.items())
        ]
        kind = _LIST_KINDS.get(resource, "List")
        api_version = {"pods": "v1", "nodes": "v1"}.get(resource, "apps/v1")
        if resource == "poddisruptionbudgets":
            api_version = "policy/v1"
        version = self.server.api.next_version()
        self._json(
            200,
            {
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    def _status(self, code: int, reason: str) -> None:
        self._json(code, status_body(code, reason))

    def _json(self, code: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_LIST_KINDS = {
    "replicasets": "ReplicaSetList",
    "pods": "PodList",
    "nodes": "NodeList",
    "poddisruptionbudgets": "PodDisruptionBudgetList",
}


def _field(obj: dict[str, Any], path: str) -> str:
    """A field selector's value: `spec.nodeName`, `metadata.name`, ..."""
    value: Any = obj
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)


def _scale_of(deployment: dict[str, Any]) -> dict[str, Any]:
    meta = deployment["metadata"]
    replicas = deployment["spec"]["replicas"]
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "resourceVersion": meta["resourceVersion"],
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "selector": "app=" + meta["name"]},
    }


class KubernetesApiServer(ThreadingHTTPServer):
    """The loopback server; use as a context manager, or `start()` / `stop()`."""

    daemon_threads = True

    def __init__(self, api: FakeKubernetes | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api or FakeKubernetes()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
