"""RefusingTarget: a Target that refuses every read and change, for replays.

Replay plans runbooks against configured target *names* only (`Planner.prepare`); binding
each name to this adapter means nothing can reach a real control API or cluster, even by
mistake: every call raises TargetError.
"""

from __future__ import annotations

from bot.domain.runbooks import TargetState
from bot.runbook.errors import TargetError

REASON = "replay never reads or changes a target"


class RefusingTarget:
    """The Target port, refusing."""

    def get_state(self, model: str) -> TargetState:
        raise TargetError(f"{REASON} (asked for {model}'s state)")

    def set_replicas(self, model: str, pool: str, replicas: int) -> None:
        raise TargetError(REASON)

    def set_traffic(self, model: str, weights: dict[str, int]) -> None:
        raise TargetError(REASON)

    def set_version(self, model: str, version: str) -> None:
        raise TargetError(REASON)
