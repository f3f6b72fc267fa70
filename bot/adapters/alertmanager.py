"""AlertmanagerAlertSource: what Alertmanager holds active, read from its API v2."""

from __future__ import annotations

import httpx

from bot.domain.errors import UpstreamUnavailableError


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
