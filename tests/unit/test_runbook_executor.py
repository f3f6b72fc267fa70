"""The executor's state machine: approval, guarded start, steps through the ledger exactly
once (even across a crash), Argo-style verification and automatic revert."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.runbooks import Plan, Run, RunState
from bot.runbook.errors import ApprovalRefusedError
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import load_directory
from bot.runbook.planner import Planner
from bot.runbook.schema import Runbook
from bot.runbook.targets import BoundTarget, TargetRegistry
from tests.fakes.runbooks import (
    FakeClock,
    FakeGuardStore,
    FakeRunJournal,
    FakeRunStore,
    FakeTarget,
    FakeVerifyMetrics,
    SimulatedCrash,
)

RUNBOOKS = load_directory(Path(__file__).resolve().parents[2] / "runbooks")
MODEL = "llama-3-8b"
LABELS = {"alertname": "LLMKVCacheSaturated", "model_name": MODEL}


@dataclass
class Rig:
    clock: FakeClock
    target: FakeTarget
    runs: FakeRunStore
    guards: FakeGuardStore
    journal: FakeRunJournal
    metrics: FakeVerifyMetrics

    def executor(self) -> RunbookExecutor:
        registry = TargetRegistry([BoundTarget(MODEL, MODEL, self.target)])
        return RunbookExecutor(
            self.runs,
            registry,
            Guards(self.guards, self.clock),
            self.metrics,
            self.journal,
            self.clock,
        )

    def plan(self, runbook: Runbook | str, **overrides: Any) -> Plan:
        registry = TargetRegistry([BoundTarget(MODEL, MODEL, self.target)])
        found = RUNBOOKS.get(runbook) if isinstance(runbook, str) else runbook
        assert found is not None
        return Planner(registry, Guards(self.guards, self.clock)).plan(found, LABELS, overrides)

    def states(self, run: Run) -> list[RunState]:
        stored = self.runs.load(run.id or 0)
        assert stored is not None
        return [t.state for t in stored.history]


@pytest.fixture
def rig() -> Rig:
    return Rig(
        FakeClock(),
        FakeTarget(),
        FakeRunStore(),
        FakeGuardStore(),
        FakeRunJournal(),
        FakeVerifyMetrics([1.2]),
    )


def runbook(text: str) -> Runbook:
    return Runbook.model_validate(yaml.safe_load(text))


SCALE_ONLY = """
name: scale-only
match: {hypotheses: [capacity_saturation]}
steps:
  - action: scale
    params: {pool: primary, replicas: 5, max_replicas: 8}
    timeout_s: 60
    on_failure: %s
  - action: notify
    params: {message: scaled}
guards: {cooldown_s: 0, max_runs_per_hour: 10}
revert:
  - action: notify
    params: {message: reverting}
"""


def test_unattended_scale_out_runs_verifies_and_succeeds(rig: Rig) -> None:
    """Scale-out needs no approval: it scales once, verifies five good TTFTs and succeeds."""
    executor = rig.executor()
    run = executor.create(rig.plan("scale-out"), incident_id=7)
    assert run.state is RunState.APPROVED
    run = executor.drive(run.id or 0, sleep=rig.clock.sleep)
    assert run.state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 8))]
    assert rig.states(run) == [
        RunState.APPROVED,
        RunState.RUNNING,
        RunState.VERIFYING,
        RunState.SUCCEEDED,
    ]
    assert len(rig.metrics.queries) == 5
    assert rig.guards.locks == {}
    assert "run_succeeded" in rig.journal.names()


def test_approval_is_required_and_checked(rig: Rig) -> None:
    """Failover waits for approval; ticks do nothing; only a listed approver may approve."""
    plan = rig.plan("failover")
    plan = Plan(**{**plan.__dict__, "approvers": ("U-ALICE", "S-SRE")})
    executor = rig.executor()
    run = executor.create(plan, incident_id=1)
    assert run.state is RunState.AWAITING_APPROVAL
    assert executor.tick(run.id or 0).state is RunState.AWAITING_APPROVAL
    assert rig.target.calls == []
    with pytest.raises(ApprovalRefusedError):
        executor.approve(run.id or 0, "U-MALLORY")
    run = executor.approve(run.id or 0, "U-BOB", approver_groups=("S-SRE",))
    assert run.state is RunState.APPROVED
    assert run.history[-1].by == "U-BOB"


def test_denied_run_never_acts(rig: Rig) -> None:
    """A denied run ends denied and the target is untouched."""
    executor = rig.executor()
    run = executor.create(rig.plan("rollback"), incident_id=1)
    run = executor.deny(run.id or 0, "U-ALICE", reason="not the deploy")
    assert run.state is RunState.DENIED
    assert executor.tick(run.id or 0).state is RunState.DENIED
    assert rig.target.calls == []


def test_approval_times_out(rig: Rig) -> None:
    """Past its approval timeout a run times out, and a late approval changes nothing."""
    executor = rig.executor()
    run = executor.create(rig.plan("failover"), incident_id=1)
    rig.clock.advance(901)
    assert executor.tick(run.id or 0).state is RunState.TIMED_OUT
    assert executor.approve(run.id or 0, "U-ALICE").state is RunState.TIMED_OUT
    assert rig.target.calls == []


def test_failed_verification_reverts_failover(rig: Rig) -> None:
    """Error ratio stays high after failover: two failures exceed the limit, traffic returns."""
    rig.metrics = FakeVerifyMetrics([0.5])
    executor = rig.executor()
    run = executor.create(rig.plan("failover"), incident_id=1)
    executor.approve(run.id or 0, "U-ALICE")
    run = executor.drive(run.id or 0, sleep=rig.clock.sleep)
    assert run.state is RunState.REVERTED
    assert [c[0] for c in rig.target.calls] == ["set_traffic", "set_traffic"]
    assert rig.target.state.traffic_weights == {"primary": 100, "secondary": 0}
    assert len(rig.metrics.queries) == 2
    assert rig.states(run)[-3:] == [RunState.FAILED, RunState.REVERTING, RunState.REVERTED]
    assert any("did not recover" in text for text in rig.journal.announcements)


def test_no_data_is_inconclusive_and_holds(rig: Rig) -> None:
    """No data is never recovery: past the inconclusive limit the run fails and holds."""
    rig.metrics = FakeVerifyMetrics([None])
    executor = rig.executor()
    run = executor.create(rig.plan("scale-out"), incident_id=1)
    run = executor.drive(run.id or 0, sleep=rig.clock.sleep)
    assert run.state is RunState.FAILED
    assert run.reason == "verification inconclusive"
    assert run.analysis is not None
    assert [m.value for m in run.analysis.measurements] == [None, None, None]
    assert rig.target.state.replicas["primary"] == 8


def test_crash_after_acting_does_not_repeat_the_step(rig: Rig) -> None:
    """A worker dies after the target scaled but before the ledger knew: the resumed run
    confirms the step from the target's state and never scales twice."""
    rig.target.crash_after = {"set_replicas"}
    run = rig.executor().create(rig.plan("scale-out"), incident_id=1)
    with pytest.raises(SimulatedCrash):
        rig.executor().tick(run.id or 0)
    assert rig.executor().tick(run.id or 0).next_step == 1  # lease held: nothing happens
    rig.clock.advance(121)
    run = rig.executor().drive(run.id or 0, sleep=rig.clock.sleep)
    assert run.state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 8))]
    assert rig.runs.result(run.id or 0, "forward:1") == {
        "unchanged": "confirmed after a crash",
        "desired": {"pool": "primary", "replicas": 8},
    }


