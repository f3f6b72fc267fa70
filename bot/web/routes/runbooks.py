"""Runbooks over HTTP (bearer FIREBREAK_API_TOKEN): the catalogue, an incident's runs,
approving or denying a run awaiting approval, and the global pause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, status
from fastapi.concurrency import run_in_threadpool

from bot.domain.runbooks import Run, RunState
from bot.services.run_views import run_view
from bot.web.bodies import ActorBody, DecisionBody, IncidentId, RunId
from bot.web.deps import ApiAuth, ContainerDep, OutboxRelayDep
from bot.web.errors import http_errors

router = APIRouter(prefix="/api/v1", tags=["runbooks"], dependencies=[ApiAuth])
T = TypeVar("T")


async def _call(function: Callable[..., T], *args: Any) -> T:
    """Run a service call off the event loop; our errors are answered as HTTP."""
    with http_errors():
        return await run_in_threadpool(function, *args)


@router.get("/runbooks")
def list_runbooks(container: ContainerDep) -> list[dict[str, Any]]:
    """Every loaded runbook: what it answers, whether it needs approval, its guards."""
    catalog = container.runbooks
    return [
        {
            "name": rb.name,
            "description": rb.description,
            "hypotheses": [h.value for h in rb.match.hypotheses],
            "matchers": [str(m) for m in rb.match.matchers],
            "approval_required": rb.approval.required,
            "cooldown_s": rb.guards.cooldown_s,
            "max_runs_per_hour": rb.guards.max_runs_per_hour,
            "path": str(catalog.path_of(rb.name)),
        }
        for rb in catalog
    ]


@router.get("/incidents/{incident_id}/runbook-runs")
async def list_runs(container: ContainerDep, incident_id: IncidentId) -> list[dict[str, Any]]:
    """An incident's runbook runs, oldest first, with their state history."""
    runs = await _call(container.runbook_previews.runs_of, incident_id)
    return [run_view(run) for run in runs]


async def _run_of(container: ContainerDep, incident_id: int, run_id: int) -> Run:
    run = await _call(container.runbook_previews.run, run_id)
    if run.incident_id != incident_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"RUN-{run_id} is not a run of INC-{incident_id}"
        )
    return run


@router.post("/incidents/{incident_id}/runbook-runs/{run_id}/approve")
async def approve(
    container: ContainerDep,
    relay: OutboxRelayDep,
    incident_id: IncidentId,
    run_id: RunId,
    body: DecisionBody,
) -> dict[str, Any]:
    """Approve a run awaiting approval; it starts at once. Approving twice changes nothing;
    a run denied or timed out answers 409."""
    await _run_of(container, incident_id, run_id)
    run = await _call(container.remediation.approve, run_id, body.actor)
    relay.poke()
    if run.state in (RunState.DENIED, RunState.TIMED_OUT):
        raise HTTPException(status.HTTP_409_CONFLICT, f"RUN-{run_id} is {run.state.value}")
    return run_view(run)


@router.post("/incidents/{incident_id}/runbook-runs/{run_id}/deny")
async def deny(
    container: ContainerDep,
    relay: OutboxRelayDep,
    incident_id: IncidentId,
    run_id: RunId,
    body: DecisionBody,
) -> dict[str, Any]:
    """Deny a run awaiting approval; nothing will act. A run already under way answers 409."""
    await _run_of(container, incident_id, run_id)
    run = await _call(container.remediation.deny, run_id, body.actor, (), body.reason)
    relay.poke()
    if run.state is not RunState.DENIED:
        raise HTTPException(status.HTTP_409_CONFLICT, f"RUN-{run_id} is {run.state.value}")
    return run_view(run)


@router.post("/runbooks/pause")
async def pause(container: ContainerDep, body: ActorBody | None = None) -> dict[str, Any]:
    """Pause every runbook: none starts, and running ones hold before their next target step."""
    await _call(container.remediation.pause, body.actor if body else "api")
    return {"paused": True}


@router.post("/runbooks/resume")
async def resume(container: ContainerDep, body: ActorBody | None = None) -> dict[str, Any]:
    await _call(container.remediation.resume, body.actor if body else "api")
    return {"paused": False}
