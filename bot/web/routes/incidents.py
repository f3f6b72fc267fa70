"""The read side and lifecycle moves: /api/v1/incidents (bearer FIREBREAK_API_TOKEN)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from bot.domain.incidents import OPEN_STATUSES, IncidentStatus
from bot.services.change_status import change_status
from bot.services.export_postmortem import render_postmortem
from bot.services.incident_views import incident_detail, incident_summary, timeline_view
from bot.web.bodies import ActorBody, IncidentId
from bot.web.deps import ApiAuth, ContainerDep, OutboxRelayDep
from bot.web.errors import http_errors

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], dependencies=[ApiAuth])


@router.get("")
def list_incidents(
    container: ContainerDep,
    status_filter: Annotated[Literal["open", "resolved", "all"], Query(alias="status")] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Incidents, newest first; `?status=open` keeps the unresolved ones."""
    statuses = {"open": OPEN_STATUSES, "resolved": (IncidentStatus.RESOLVED,), "all": None}
    with http_errors(), container.store.transaction() as tx:
        incidents = tx.incidents.list(statuses[status_filter], limit=limit)
    return [incident_summary(i) for i in incidents]


@router.get("/{incident_id}")
def get_incident(container: ContainerDep, incident_id: IncidentId) -> dict[str, Any]:
    with http_errors():
        return incident_detail(container.store, incident_id)


_MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


@router.get("/{incident_id}/postmortem")
def get_postmortem(
    container: ContainerDep,
    incident_id: IncidentId,
    fmt: Annotated[Literal["md", "json", "html"], Query(alias="format")] = "md",
) -> Response:
    """The postmortem in Google SRE shape, built from the timeline, triage and runbook runs."""
    with http_errors():
        document = render_postmortem(
            container.store,
            incident_id,
            fmt,
            container.settings.prometheus_url,
            container.run_stories,
        )
    return Response(document, media_type=_MEDIA_TYPES[fmt])


@router.get("/{incident_id}/timeline")
def get_timeline(container: ContainerDep, incident_id: IncidentId) -> list[dict[str, Any]]:
    with http_errors():
        return timeline_view(container.store, incident_id)


async def _move(
    container: ContainerDep,
    relay: OutboxRelayDep,
    incident_id: IncidentId,
    target: IncidentStatus,
    body: ActorBody | None,
) -> dict[str, Any]:
    actor = body.actor if body else "api"
    with http_errors():
        incident = await run_in_threadpool(
            change_status, container.store, incident_id, target, actor, container.clock()
        )
    relay.poke()
    return incident_summary(incident)


@router.post("/{incident_id}/ack")
async def acknowledge(
    container: ContainerDep,
    relay: OutboxRelayDep,
    incident_id: IncidentId,
    body: ActorBody | None = None,
) -> dict[str, Any]:
    """Acknowledge: on-call has seen it. Repeating it changes nothing."""
    return await _move(container, relay, incident_id, IncidentStatus.ACKNOWLEDGED, body)


@router.post("/{incident_id}/resolve")
async def resolve(
    container: ContainerDep,
    relay: OutboxRelayDep,
    incident_id: IncidentId,
    body: ActorBody | None = None,
) -> dict[str, Any]:
    """Resolve by hand, before or without Alertmanager's resolve."""
    return await _move(container, relay, incident_id, IncidentStatus.RESOLVED, body)
