"""HttpChangeGate: the ChangeGate port over Firebreak's own API (`GET /api/v1/gate`,
`POST /api/v1/changes`), for pipelines that run `firebreak gate check` or `firebreak changes
record` away from Firebreak's database.

A network failure, a timeout or a 5xx is UpstreamUnavailableError; a 4xx (a wrong token, a
field the API refused) is RefusedError with the API's own words.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.domain.changes import Change, GateAnswer
from bot.domain.errors import RefusedError, UpstreamUnavailableError
from bot.settings import mask_url

TIMEOUT_S = 10.0


class HttpChangeGate:
    def __init__(self, base_url: str, token: str | None, timeout_s: float = TIMEOUT_S) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self._url, headers=headers, timeout=timeout_s)

    def check(self, model: str) -> GateAnswer:
        body = self._call("GET", "/api/v1/gate", params={"model": model})
        return GateAnswer(model, bool(body["allowed"]), tuple(str(r) for r in body["reasons"]))

    def record(self, change: Change) -> GateAnswer:
        sent = {
            "model": change.model or None,
            "service": change.service or None,
            "version": change.version,
            "kind": change.kind.value,
            "source": change.source,
            "description": change.description,
            "actor": change.actor,
            "at": change.at.isoformat(),
        }
        body = self._call("POST", "/api/v1/changes", json=sent)
        reasons = tuple(str(r) for r in body["reasons"])
        return GateAnswer(change.model, bool(body["allowed"]), reasons, str(body["ref"]))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        where = f"{mask_url(self._url)}{path}"
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise UpstreamUnavailableError(f"{where} answered {response.status_code}")
        if response.status_code >= 400:
            raise RefusedError(f"{where} refused ({response.status_code}): {_detail(response)}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise UpstreamUnavailableError(f"{where} answered something not JSON") from exc
        return body

    def close(self) -> None:
        self._client.close()


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(detail, list):
        return "; ".join(f"{d.get('field', '')}: {d.get('msg', '')}" for d in detail[:5])
    return str(detail)[:200]
