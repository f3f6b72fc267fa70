"""MemoryGuardStore: the GuardStore port in one process's memory, for replays.

Replay asks what guards would have decided at each past incident: the cooldown and hourly limit
are counted from the runs the replay itself would have started, at the times it passes in. A
run's lock is let go at once (a replay cannot know how long a run would have held it). Nothing
is shared with other processes: live runs use RedisGuardStore.
"""

from __future__ import annotations

import secrets

from bot.domain.runbooks import Allowed, Blocked, GuardDecision, GuardUsage
from bot.runbook.guards import HOUR_S, GuardPolicy, evaluate


class MemoryGuardStore:
    """Pause flag, locks and run starts per target, in a dict."""

    def __init__(self) -> None:
        self._paused = False
        self._locks: dict[str, str] = {}
        self._starts: dict[str, list[float]] = {}

    def usage(self, target: str, now_s: float) -> GuardUsage:
        starts = [s for s in self._starts.get(target, []) if s <= now_s]
        return GuardUsage(
            paused=self._paused,
            lock_held=target in self._locks,
            last_started_at_s=max(starts) if starts else None,
            runs_last_hour=sum(1 for s in starts if now_s - s < HOUR_S),
        )

    def admit(
        self,
        target: str,
        token: str,
        now_s: float,
        cooldown_s: float,
        max_runs_per_hour: int,
        lock_ttl_s: float,
    ) -> GuardDecision:
        policy = GuardPolicy(cooldown_s, max_runs_per_hour)
        decision = evaluate(self.usage(target, now_s), now_s, policy)
        if isinstance(decision, Blocked):
            return decision
        self._starts.setdefault(target, []).append(now_s)
        self._locks[target] = token or secrets.token_hex(8)
        return Allowed(lock_token=self._locks[target])

    def release(self, target: str, token: str) -> bool:
        if self._locks.get(target) != token:
            return False
        del self._locks[target]
        return True

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
