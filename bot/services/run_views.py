"""Read models of runbook runs: the API's and CLI's view, the story summaries and postmortems
tell, and the runbook line of an incident's chat card (with why a run waits for approval)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.runbooks import FINAL_VERIFY_KEY, Run, RunState, RunStep, StepTiming, step_key

_DECISIONS = {RunState.APPROVED, RunState.DENIED, RunState.TIMED_OUT}


def run_view(run: Run) -> dict[str, Any]:
    """A run as the API and CLI show it."""
    return {
        "id": run.id,
        "ref": f"RUN-{run.id}",
        "incident_id": run.incident_id,
        "runbook": run.runbook,
        "target": run.target,
        "state": run.state.value,
        "reason": run.reason,
        "requested_by": run.requested_by,
        "approval_required": run.approval_required,
        "triage_hold": run.triage_hold,
        "approvers": list(run.approvers),
        "approval_deadline": run.approval_deadline.isoformat() if run.approval_deadline else None,
        "created_at": run.created_at.isoformat(),
        "steps": [step.action for step in run.steps],
        "next_step": run.next_step,
        "timings": [t.model_dump(mode="json") for t in run.timings],
        "history": [
            {"at": t.at.isoformat(), "state": t.state.value, "reason": t.reason, "by": t.by}
            for t in run.history
        ],
    }


def run_story(run: Run) -> dict[str, Any]:
    """A run as summaries and postmortems read it: status, whether it verified, when approval
    was asked and given, and when each step really started and finished (from the run's
    timings; a step with none is pending, or done before timings were recorded)."""
    steps = [
        _step_story(run, step_key("forward", i), step, "done" if i < run.next_step else "pending")
        for i, step in enumerate(run.steps)
    ]
    reverts = [
        _step_story(run, step_key("revert", i), step, "pending")
        for i, step in enumerate(run.revert_steps)
        if run.timing(step_key("revert", i)) is not None
    ]
    verification = run.timing(FINAL_VERIFY_KEY)
    started = min((t.started_at for t in run.timings), default=None)
    ended = [t.at for t in run.history if t.state.terminal]
    return {
        "ref": f"RUN-{run.id}",
        "runbook": run.runbook,
        "target": run.target,
        "status": run.state.value,
        "verified": run.verified,
        "reason": run.reason,
        "requested_at": _iso(run.created_at),
        "started_at": _iso(started),
        "finished_at": _iso(ended[-1]) if ended and run.finished else None,
        "approval": _approval(run),
        "verification": None if verification is None else _step_timing(verification),
        "steps": steps,
        "revert_steps": reverts,
    }


def _step_story(run: Run, key: str, step: RunStep, untimed: str) -> dict[str, Any]:
    timing = run.timing(key)
    story = {
        "action": step.action,
        "description": ", ".join(f"{k}={v}" for k, v in step.params.items()),
        "status": untimed,
        "started_at": None,
        "finished_at": None,
        "duration_s": None,
    }
    return story if timing is None else story | _timing(timing)


def _step_timing(timing: StepTiming) -> dict[str, Any]:
    return {"action": timing.action, **_timing(timing)}


def _timing(timing: StepTiming) -> dict[str, Any]:
    duration_s = timing.duration_s
    return {
        "status": timing.outcome or "running",
        "started_at": _iso(timing.started_at),
        "finished_at": _iso(timing.finished_at),
        "duration_s": None if duration_s is None else round(duration_s, 3),
    }


def _approval(run: Run) -> dict[str, Any] | None:
    """When approval was asked, and when and by whom it was decided (None if never asked)."""
    asked = next((t for t in run.history if t.state is RunState.AWAITING_APPROVAL), None)
    if asked is None:
        return None
    decided = next((t for t in run.history if t.at >= asked.at and t.state in _DECISIONS), None)
    waited_s = None if decided is None else (decided.at - asked.at).total_seconds()
    return {
        "asked_at": _iso(asked.at),
        "decided_at": None if decided is None else _iso(decided.at),
        "decision": None if decided is None else decided.state.value,
        "by": "" if decided is None else decided.by,
        "waited_s": waited_s,
    }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def card_state(runs: list[Run]) -> tuple[str | None, int | None]:
    """The runbook line of an incident's chat card, and the run awaiting approval, if any."""
    if not runs:
        return None, None
    latest = runs[-1]
    waiting = next((r for r in runs if r.state is RunState.AWAITING_APPROVAL), None)
    line = f"{latest.runbook} on {latest.target}: {latest.state.value.replace('_', ' ')}"
    if latest.reason:
        line += f" ({latest.reason})"
    if waiting is not None and waiting is not latest and waiting.triage_hold:
        line += f"; {waiting.runbook} awaits approval ({waiting.triage_hold})"
    return line, None if waiting is None else waiting.id
