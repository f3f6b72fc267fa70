"""Fakes for the runbook engine: FakeRunStore (runs + step ledger in memory), FakeTarget
(a fleet's state, recording every call), FakeGuardStore (the guard rule under a lock),
FakeRunJournal, FakeVerifyMetrics (answers queued per call) and FakeClock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.runbooks import (
    Allowed,
    Blocked,
    GuardDecision,
    GuardUsage,
    Run,
    StepClaim,
    TargetState,
)
from bot.domain.signals import Series
from bot.runbook.guards import HOUR_S, GuardPolicy, evaluate


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.001))


@dataclass
class _Entry:
    claimed_at: datetime
    lease_s: float
    result: dict[str, Any] | None = None


class FakeRunStore:
    """Runs and their ledger in memory; `claims` counts how often each step was claimed."""

    def __init__(self) -> None:
        self.runs: dict[int, str] = {}
        self.ledger: dict[tuple[int, str], _Entry] = {}
        self.claims: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def add(self, run: Run) -> Run:
        with self._lock:
            run.id = len(self.runs) + 1
            self.runs[run.id] = run.model_dump_json()
        return run

    def save(self, run: Run) -> None:
        assert run.id is not None
        with self._lock:
            self.runs[run.id] = run.model_dump_json()

    def load(self, run_id: int) -> Run | None:
        raw = self.runs.get(run_id)
        return None if raw is None else Run.model_validate_json(raw)

    def claim_step(self, run_id: int, key: str, now: datetime, lease_s: float) -> StepClaim:
        with self._lock:
            entry = self.ledger.get((run_id, key))
            if entry is not None and entry.result is not None:
                return StepClaim.DONE
            if entry is not None and now < entry.claimed_at + timedelta(seconds=entry.lease_s):
                return StepClaim.HELD
            self.ledger[(run_id, key)] = _Entry(claimed_at=now, lease_s=lease_s)
            self.claims[(run_id, key)] = self.claims.get((run_id, key), 0) + 1
            return StepClaim.CLAIMED if entry is None else StepClaim.IN_DOUBT

    def complete_step(self, run_id: int, key: str, result: dict[str, Any]) -> None:
        with self._lock:
            self.ledger[(run_id, key)].result = result

    def result(self, run_id: int, key: str) -> dict[str, Any] | None:
        entry = self.ledger.get((run_id, key))
        return None if entry is None else entry.result


@dataclass
class FakeTarget:
    """A model's fleet state; setters change it and are recorded in `calls`."""

    state: TargetState = field(
        default_factory=lambda: TargetState(
            replicas={"primary": 2, "secondary": 2},
            traffic_weights={"primary": 100, "secondary": 0},
            version="v2",
            version_history=("v1", "v2"),
            known_good="v1",
        )
    )
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)
    crash_after: set[str] = field(default_factory=set)

    def get_state(self, model: str) -> TargetState:
        if "get_state" in self.fail_on:
            raise UpstreamUnavailableError("control API down")
        return self.state

    def _act(self, method: str, value: Any, update: dict[str, Any]) -> None:
        if method in self.fail_on:
            raise UpstreamUnavailableError(f"{method} refused")
        self.calls.append((method, value))
        self.state = self.state.model_copy(update=update)
        if method in self.crash_after:
            self.crash_after.discard(method)
            raise SimulatedCrash(method)

    def set_replicas(self, model: str, pool: str, replicas: int) -> None:
        self._act(
            "set_replicas", (pool, replicas), {"replicas": {**self.state.replicas, pool: replicas}}
        )

    def set_traffic(self, model: str, weights: dict[str, int]) -> None:
        self._act("set_traffic", dict(weights), {"traffic_weights": dict(weights)})

    def set_version(self, model: str, version: str) -> None:
        history = (*self.state.version_history, version)
        self._act("set_version", version, {"version": version, "version_history": history})


class SimulatedCrash(BaseException):
    """A worker process dying right after the target acted, before the ledger heard of it."""


class FakeGuardStore:
    """The guard rule applied atomically under a lock, as the Redis store does in Lua."""

    def __init__(self) -> None:
        self.paused = False
        self.locks: dict[str, str] = {}
        self.starts: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def usage(self, target: str, now_s: float) -> GuardUsage:
        starts = [s for s in self.starts.get(target, []) if s > now_s - HOUR_S]
        return GuardUsage(
            paused=self.paused,
            lock_held=target in self.locks,
            last_started_at_s=max(starts, default=None),
            runs_last_hour=len(starts),
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
        with self._lock:
            decision = evaluate(
                self.usage(target, now_s), now_s, GuardPolicy(cooldown_s, max_runs_per_hour)
            )
            if isinstance(decision, Blocked):
                return decision
            self.locks[target] = token
            self.starts.setdefault(target, []).append(now_s)
            return Allowed()

    def release(self, target: str, token: str) -> bool:
        with self._lock:
            if self.locks.get(target) != token:
                return False
            del self.locks[target]
            return True

    def set_paused(self, paused: bool) -> None:
        self.paused = paused


class FakeRunJournal:
    """Records every event and announcement of a run."""

    def __init__(self) -> None:
        self.events: list[tuple[int | None, str, dict[str, Any]]] = []
        self.announcements: list[str] = []

    def record(self, run: Run, event: str, detail: dict[str, Any]) -> None:
        self.events.append((run.id, event, detail))

    def announce(self, run: Run, text: str) -> None:
        self.announcements.append(text)

    def names(self) -> list[str]:
        return [name for _, name, _ in self.events]


class FakeVerifyMetrics:
    """Answers each instant query with the next queued value: a float, None (no data) or an
    exception; the last answer repeats."""

    def __init__(self, values: Sequence[float | Exception | None]) -> None:
        self.values = list(values)
        self.queries: list[str] = []

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        self.queries.append(promql)
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        if isinstance(value, Exception):
            raise value
        return [] if value is None else [Series(labels={}, points=[(0.0, value)])]

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        return []
