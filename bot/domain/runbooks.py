"""Runbook runs as pure data: target state, step plans, guard decisions, analyses, and the
run state machine (pending → awaiting_approval → approved/denied/timed_out → running →
verifying → succeeded / failed → reverting → reverted). No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NodeState(BaseModel):
    """One cluster node as node actions plan against it: cordoned or not (and by whom), its
    GPU pool and how many other GPU nodes of that pool still take pods, the nodes Firebreak
    holds cordoned and its limit, and the pods a drain would evict (`namespace/name`)."""

    model_config = ConfigDict(frozen=True)

    name: str
    unschedulable: bool = False
    cordoned_by_firebreak: bool = False
    gpu: bool = False
    pool: str = ""
    other_schedulable_gpu_nodes: int = 0
    cordoned_by_firebreak_total: int = 0
    max_cordoned: int = 1
    pods: tuple[str, ...] = ()


@dataclass(frozen=True)
class DrainResult:
    """What a drain did: pods evicted, pods left alone (DaemonSet, mirror, finished) and
    pods still on the node at the timeout, each with the reason."""

    node: str
    evicted: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    remaining: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.remaining


class TargetState(BaseModel):
    """What a serving target runs now: replicas per pool, traffic weights, versions; for node
    and restart steps, the nodes they name and each pool's last rollout restart."""

    model_config = ConfigDict(frozen=True)

    replicas: dict[str, int] = Field(default_factory=dict)
    traffic_weights: dict[str, int] = Field(default_factory=dict)
    version: str = ""
    version_history: tuple[str, ...] = ()
    known_good: str | None = None
    nodes: dict[str, NodeState] = Field(default_factory=dict)
    restarted_at: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class StepPlan:
    """One step as it would act now: the current value, the desired one, and why."""

    index: int
    action: str
    current: dict[str, Any]
    desired: dict[str, Any]
    description: str

    @property
    def changes_target(self) -> bool:
        return self.current != self.desired


@dataclass(frozen=True)
class Allowed:
    """A guard let the run through; `lock_token` proves ownership of the target's lock."""

    lock_token: str | None = None

    @property
    def allowed(self) -> bool:
        return True


@dataclass(frozen=True)
class Blocked:
    """A guard stopped the run, with a reason a human can read; `guard` names which one
    (pause, lock, cooldown, hourly_limit) for counting."""

    reason: str
    guard: str = ""

    @property
    def allowed(self) -> bool:
        return False


GuardDecision = Allowed | Blocked


@dataclass(frozen=True)
class GuardUsage:
    """What the guard store holds for a target right now, for plans and decisions."""

    paused: bool
    lock_held: bool
    last_started_at_s: float | None
    runs_last_hour: int


@dataclass(frozen=True)
class Plan:
    """A dry-run: which runbook would act on which target, and how, without acting."""

    runbook: str
    description: str
    target: str
    model: str
    parameters: dict[str, Any]
    steps: list[StepPlan]
    revert_steps: list[StepPlan]
    approval_required: bool
    approvers: tuple[str, ...]
    guard: GuardDecision
    verify: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    run_steps: list[RunStep] = field(default_factory=list)
    run_revert_steps: list[RunStep] = field(default_factory=list)
    approval_timeout_s: float = 900.0
    cooldown_s: float = 600.0
    max_runs_per_hour: int = 3
    on_inconclusive_revert: bool = False
    # Why approval is asked of a runbook that runs unattended: triage does not agree (yet).
    triage_hold: str = ""


class Measurement(StrEnum):
    """One verification measurement, as Argo Rollouts classifies it."""

    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


class AnalysisPhase(StrEnum):
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


class MeasurementRecord(BaseModel):
    """A measurement taken: when, its value (None when there was no data) and its verdict."""

    at: datetime
    outcome: Measurement
    value: float | None = None
    note: str = ""


class AnalysisState(BaseModel):
    """The measurements of one verification so far; `step_index` None means the final verify."""

    step_index: int | None = None
    started_at: datetime
    measurements: list[MeasurementRecord] = Field(default_factory=list)
    phase: AnalysisPhase = AnalysisPhase.RUNNING

    def count(self, outcome: Measurement) -> int:
        return sum(1 for m in self.measurements if m.outcome is outcome)


class RunState(StrEnum):
    PENDING = "pending"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    RUNNING = "running"
    VERIFYING = "verifying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REVERTING = "reverting"
    REVERTED = "reverted"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {
    RunState.DENIED,
    RunState.TIMED_OUT,
    RunState.SUCCEEDED,
    RunState.FAILED,
    RunState.REVERTED,
}

_ALLOWED: dict[RunState, set[RunState]] = {
    RunState.PENDING: {RunState.AWAITING_APPROVAL, RunState.APPROVED, RunState.FAILED},
    RunState.AWAITING_APPROVAL: {RunState.APPROVED, RunState.DENIED, RunState.TIMED_OUT},
    RunState.APPROVED: {RunState.RUNNING, RunState.FAILED},
    RunState.RUNNING: {RunState.VERIFYING, RunState.SUCCEEDED, RunState.FAILED},
    RunState.VERIFYING: {RunState.SUCCEEDED, RunState.FAILED},
    RunState.FAILED: {RunState.REVERTING},
    RunState.REVERTING: {RunState.REVERTED, RunState.FAILED},
    RunState.DENIED: set(),
    RunState.TIMED_OUT: set(),
    RunState.SUCCEEDED: set(),
    RunState.REVERTED: set(),
}


