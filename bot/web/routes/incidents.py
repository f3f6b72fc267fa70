"""The read side and lifecycle moves: /api/v1/incidents (bearer FIREBREAK_API_TOKEN)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from bot.domain.incidents import OPEN_STATUSES, IncidentStatus
from bot.services.change_status import change_status
from bot.services.export_postmortem import render_postmortem
from bot.services.incident_views import incident_detail, incident_summary, timeline_view
from bot.services.recall_incidents import similar_incidents
from bot.services.silence_incident import silence_incident
from bot.web.bodies import ActorBody, IncidentId, SilenceBody
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


@router.get("/{incident_id}/similar")
def get_similar(container: ContainerDep, incident_id: IncidentId) -> list[dict[str, Any]]:
    """Earlier incidents that looked like this one, best first (at most five): how alike and
    why (scope, cause, moved signals, recency), and what became of each — the runbook that
    ran, whether it verified, time to mitigate, whether the scope fired again within 24 h."""
    with http_errors():
        return similar_incidents(container.store, incident_id, container.clock())


@router.post(
    "/{incident_id}/silence",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {
            "description": "Nothing to silence, Alertmanager refused, or no Alertmanager "
            "is configured (FIREBREAK_ALERTMANAGER_URL)"
        },
        503: {"description": "Alertmanager or the database is unavailable; retry"},
    },
)
async def silence(
    container: ContainerDep,
    relay: OutboxRelayDep,
    request: Request,
    incident_id: IncidentId,
    body: SilenceBody | None = None,
) -> dict[str, Any]:
    """Silence the incident's alerts in Alertmanager (API v2): one matcher per label its
    group's alerts share, `actor` as the author, a comment naming the incident and this URL."""
    body = body or SilenceBody()
    link = str(request.url_for("get_incident", incident_id=incident_id))
    with http_errors():
        made = await run_in_threadpool(
            silence_incident,
            container.store,
            container.silences,
            incident_id,
            body.span,
            body.actor,
            body.reason,
            container.clock(),
            link,
        )
    relay.poke()
    return {
        "id": made.id,
        "incident_id": incident_id,
        "matchers": [str(m) for m in made.matchers],
        "starts_at": made.starts_at.isoformat(),
        "ends_at": made.ends_at.isoformat(),
        "created_by": made.created_by,
        "comment": made.comment,
    }


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
