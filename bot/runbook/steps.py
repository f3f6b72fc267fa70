"""Executing one step of a run exactly once: claim it in the ledger (keyed by run id and
step), note its real start on the run, act, record completion and when it ended. A claim found
in doubt (a worker died mid-step) is settled by re-reading the target: if it already shows the
desired state the step is marked done without acting again; a message step in doubt is skipped
rather than sent twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from pydantic import ValidationError

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.runbooks import Run, RunStep, StepClaim, TargetState, step_key
from bot.domain.telemetry import RUNBOOK_ACTIONS, UNRECORDED
from bot.ports import RunJournal, RunStore, Telemetry
from bot.runbook.actions.contract import ApplyContext, PlanContext
from bot.runbook.actions.registry import action_named
from bot.runbook.errors import PlanError
from bot.runbook.observe import observe
from bot.runbook.targets import TargetRegistry

log = structlog.get_logger(__name__)


class StepStatus(StrEnum):
    DONE = "done"
    BUSY = "busy"
    FAILED = "failed"


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    reason: str = ""
    resume_at: datetime | None = None


class StepRunner:
    """Runs target, wait, notify and annotate steps through the ledger; `dry_run` only plans."""

    def __init__(
        self,
        runs: RunStore,
        targets: TargetRegistry,
        journal: RunJournal,
        clock: Callable[[], datetime],
        dry_run: bool = False,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        self._runs = runs
        self._targets = targets
        self._journal = journal
        self._clock = clock
        self._dry_run = dry_run
        self._telemetry = telemetry

    def state_of(self, run: Run) -> TargetState:
        """The run's target as it is now."""
        bound = self._targets.get(run.target)
        if bound is None:
            raise PlanError(f"no target named {run.target!r}")
        return bound.target.get_state(bound.model)

    def run(self, run: Run, phase: str, index: int, step: RunStep) -> StepOutcome:
        """Claim, act and complete one step; never acts on a step the ledger has completed."""
        assert run.id is not None
        now = self._clock()
        key = step_key(phase, index)
        claim = self._runs.claim_step(run.id, key, now, lease_s=step.timeout_s)
        if claim is StepClaim.DONE:
            log.info("runbook_step_skipped", run_id=run.id, step=key, reason="already done")
            run.step_finished(key, now, "done")
            return StepOutcome(StepStatus.DONE)
        if claim is StepClaim.HELD:
            retry_at = now + timedelta(seconds=min(step.timeout_s, 30.0))
            return StepOutcome(StepStatus.BUSY, "claimed by another worker", retry_at)
        if run.step_started(key, step.action, now):
            self._runs.save(run)  # the real start is on record before the step acts
        try:
            result = self._act(run, index, step, in_doubt=claim is StepClaim.IN_DOUBT, now=now)
        except (PlanError, UpstreamUnavailableError, ValidationError) as exc:
            reason = f"{phase} step {index + 1} ({step.action}) failed: {exc}"
            self._runs.complete_step(run.id, key, {"failed": str(exc)})
            self._count(run, step, "failed")
            run.step_finished(key, self._clock(), "failed")
            log.warning("runbook_step_failed", run_id=run.id, step=key, error=str(exc))
            self._journal.record(run, "step_failed", {"step": key, "error": str(exc)})
            return StepOutcome(StepStatus.FAILED, reason)
        self._runs.complete_step(run.id, key, result)
        self._count(run, step, _result_of(result))
        resume_after_s = result.get("resume_after_s")
        resume_at = now + timedelta(seconds=float(resume_after_s)) if resume_after_s else None
        # A wait step ends when its wait does; any other when it has acted.
        run.step_finished(key, resume_at or self._clock(), "done")
        self._journal.record(run, "step_completed", {"step": key, "action": step.action, **result})
        log.info("runbook_step_completed", run_id=run.id, step=key, action=step.action)
        return StepOutcome(StepStatus.DONE, resume_at=resume_at)

    def _count(self, run: Run, step: RunStep, result: str) -> None:
        labels = {"runbook": run.runbook, "action": step.action, "result": result}
        self._telemetry.count(RUNBOOK_ACTIONS, labels)

    def _act(
        self, run: Run, index: int, step: RunStep, *, in_doubt: bool, now: datetime
    ) -> dict[str, Any]:
        action = action_named(step.action)
        if action is None:
            raise PlanError(f"unknown action {step.action!r}")
        params = action.Params.model_validate(step.params)
        bound = self._targets.get(run.target)
        if bound is None:
            raise PlanError(f"no target named {run.target!r}")
        state = (
            observe(bound, bound.target.get_state(bound.model), [step])
            if action.TOUCHES_TARGET
            else TargetState()
        )
        context = PlanContext(
            index=index, state_at_run_start=run.before, run_started_at=run.created_at
        )
        plan = action.plan(params, state, context)
        if not action.TOUCHES_TARGET and in_doubt:
            return {"skipped": "in doubt after a crash; not repeated", "desired": plan.desired}
        if action.TOUCHES_TARGET and not plan.changes_target:
            settled = "confirmed after a crash" if in_doubt else "already in desired state"
            return {"unchanged": settled, "desired": plan.desired}
        if self._dry_run and action.TOUCHES_TARGET:
            return {"dry_run": True, "current": plan.current, "desired": plan.desired}
        apply_context = ApplyContext(
            target=bound.target,
            model=bound.model,
            now=now,
            announce=lambda text: self._journal.announce(run, text),
            record=lambda event, detail: self._journal.record(run, event, detail),
            cluster=bound.cluster,
        )
        result = action.apply(params, plan, apply_context)
        return {"current": plan.current, **result}


def _result_of(result: dict[str, Any]) -> str:
    """How a completed step ended, for counting: applied, unchanged, skipped or dry_run."""
    for outcome in ("dry_run", "unchanged", "skipped"):
        if outcome in result:
            return outcome
    return "applied"