class InvalidRunTransitionError(ValueError):
    """A run move the state machine does not allow (e.g. denied → running)."""


class OnFailure(StrEnum):
    ABORT = "abort"
    CONTINUE = "continue"
    REVERT = "revert"


class RunStep(BaseModel):
    """A step frozen into a run at creation: action, rendered params, limits."""

    model_config = ConfigDict(frozen=True)

    action: str
    params: dict[str, Any]
    timeout_s: float
    on_failure: OnFailure


class Transition(BaseModel):
    at: datetime
    state: RunState
    reason: str = ""
    by: str = ""


class StepTiming(BaseModel):
    """When one step of a run really started and finished, and how it ended. `key` is the
    ledger's (`forward:0`, `revert:1`, `verify:final`); `finished_at` is None while it runs. A
    wait step finishes when its wait ends; a verification when its analysis concludes."""

    key: str
    action: str
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str = ""

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


class Run(BaseModel):
    """One execution of one runbook against one target, resumable from what it records."""

    id: int | None = None
    incident_id: int
    runbook: str
    target: str
    model: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    steps: list[RunStep]
    revert_steps: list[RunStep] = Field(default_factory=list)
    verify: dict[str, Any] | None = None
    on_inconclusive_revert: bool = False
    approval_required: bool
    approvers: tuple[str, ...] = ()
    approval_deadline: datetime | None = None
    # Set when approval is asked only because triage disagreed: a later triage that agrees
    # may approve the run; empty for a runbook whose approval is required.
    triage_hold: str = ""
    cooldown_s: float
    max_runs_per_hour: int
    lock_ttl_s: float
    state: RunState = RunState.PENDING
    requested_by: str = "firebreak"
    created_at: datetime
    lock_token: str | None = None
    next_step: int = 0
    next_revert_step: int = 0
    before: TargetState | None = None
    analysis: AnalysisState | None = None
    not_before: datetime | None = None
    wake_at: datetime | None = None
    revert_pending: bool = False
    revert_failures: list[str] = Field(default_factory=list)
    reason: str = ""
    history: list[Transition] = Field(default_factory=list)
    timings: list[StepTiming] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Nothing more will happen: a terminal state with no revert still owed."""
        return self.state.terminal and not self.revert_pending

    @property
    def verified(self) -> bool | None:
        """True when it succeeded against its verification, False when it failed (or was
        reverted), None while undecided or when it had nothing to verify."""
        if self.state is RunState.SUCCEEDED and self.verify is not None:
            return True
        if self.state in (RunState.FAILED, RunState.REVERTING, RunState.REVERTED):
            return False
        return None

    def timing(self, key: str) -> StepTiming | None:
        """When the step keyed `key` ran, if it has started."""
        return next((t for t in self.timings if t.key == key), None)

    def step_started(self, key: str, action: str, at: datetime) -> bool:
        """Note a step's start; a step already started (a retried tick) keeps its first start.
        Answers whether this was the start."""
        if self.timing(key) is not None:
            return False
        self.timings.append(StepTiming(key=key, action=action, started_at=at))
        return True

    def step_finished(self, key: str, at: datetime, outcome: str) -> None:
        """Note how and when a started step ended; the first ending noted stands."""
        timing = self.timing(key)
        if timing is not None and timing.finished_at is None:
            timing.finished_at = max(at, timing.started_at)
            timing.outcome = outcome

    def can_move_to(self, target: RunState) -> bool:
        return target in _ALLOWED[self.state]

    def move_to(self, target: RunState, at: datetime, reason: str = "", by: str = "") -> None:
        """Apply one transition, recording when, why and by whom."""
        if not self.can_move_to(target):
            raise InvalidRunTransitionError(
                f"run {self.id} is {self.state}; cannot move to {target}"
            )
        self.state = target
        self.reason = reason or self.reason
        self.history.append(Transition(at=at, state=target, reason=reason, by=by))


class StepClaim(StrEnum):
    """What claiming a (run, phase, step) in the ledger found."""

    CLAIMED = "claimed"
    DONE = "done"
    HELD = "held"
    IN_DOUBT = "in_doubt"


FINAL_VERIFY_KEY = "verify:final"  # the timing key of a run's own verification


def step_key(phase: str, index: int) -> str:
    """The ledger key of one step of a run: `forward:0`, `revert:1`, `verify:final`."""
    return f"{phase}:{index}"


def verify_key(step_index: int | None) -> str:
    """A verification's timing key: its `verify` step's, or FINAL_VERIFY_KEY for the run's own."""
    return FINAL_VERIFY_KEY if step_index is None else step_key("forward", step_index)