def test_lost_run_save_does_not_repeat_completed_steps(rig: Rig) -> None:
    """If the run record is older than the ledger (its save was lost), completed steps are
    skipped rather than done again."""
    executor = rig.executor()
    run = executor.create(rig.plan(runbook(SCALE_ONLY % "abort")), incident_id=1)
    stale = rig.runs.runs[run.id or 0]
    executor.tick(run.id or 0)
    rig.target.state = rig.target.state.model_copy(update={"replicas": {"primary": 3}})
    rig.runs.runs[run.id or 0] = stale
    rig.guards.locks.clear()
    run = executor.drive(run.id or 0, sleep=rig.clock.sleep)
    assert run.state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 5))]
    assert rig.journal.announcements.count("scaled") == 1


def test_step_failure_abort_versus_revert(rig: Rig) -> None:
    """A failing step aborts without revert, or reverts, as its on_failure says."""
    rig.target.fail_on = {"set_replicas"}
    executor = rig.executor()
    aborted = executor.drive(
        executor.create(rig.plan(runbook(SCALE_ONLY % "abort")), incident_id=1).id or 0,
        rig.clock.sleep,
    )
    assert aborted.state is RunState.FAILED
    assert "set_replicas refused" in aborted.reason
    assert rig.journal.announcements == []
    reverted = executor.drive(
        executor.create(rig.plan(runbook(SCALE_ONLY % "revert")), incident_id=1).id or 0,
        rig.clock.sleep,
    )
    assert reverted.state is RunState.REVERTED
    assert rig.journal.announcements == ["reverting"]
    continued = executor.drive(
        executor.create(rig.plan(runbook(SCALE_ONLY % "continue")), incident_id=1).id or 0,
        rig.clock.sleep,
    )
    assert continued.state is RunState.SUCCEEDED
    assert rig.journal.announcements == ["reverting", "scaled"]


def test_second_run_on_a_held_target_is_blocked(rig: Rig) -> None:
    """While one run holds the target, another run of it fails as blocked at start."""
    executor = rig.executor()
    first = executor.create(rig.plan("scale-out"), incident_id=1)
    executor.tick(first.id or 0)
    second = executor.tick(
        executor.create(rig.plan(runbook(SCALE_ONLY % "abort")), incident_id=2).id or 0
    )
    assert second.state is RunState.FAILED
    assert "another run holds this target" in second.reason


def test_pause_holds_a_run_before_it_touches_the_target(rig: Rig) -> None:
    """A global pause holds a running run's target steps until runbooks are resumed."""
    waits_first = (
        SCALE_ONLY.replace("steps:\n", "steps:\n  - action: wait\n    params: {duration_s: 10}\n")
        % "abort"
    )
    executor = rig.executor()
    run = executor.create(rig.plan(runbook(waits_first)), incident_id=1)
    assert executor.tick(run.id or 0).state is RunState.RUNNING
    rig.guards.set_paused(True)
    rig.clock.advance(11)
    assert executor.tick(run.id or 0).next_step == 1
    assert rig.target.calls == []
    assert "run_held_paused" in rig.journal.names()
    rig.guards.set_paused(False)
    assert executor.drive(run.id or 0, rig.clock.sleep).state is RunState.SUCCEEDED
    assert rig.target.calls == [("set_replicas", ("primary", 5))]
