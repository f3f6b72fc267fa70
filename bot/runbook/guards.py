"""Guard rules for runbook runs: a global pause, one run per target at a time, a per-target
cooldown and a maximum of runs per sliding hour. `evaluate` is the rule; a GuardStore (Redis
in production) applies it atomically so it holds across processes. For node actions,
`cordon_refusal`: at most N nodes cordoned by Firebreak at once, and never the last
schedulable GPU node of a pool."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from bot.domain.runbooks import Allowed, Blocked, GuardDecision, GuardUsage, NodeState
from bot.ports import GuardStore

HOUR_S = 3600.0
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GuardPolicy:
    """A runbook's limits for one target."""

    cooldown_s: float
    max_runs_per_hour: int


def evaluate(usage: GuardUsage, now_s: float, policy: GuardPolicy) -> GuardDecision:
    """The guard rule, in order: pause, lock, cooldown since the last start, hourly limit."""
    if usage.paused:
        return Blocked("runbooks are paused", "pause")
    if usage.lock_held:
        return Blocked("another run holds this target", "lock")
    if usage.last_started_at_s is not None:
        since_s = now_s - usage.last_started_at_s
        if since_s < policy.cooldown_s:
            return Blocked(
                f"cooldown: last run started {since_s:.0f} s ago, "
                f"cooldown is {policy.cooldown_s:.0f} s",
                "cooldown",
            )
    if usage.runs_last_hour >= policy.max_runs_per_hour:
        return Blocked(
            f"hourly limit: {usage.runs_last_hour} runs in the last hour "
            f"(max {policy.max_runs_per_hour})",
            "hourly_limit",
        )
    return Allowed()


def cordon_refusal(node: NodeState) -> str | None:
    """Why cordoning this node is refused, or None when it may be (or already is) cordoned."""
    if node.unschedulable:
        return None
    if node.cordoned_by_firebreak_total >= node.max_cordoned:
        return (
            f"Firebreak already holds {node.cordoned_by_firebreak_total} node(s) cordoned "
            f"(max {node.max_cordoned})"
        )
    if node.gpu and node.other_schedulable_gpu_nodes <= 0:
        pool = f" of pool {node.pool}" if node.pool else ""
        return f"{node.name} is the last schedulable GPU node{pool}"
    return None


class Guards:
    """Checks (for plans) and admissions (for runs) through a shared GuardStore."""

    def __init__(self, store: GuardStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def check(self, target: str, policy: GuardPolicy) -> GuardDecision:
        """What admission would decide now, without taking anything."""
        now_s = self._clock().timestamp()
        return evaluate(self._store.usage(target, now_s), now_s, policy)

    def admit(self, target: str, policy: GuardPolicy, lock_ttl_s: float) -> GuardDecision:
        """Atomically decide and, when allowed, take the target's lock and count the run."""
        token = secrets.token_hex(16)
        decision = self._store.admit(
            target,
            token,
            self._clock().timestamp(),
            policy.cooldown_s,
            policy.max_runs_per_hour,
            lock_ttl_s,
        )
        if isinstance(decision, Blocked):
            log.info("runbook_guard_blocked", target=target, reason=decision.reason)
            return decision
        log.info("runbook_guard_admitted", target=target)
        return Allowed(lock_token=token)

    def release(self, target: str, token: str) -> bool:
        """Let go of the target's lock; only its owner's token does anything."""
        released = self._store.release(target, token)
        log.info("runbook_lock_released", target=target, released=released)
        return released

    def paused(self, target: str) -> bool:
        return self._store.usage(target, self._clock().timestamp()).paused

    def pause(self) -> None:
        self._store.set_paused(True)
        log.info("runbooks_paused")

    def resume(self) -> None:
        self._store.set_paused(False)
        log.info("runbooks_resumed")
