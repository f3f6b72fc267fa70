"""A loopback Kubernetes API server with the endpoints KubernetesTarget uses.

Point the real `kubernetes` client at `server.url` (Configuration.host). It serves, from
in-memory objects, with the API server's wire format:

    GET|PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}[/scale]
    GET       /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=k=v,...
    GET|PATCH /apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}
    GET|PATCH /apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}

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
            key = (resource, namespace, parts[2] if len(parts) > 2 else "")
            if key not in api.objects:
                self._status(404, "NotFound")
                return
            obj = api.objects[key]
            sub = parts[3] if len(parts) > 3 else ""
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
            return
        self._status(404, "NotFound")

    def _list(self, resource: str, namespace: str, query: dict[str, list[str]]) -> None:
        selector = dict(
            pair.split("=", 1)
            for pair in (query.get("labelSelector") or [""])[0].split(",")
            if pair
        )
        items = [
            obj
            for (kind, ns, _), obj in self.server.api.objects.items()
            if kind == resource
            and ns == namespace
            and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        kind = "ReplicaSetList" if resource == "replicasets" else "List"
        self._json(200, {"apiVersion": "apps/v1", "kind": kind, "metadata": {}, "items": items})

    def _status(self, code: int, reason: str) -> None:
        self._json(
            code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": reason,
                "reason": reason,
                "code": code,
            },
        )

    def _json(self, code: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


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
