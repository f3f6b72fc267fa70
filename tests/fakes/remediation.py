"""Fakes for remediation: FakeRunIndex (FakeRunStore plus the queries and the tick lease
SqlRunStore offers, one unfinished run per target) and RecordingTaskQueue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain.remediation import TargetBusyError, TickLease
from bot.domain.runbooks import Run, RunState
from bot.services.remediate import Remediation
from tests.fakes.runbooks import FakeClock, FakeRunStore


class FakeRunIndex(FakeRunStore):
    """Runs in memory with SqlRunStore's extra queries and its one-run-per-target rule."""

    def __init__(self) -> None:
        super().__init__()
        self.leases: dict[int, tuple[str, datetime]] = {}

    def add(self, run: Run) -> Run:
        holder = self.active_on(run.target)
        if holder is not None:
            raise TargetBusyError(run.target, holder.id)
        return super().add(run)

    def all(self) -> list[Run]:
        return [run for run_id in sorted(self.runs) if (run := self.load(run_id)) is not None]

    def for_incident(self, incident_id: int) -> list[Run]:
        return [run for run in self.all() if run.incident_id == incident_id]

    def active_on(self, target: str) -> Run | None:
        return next((r for r in self.all() if r.target == target and not r.finished), None)

    def due(self, now: datetime, stale_before: datetime, limit: int = 100) -> list[int]:
        due: list[int] = []
        for run in self.all():
            if run.finished or run.id is None:
                continue
            if run.state is RunState.AWAITING_APPROVAL:
                if run.approval_deadline is not None and run.approval_deadline <= now:
                    due.append(run.id)
            elif run.wake_at is None or run.wake_at <= stale_before:
                due.append(run.id)
        return due[:limit]

    def lease_tick(self, run_id: int, holder: str, now: datetime, lease_s: float) -> TickLease:
        current = self.leases.get(run_id)
        if current is not None and current[0] != holder and current[1] > now:
            return TickLease(granted=False, held_until=current[1])
        self.leases[run_id] = (holder, now + timedelta(seconds=lease_s))
        return TickLease(granted=True)

    def release_tick(self, run_id: int, holder: str) -> None:
        if self.leases.get(run_id, ("", None))[0] == holder:
            del self.leases[run_id]


class RecordingTaskQueue:
    """A TaskQueue that keeps what it was given, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def enqueue(self, task: str, args: list[Any]) -> None:
        self.sent.append((task, list(args)))

    def ping(self) -> None:
        return None

    def named(self, task: str) -> list[list[Any]]:
        return [args for name, args in self.sent if name == task]


def drive(remediation: Remediation, clock: FakeClock, run_id: int, max_ticks: int = 200) -> Run:
    """Tick a run as the task does, again after each `next_in_s` (the clock jumping there),
    until it stops; answer it as it settled."""
    for _ in range(max_ticks):
        outcome = remediation.tick(run_id, holder="worker-1")
        assert outcome.run is not None
        if outcome.next_in_s is None:
            return outcome.run
        clock.advance(outcome.next_in_s)
    raise AssertionError("run did not settle")
