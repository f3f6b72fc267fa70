"""Alertmanager's API v2: what it holds active (AlertmanagerAlertSource) and its silences
(AlertmanagerSilences).

Errors are ours: a connection failure, a timeout or a 5xx is UpstreamUnavailableError; a 4xx
(Alertmanager refused a silence as invalid) is RefusedError with its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import structlog

from bot.domain.errors import RefusedError, UpstreamUnavailableError
from bot.domain.label_matchers import MatcherSyntaxError, MatchOp
from bot.domain.silences import Silence, SilenceState, matcher

log = structlog.get_logger(__name__)


class AlertmanagerAlertSource:
    """Reads `GET /api/v2/alerts` (active, silenced and inhibited alerts all count as held)."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self._url = base_url.rstrip("/") + "/api/v2/alerts"
        self._timeout_s = timeout_s

    def active_fingerprints(self) -> set[str]:
        try:
            response = httpx.get(self._url, timeout=self._timeout_s)
            response.raise_for_status()
            return {str(alert["fingerprint"]) for alert in response.json()}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise UpstreamUnavailableError(f"alertmanager unavailable: {exc}") from exc


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _silence(data: dict[str, Any]) -> Silence | None:
    """A silence from API v2's `gettableSilence`; None (logged) for one we cannot read."""
    try:
        return Silence(
            id=str(data["id"]),
            matchers=tuple(
                matcher(
                    str(m["name"]),
                    str(m["value"]),
                    bool(m.get("isRegex", False)),
                    bool(m.get("isEqual", True)),
                )
                for m in data["matchers"]
            ),
            starts_at=datetime.fromisoformat(str(data["startsAt"]).replace("Z", "+00:00")),
            ends_at=datetime.fromisoformat(str(data["endsAt"]).replace("Z", "+00:00")),
            created_by=str(data.get("createdBy", "")),
            comment=str(data.get("comment", "")),
            state=SilenceState(str((data.get("status") or {}).get("state", "active"))),
        )
    except (KeyError, TypeError, ValueError, MatcherSyntaxError) as exc:
        log.warning("alertmanager_silence_unreadable", silence=data.get("id"), reason=str(exc))
        return None


class AlertmanagerSilences:
    """The SilenceManager port: `POST /api/v2/silences`, `DELETE /api/v2/silence/{id}`,
    `GET /api/v2/silences`."""

    def __init__(self, base_url: str, timeout_s: float = 2.0) -> None:
        self._base = base_url.rstrip("/") + "/api/v2"
        self._timeout_s = timeout_s

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = httpx.request(
                method, f"{self._base}{path}", timeout=self._timeout_s, **kwargs
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"alertmanager unavailable: {exc}") from exc
        if response.status_code >= 500:
            raise UpstreamUnavailableError(
                f"alertmanager answered {response.status_code}: {response.text[:200]}"
            )
        return response

    def create(self, silence: Silence) -> str:
        body = {
            "matchers": [
                {
                    "name": m.name,
                    "value": m.value,
                    "isRegex": m.op in (MatchOp.REGEX, MatchOp.NOT_REGEX),
                    "isEqual": m.op in (MatchOp.EQUAL, MatchOp.REGEX),
                }
                for m in silence.matchers
            ],
            "startsAt": _time(silence.starts_at),
            "endsAt": _time(silence.ends_at),
            "createdBy": silence.created_by,
            "comment": silence.comment,
        }
        response = self._call("POST", "/silences", json=body)
        if response.status_code >= 400:
            raise RefusedError(f"Alertmanager refused the silence: {response.text[:300].strip()}")
        try:
            return str(response.json()["silenceID"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamUnavailableError(f"alertmanager answered no silence id: {exc}") from exc

    def expire(self, silence_id: str) -> None:
        try:
            response = self._call("DELETE", f"/silence/{silence_id}")
        except UpstreamUnavailableError as exc:
            if "already expired" in str(exc):  # Alertmanager 0.25 answers this with a 500
                return
            raise
        if response.status_code == 404:
            return
        if response.status_code >= 400:
            raise RefusedError(f"Alertmanager refused to expire {silence_id}: {response.text}")

    def silences(self) -> list[Silence]:
        response = self._call("GET", "/silences")
        try:
            items = response.json()
            if response.status_code >= 400 or not isinstance(items, list):
                raise ValueError(f"answered {response.status_code}: {response.text[:200]}")
        except ValueError as exc:
            raise UpstreamUnavailableError(f"alertmanager silences unreadable: {exc}") from exc
        return [s for s in (_silence(item) for item in items if isinstance(item, dict)) if s]
