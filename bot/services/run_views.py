"""Read models of runbook runs: the API's and CLI's view, the story summaries and postmortems
tell, and the runbook line of an incident's chat card (with why a run waits for approval)."""

from __future__ import annotations

from typing import Any

from bot.domain.runbooks import Run, RunState


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
        "history": [
            {"at": t.at.isoformat(), "state": t.state.value, "reason": t.reason, "by": t.by}
            for t in run.history
        ],
    }


def run_story(run: Run) -> dict[str, Any]:
    """A run as summaries and postmortems read it: status, steps done, and whether it verified."""
    done = run.next_step
    started = run.history[0].at if run.history else run.created_at
    return {
        "runbook": run.runbook,
        "target": run.target,
        "status": run.state.value,
        "verified": run.verified,
        "reason": run.reason,
        "steps": [
            {
                "action": step.action,
                "description": ", ".join(f"{k}={v}" for k, v in step.params.items()),
                "status": "done" if index < done else "pending",
                "at": started.isoformat(),
            }
            for index, step in enumerate(run.steps)
        ],
    }


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
