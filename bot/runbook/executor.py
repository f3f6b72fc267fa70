"""The runbook executor: turns a Plan into a Run and moves it through its states

    pending → awaiting_approval → approved | denied | timed_out
    approved → running → verifying → succeeded | failed → reverting → reverted

one `tick` at a time. A tick does what is due now and records when to come back
(`run.wake_at`); it never sleeps, so a Celery task can call it and re-schedule itself.
Every transition is saved before the next one and lands in the journal (audit log)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from bot.domain.errors import NotFoundError, UpstreamUnavailableError
from bot.domain.runbooks import (
    AnalysisPhase,
    AnalysisState,
    Blocked,
    Measurement,
    OnFailure,
    Plan,
    Run,
    RunState,
    RunStep,
    verify_key,
)
from bot.domain.telemetry import GUARD_REFUSALS, RUNBOOK_ACTIONS, UNRECORDED
from bot.ports import MetricsSource, RunJournal, RunStore, Telemetry
from bot.runbook import analysis
from bot.runbook.actions import verify as verify_action
from bot.runbook.actions.registry import action_named
from bot.runbook.consent import TRIAGE_ACTOR
from bot.runbook.errors import ApprovalRefusedError, PlanError
from bot.runbook.guards import GuardPolicy, Guards
from bot.runbook.steps import StepRunner, StepStatus
from bot.runbook.targets import TargetRegistry

log = structlog.get_logger(__name__)
BUSY_RETRY_S = 30.0
LOCK_MARGIN_S = 300.0


def lock_ttl_s(plan: Plan) -> float:
    """How long a run may hold its target: every step, wait and verification, plus a margin."""
    steps = [*plan.run_steps, *plan.run_revert_steps]
    total = sum(s.timeout_s + float(s.params.get("duration_s", 0) or 0) for s in steps)
    if plan.verify:
        total += float(plan.verify["initial_delay_s"])
        total += float(plan.verify["interval_s"]) * int(plan.verify["count"])
    return total + LOCK_MARGIN_S


class RunbookExecutor:
    """Entry points: `create(plan)`, `approve`, `approve_for_triage`, `rehold`, `deny`,
    `tick(run_id)`, `drive(run_id)`."""

    def __init__(
        self,
        runs: RunStore,
        targets: TargetRegistry,
        guards: Guards,
        metrics: MetricsSource,
        journal: RunJournal,
        clock: Callable[[], datetime],
        dry_run: bool = False,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        self._runs = runs
        self._guards = guards
        self._metrics = metrics
        self._journal = journal
        self._clock = clock
        self._telemetry = telemetry
        self._steps = StepRunner(
            runs, targets, journal, clock, dry_run=dry_run, telemetry=telemetry
        )

    # ---- entry points -------------------------------------------------------------------

    def create(self, plan: Plan, incident_id: int, requested_by: str = "firebreak") -> Run:
        """Record a run for a plan; it then awaits approval, or is approved by policy."""
        now = self._clock()
        run = self._runs.add(
            Run(
                incident_id=incident_id,
                runbook=plan.runbook,
                target=plan.target,
                model=plan.model,
                parameters=plan.parameters,
                steps=plan.run_steps,
                revert_steps=plan.run_revert_steps,
                verify=plan.verify,
                on_inconclusive_revert=plan.on_inconclusive_revert,
                approval_required=plan.approval_required,
                approvers=plan.approvers,
                triage_hold=plan.triage_hold,
                cooldown_s=plan.cooldown_s,
                max_runs_per_hour=plan.max_runs_per_hour,
                lock_ttl_s=lock_ttl_s(plan),
                requested_by=requested_by,
                created_at=now,
            )
        )
        self._journal.record(run, "run_created", {"runbook": run.runbook, "by": requested_by})
        if plan.approval_required:
            run.approval_deadline = now + timedelta(seconds=plan.approval_timeout_s)
            run.wake_at = run.approval_deadline
            reason = plan.triage_hold or "approval required"
            self._move(run, RunState.AWAITING_APPROVAL, reason)
            because = f": {plan.triage_hold}" if plan.triage_hold else ""
            self._journal.announce(
                run, f"Runbook {run.runbook} on {run.target} awaits approval{because}"
            )
        else:
            run.wake_at = now
            self._move(run, RunState.APPROVED, "runs unattended within bounds", by="policy")
        return run

    def approve(self, run_id: int, approver: str, approver_groups: tuple[str, ...] = ()) -> Run:
        """Approve a run awaiting approval; past its deadline it times out instead."""
        run = self._awaiting(run_id, approver, approver_groups)
        if run.state is RunState.AWAITING_APPROVAL:
            run.wake_at = self._clock()
            self._move(run, RunState.APPROVED, "approved", by=approver)
        return run

    def approve_for_triage(self, run_id: int, reason: str) -> Run:
        """Approve, as `triage`, a run that waits only because triage disagreed, now that it
        agrees; any other run is returned unchanged, and past its deadline it times out."""
        run = self._load(run_id)
        if run.state is not RunState.AWAITING_APPROVAL or not run.triage_hold:
            return run
        self._expire(run, self._clock())
        if run.state is RunState.AWAITING_APPROVAL:
            run.wake_at = self._clock()
            self._move(run, RunState.APPROVED, reason, by=TRIAGE_ACTOR)
        return run

    def rehold(self, run_id: int, reason: str) -> Run:
        """Triage still disagrees with a run waiting on it, now for another reason: record the
        new reason on the run (a repeat of the same reason changes nothing)."""
        run = self._load(run_id)
        if (
            run.state is not RunState.AWAITING_APPROVAL
            or not run.triage_hold
            or run.triage_hold == reason
        ):
            return run
        run.triage_hold = reason
        run.reason = reason
        self._runs.save(run)
        self._journal.record(run, "run_hold_updated", {"reason": reason})
        log.info("runbook_run_hold_updated", run_id=run.id, reason=reason)
        return run

    def withdraw(self, run_id: int, reason: str) -> Run:
        """Deny, as `triage`, a run that waits only on triage when triage names another cause
        whose runbook needs the target; any other run is returned unchanged."""
        run = self._load(run_id)
        if run.state is RunState.AWAITING_APPROVAL and run.triage_hold:
            run.wake_at = None
            self._move(run, RunState.DENIED, reason, by=TRIAGE_ACTOR)
        return run

    def deny(
        self, run_id: int, approver: str, approver_groups: tuple[str, ...] = (), reason: str = ""
    ) -> Run:
        """Deny a run awaiting approval; nothing will act."""
        run = self._awaiting(run_id, approver, approver_groups)
        if run.state is RunState.AWAITING_APPROVAL:
            run.wake_at = None
            self._move(run, RunState.DENIED, reason or "denied", by=approver)
        return run

    def tick(self, run_id: int) -> Run:
        """Do whatever is due for a run now; `run.wake_at` says when to tick again."""
        run = self._load(run_id)
        for _ in range(len(run.steps) + len(run.revert_steps) + 8):
            before = (run.state, run.next_step, run.next_revert_step, run.revert_pending)
            self._step_machine(run)
            after = (run.state, run.next_step, run.next_revert_step, run.revert_pending)
            if run.finished or before == after:
                break
        if run.finished:
            self._finish(run)
        return run

    def drive(self, run_id: int, sleep: Callable[[float], None], max_ticks: int = 10_000) -> Run:
        """Tick until the run finishes or waits on a human, sleeping in between (CLI, tests)."""
        run = self._load(run_id)
        for _ in range(max_ticks):
            run = self.tick(run_id)
            if run.finished or run.state is RunState.AWAITING_APPROVAL or run.wake_at is None:
                return run
            sleep(max(0.0, (run.wake_at - self._clock()).total_seconds()))
        return run

    # ---- the state machine --------------------------------------------------------------

    def _step_machine(self, run: Run) -> None:
        now = self._clock()
        if run.wake_at is not None and now < run.wake_at and run.state is not RunState.APPROVED:
            return
        if run.state is RunState.AWAITING_APPROVAL:
            self._expire(run, now)
        elif run.state is RunState.APPROVED:
            self._start(run)
        elif run.state is RunState.RUNNING:
            self._run_forward(run)
        elif run.state is RunState.VERIFYING:
            self._measure(run, step_index=None)
        elif run.state is RunState.FAILED and run.revert_pending:
            run.revert_pending = False
            self._move(run, RunState.REVERTING, run.reason)
        elif run.state is RunState.REVERTING:
            self._run_revert(run)

    def _expire(self, run: Run, now: datetime) -> None:
        if run.approval_deadline is not None and now >= run.approval_deadline:
            run.wake_at = None
            self._move(run, RunState.TIMED_OUT, "approval timed out")

    def _start(self, run: Run) -> None:
        policy = GuardPolicy(run.cooldown_s, run.max_runs_per_hour)
        decision = self._guards.admit(run.target, policy, run.lock_ttl_s)
        if isinstance(decision, Blocked):
            labels = {"guard": decision.guard, "runbook": run.runbook}
            self._telemetry.count(GUARD_REFUSALS, labels)
            self._move(run, RunState.FAILED, f"blocked: {decision.reason}")
            return
        run.lock_token = decision.lock_token
        self._runs.save(run)
        try:
            run.before = self._steps.state_of(run)
        except (UpstreamUnavailableError, PlanError) as exc:
            self._move(run, RunState.FAILED, f"target unavailable: {exc}")
            return
        self._move(run, RunState.RUNNING, "guards allowed")

    def _run_forward(self, run: Run) -> None:
        if run.next_step >= len(run.steps):
            if run.verify is None:
                self._move(run, RunState.SUCCEEDED, "all steps done")
            else:
                run.analysis = AnalysisState(started_at=self._clock())
                self._move(run, RunState.VERIFYING, "all steps done; verifying")
            return
        step = run.steps[run.next_step]
        if self._held_by_pause(run, step):
            return
        if step.action == verify_action.NAME:
            self._measure(run, step_index=run.next_step)
            return
        outcome = self._steps.run(run, "forward", run.next_step, step)
        if outcome.status is StepStatus.BUSY:
            run.wake_at = outcome.resume_at
            self._runs.save(run)
        elif outcome.status is StepStatus.DONE:
            run.next_step += 1
            run.wake_at = outcome.resume_at
            self._runs.save(run)
        else:
            self._on_step_failure(run, step, outcome.reason)

    def _on_step_failure(self, run: Run, step: RunStep, reason: str) -> None:
        if step.on_failure is OnFailure.CONTINUE:
            run.next_step += 1
            self._journal.record(run, "step_failure_ignored", {"reason": reason})
            self._runs.save(run)
            return
        run.revert_pending = step.on_failure is OnFailure.REVERT
        self._move(run, RunState.FAILED, reason)

    def _measure(self, run: Run, step_index: int | None) -> None:
        """Take one verification measurement when due; conclude when the analysis does."""
        spec_data = run.verify if step_index is None else run.steps[step_index].params
        assert spec_data is not None
        spec = analysis.VerifySpec.model_validate(
            {k: v for k, v in spec_data.items() if k != "on_inconclusive"}
        )
        now = self._clock()
        state = run.analysis
        if state is None or state.step_index != step_index:
            state = AnalysisState(step_index=step_index, started_at=now)
        run.step_started(verify_key(step_index), verify_action.NAME, state.started_at)
        due_at_s = analysis.next_measurement_at_s(spec, state)
        if now.timestamp() < due_at_s:
            run.analysis = state
            run.wake_at = datetime.fromtimestamp(due_at_s, tz=now.tzinfo)
            self._runs.save(run)
            return
        try:
            outcome, value, note = analysis.classify(spec, self._metrics.query(spec.query))
        except UpstreamUnavailableError as exc:
            outcome, value, note = Measurement.INCONCLUSIVE, None, f"query failed: {exc}"
        state = analysis.record(spec, state, now, outcome, value, note)
        run.analysis = state
        self._journal.record(
            run, "verify_measured", {"outcome": outcome.value, "value": value, "note": note}
        )
        log.info("runbook_verify_measured", run_id=run.id, outcome=outcome.value, value=value)
        if state.phase is AnalysisPhase.RUNNING:
            run.wake_at = datetime.fromtimestamp(
                analysis.next_measurement_at_s(spec, state), tz=now.tzinfo
            )
            self._runs.save(run)
            return
        run.wake_at = now
        self._conclude(run, step_index, state.phase)

    def _conclude(self, run: Run, step_index: int | None, phase: AnalysisPhase) -> None:
        run.step_finished(verify_key(step_index), self._clock(), phase.value)
        labels = {"runbook": run.runbook, "action": verify_action.NAME, "result": phase.value}
        self._telemetry.count(RUNBOOK_ACTIONS, labels)
        if phase is AnalysisPhase.SUCCESSFUL:
            if step_index is None:
                self._move(run, RunState.SUCCEEDED, "verification successful")
            else:
                run.next_step += 1
                self._journal.record(run, "verify_step_successful", {"step": step_index})
                self._runs.save(run)
            return
        reason = f"verification {phase.value}"
        if step_index is not None:
            self._on_step_failure(run, run.steps[step_index], reason)
            return
        if phase is AnalysisPhase.INCONCLUSIVE and not run.on_inconclusive_revert:
            self._journal.announce(
                run, f"Runbook {run.runbook}: verification inconclusive (no data); held"
            )
            self._move(run, RunState.FAILED, reason)
            return
        run.revert_pending = True
        self._move(run, RunState.FAILED, reason)

    def _run_revert(self, run: Run) -> None:
        if run.next_revert_step >= len(run.revert_steps):
            if run.revert_failures:
                self._move(run, RunState.FAILED, "; ".join(run.revert_failures))
            else:
                self._move(run, RunState.REVERTED, "revert steps done")
            return
        step = run.revert_steps[run.next_revert_step]
        if self._held_by_pause(run, step):
            return
        outcome = self._steps.run(run, "revert", run.next_revert_step, step)
        if outcome.status is StepStatus.BUSY:
            run.wake_at = outcome.resume_at
            self._runs.save(run)
            return
        if outcome.status is StepStatus.FAILED:
            run.revert_failures.append(outcome.reason)
        run.next_revert_step += 1
        run.wake_at = outcome.resume_at
        self._runs.save(run)

    def _held_by_pause(self, run: Run, step: RunStep) -> bool:
        action = action_named(step.action)
        if action is None or not action.TOUCHES_TARGET:
            return False
        if not self._guards.paused(run.target):
            return False
        run.wake_at = self._clock() + timedelta(seconds=BUSY_RETRY_S)
        self._journal.record(run, "run_held_paused", {"step": step.action})
        self._runs.save(run)
        return True

    # ---- bookkeeping ----------------------------------------------------------------------

    def _move(self, run: Run, state: RunState, reason: str, by: str = "") -> None:
        run.move_to(state, self._clock(), reason=reason, by=by)
        self._runs.save(run)
        self._journal.record(run, f"run_{state.value}", {"reason": reason, "by": by})
        log.info("runbook_run_moved", run_id=run.id, state=state.value, reason=reason, by=by)

    def _finish(self, run: Run) -> None:
        run.wake_at = None
        if run.lock_token is not None:
            self._guards.release(run.target, run.lock_token)
            run.lock_token = None
        self._runs.save(run)

    def _load(self, run_id: int) -> Run:
        run = self._runs.load(run_id)
        if run is None:
            raise NotFoundError(f"no runbook run {run_id}")
        return run

    def _awaiting(self, run_id: int, approver: str, groups: tuple[str, ...]) -> Run:
        run = self._load(run_id)
        if run.state is not RunState.AWAITING_APPROVAL:
            return run
        if run.approvers and not ({approver, *groups} & set(run.approvers)):
            self._journal.record(run, "approval_refused", {"by": approver})
            raise ApprovalRefusedError(f"{approver} may not decide on run {run_id}")
        self._expire(run, self._clock())
        return run
