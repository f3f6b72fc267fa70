"""HttpTarget: the Target port over a JSON control API (the simulator's, or one shaped like it).

    GET /control/models/{model}            → {"version", "known_good_version",
                                               "version_history": [{"version"}...] | [str],
                                               "pools": {pool: {"desired_replicas",
                                                                "traffic_weight"}}}
    PUT /control/models/{model}/replicas   {"pool", "replicas"}
    PUT /control/models/{model}/traffic    {"weights": {pool: weight}}
    PUT /control/models/{model}/version    {"version"}

Paths are templates (`{model}`) set per target. Transport failures and 5xx become
UpstreamUnavailableError; a 4xx refusal becomes TargetError carrying the status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import structlog

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.runbooks import TargetState
from bot.runbook.errors import TargetError
from bot.runbook.targets import HttpPaths, HttpTargetConfig

log = structlog.get_logger(__name__)


class HttpTarget:
    """Reads and sets a model's replicas, traffic weights and version over HTTP."""

    def __init__(
        self,
        base_url: str,
        *,
        paths: HttpPaths | None = None,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._paths = paths or HttpPaths()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            headers=headers or {},
            transport=transport,
        )

    @classmethod
    def from_config(cls, config: HttpTargetConfig) -> HttpTarget:
        return cls(
            config.base_url, paths=config.paths, timeout_s=config.timeout_s, headers=config.headers
        )

    def close(self) -> None:
        self._client.close()

    def get_state(self, model: str) -> TargetState:
        return parse_state(self._request("GET", self._paths.state, model))

    def set_replicas(self, model: str, pool: str, replicas: int) -> None:
        self._request("PUT", self._paths.replicas, model, {"pool": pool, "replicas": replicas})

    def set_traffic(self, model: str, weights: dict[str, int]) -> None:
        self._request("PUT", self._paths.traffic, model, {"weights": weights})

    def set_version(self, model: str, version: str) -> None:
        self._request("PUT", self._paths.version, model, {"version": version})

    def _request(
        self, method: str, path: str, model: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        url = path.format(model=quote(model, safe=""))
        try:
            response = self._client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            log.warning("http_target_call_failed", method=method, url=url, error=str(exc))
            raise UpstreamUnavailableError(f"{method} {url}: {exc}") from exc
        if response.status_code >= 500:
            raise UpstreamUnavailableError(f"{method} {url}: HTTP {response.status_code}")
        if response.status_code >= 400:
            detail = _detail(response)
            log.warning("http_target_refused", method=method, url=url, status=response.status_code)
            raise TargetError(
                f"{method} {url}: HTTP {response.status_code}: {detail}", response.status_code
            )
        log.info("http_target_called", method=method, url=url, status=response.status_code)
        try:
            document = response.json()
        except ValueError as exc:
            raise UpstreamUnavailableError(f"{method} {url}: answer is not JSON") from exc
        return document if isinstance(document, dict) else {}


def parse_state(document: dict[str, Any]) -> TargetState:
    """Read a control API's model document into a TargetState."""
    pools = document.get("pools") or {}
    if not isinstance(pools, dict):
        raise UpstreamUnavailableError("control API answer has no pools mapping")
    replicas: dict[str, int] = {}
    weights: dict[str, int] = {}
    for name, pool in pools.items():
        replicas[str(name)] = int(pool.get("desired_replicas", pool.get("replicas", 0)))
        weights[str(name)] = round(float(pool.get("traffic_weight", 0.0)))
    history = [
        str(item["version"]) if isinstance(item, dict) else str(item)
        for item in document.get("version_history") or []
    ]
    known_good = document.get("known_good_version", document.get("known_good"))
    return TargetState(
        replicas=replicas,
        traffic_weights=weights,
        version=str(document.get("version", "")),
        version_history=tuple(history),
        known_good=None if known_good is None else str(known_good),
    )


def _detail(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(document, dict):
        return str(document.get("detail") or document.get("error") or document)[:200]
    return str(document)[:200]
