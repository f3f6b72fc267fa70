"""UnconfiguredSilences: the SilenceManager without FIREBREAK_ALERTMANAGER_URL; refuses clearly."""

from __future__ import annotations

from bot.domain.errors import NotConfiguredError
from bot.domain.silences import Silence

REASON = (
    "Alertmanager is not configured: set FIREBREAK_ALERTMANAGER_URL to silence alerts from "
    "Firebreak; nothing was changed"
)


class UnconfiguredSilences:
    """Every call says which setting is missing (the periodic sync skips on it)."""

    def create(self, silence: Silence) -> str:
        raise NotConfiguredError(REASON)

    def expire(self, silence_id: str) -> None:
        raise NotConfiguredError(REASON)

    def silences(self) -> list[Silence]:
        raise NotConfiguredError(REASON)
