"""The runbook engine: targets acted on, shared guards, resumable runs, and what chat reads
of runbooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.domain.remediation import TickLease
from bot.domain.runbooks import (
    DrainResult,
    GuardDecision,
    GuardUsage,
    NodeState,
    Run,
    StepClaim,
    TargetState,
)


class Target(Protocol):
    """A serving fleet a runbook acts on; raises UpstreamUnavailableError when it cannot."""

    def get_state(self, model: str) -> TargetState: ...
    def set_replicas(self, model: str, pool: str, replicas: int) -> None: ...
    def set_traffic(self, model: str, weights: dict[str, int]) -> None: ...
    def set_version(self, model: str, version: str) -> None: ...


@runtime_checkable
class ClusterTarget(Protocol):
    """The cluster under a target: its nodes and the model's workloads. A refusal (4xx) is a
    TargetError, an outage UpstreamUnavailableError."""

    def node_state(self, node: str) -> NodeState: ...
    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        """Cordon (True) or uncordon (False) a node, marking or clearing it as Firebreak's."""
        ...

    def drain(self, node: str, timeout_s: float) -> DrainResult:
        """Cordon, then evict every pod but DaemonSet and mirror pods through the Eviction API,
        retrying those a PodDisruptionBudget refuses until `timeout_s`."""
        ...

    def restarted_at(self, model: str, pool: str) -> str:
        """The pool's last rollout restart stamp (`kubectl.kubernetes.io/restartedAt`), or ''."""
        ...

    def restart(self, model: str, pool: str, restarted_at: str) -> None: ...


class GuardStore(Protocol):
    """Guards shared by every process: pause flag, per-target lock, cooldown, hourly limit."""

    def usage(self, target: str, now_s: float) -> GuardUsage: ...
    def admit(
        self,
        target: str,
        token: str,
        now_s: float,
        cooldown_s: float,
        max_runs_per_hour: int,
        lock_ttl_s: float,
    ) -> GuardDecision: ...
    def release(self, target: str, token: str) -> bool: ...
    def set_paused(self, paused: bool) -> None: ...


class RunStore(Protocol):
    """Runbook runs and their step ledger: a step is claimed before it acts, never done twice."""

    def add(self, run: Run) -> Run: ...
    def save(self, run: Run) -> None: ...
    def load(self, run_id: int) -> Run | None: ...
    def claim_step(self, run_id: int, key: str, now: datetime, lease_s: float) -> StepClaim: ...
    def complete_step(self, run_id: int, key: str, result: dict[str, Any]) -> None: ...


class RunIndex(Protocol):
    """Runs as remediation finds them: by id, by incident, those owed a tick, and the lease
    that keeps two workers from ticking one run at once."""

    def load(self, run_id: int) -> Run | None: ...
    def for_incident(self, incident_id: int) -> list[Run]: ...
    def due(self, now: datetime, stale_before: datetime, limit: int = 100) -> list[int]: ...
    def lease_tick(self, run_id: int, holder: str, now: datetime, lease_s: float) -> TickLease: ...
    def release_tick(self, run_id: int, holder: str) -> None: ...


class RunJournal(Protocol):
    """Where a run's decisions and messages go: the audit log, the timeline, the chat thread."""

    def record(self, run: Run, event: str, detail: dict[str, Any]) -> None: ...
    def announce(self, run: Run, text: str) -> None: ...


class RunbookPreview(Protocol):
    """What chat needs of the runbook engine: the catalogue, and a dry-run plan as lines.

    `dry_run` raises NotFoundError for an unknown runbook or incident and
    UpstreamUnavailableError when the target's state cannot be read.
    """

    def catalogue(self) -> list[tuple[str, str]]: ...
    def dry_run(self, incident_id: int, runbook: str) -> list[str]: ...
