"""Changes and the deploy gate over HTTP (bearer FIREBREAK_API_TOKEN).

`POST /api/v1/changes` records a change (bot/services/record_change.py) and answers it with the
gate's decision: 201 either way, `"allowed": false` when it was recorded as held.
`GET /api/v1/gate?model=NAME` answers `{"model", "allowed", "reasons"}` and changes nothing;
Argo Rollouts' web metric provider polls it (deploy/kubernetes/argo-rollouts/).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from bot.domain.changes import ALL_MODELS, MAX_NAME_CHARS, Change, ChangeKind
from bot.domain.text import Actor, FreeText, IdentityText
from bot.services.check_gate import check_gate
from bot.services.record_change import record_change
from bot.web.deps import ApiAuth, ContainerDep, OutboxRelayDep
from bot.web.errors import http_errors

router = APIRouter(prefix="/api/v1", tags=["changes"], dependencies=[ApiAuth])

Name = Annotated[IdentityText, Field(min_length=1, max_length=MAX_NAME_CHARS)]
MAX_CLOCK_SKEW = timedelta(minutes=5)


class ChangeBody(BaseModel):
    """A change to a model (or, naming no model, to a service); `at` defaults to now."""

    model: Name | None = None
    service: Name | None = None
    version: Name
    kind: ChangeKind = ChangeKind.DEPLOY
    source: Annotated[FreeText, Field(max_length=2000)] = ""
    description: Annotated[FreeText, Field(max_length=2000)] = ""
    actor: Actor = "api"
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _names_a_scope(self) -> Self:
        if not self.model and not self.service:
            raise ValueError("name the model (or, for a service-wide change, the service)")
        if self.model == ALL_MODELS:
            raise ValueError(f"{ALL_MODELS!r} is not a model name")
        if self.at is not None and self.at > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("at is in the future")
        return self

    def change(self, now: datetime) -> Change:
        return Change(
            model=self.model or "",
            service=self.service or "",
            version=self.version,
            kind=self.kind,
            at=(self.at or now).astimezone(UTC),
            source=self.source,
            actor=self.actor,
            description=self.description,
        )


@router.post("/changes", status_code=status.HTTP_201_CREATED)
async def record(
    container: ContainerDep, relay: OutboxRelayDep, body: ChangeBody
) -> dict[str, Any]:
    """Record a change, decided at the gate: held (`allowed` false, with the reasons) while the
    model has an open incident, a paging burn-rate alert or a freeze, unless an approver's
    exception lets it through. Rollbacks are never held. It lands on the timeline of every open
    or recently resolved incident on its scope."""
    now = container.clock()
    with http_errors():
        recorded = await run_in_threadpool(record_change, container.store, body.change(now), now)
    relay.poke()
    return recorded.to_dict()


@router.get("/gate")
async def gate(
    container: ContainerDep,
    model: Annotated[Name, Query(description="The model_name a change would touch")],
) -> dict[str, Any]:
    """May a change to `model` proceed now? `allowed` false names each reason: the open incident
    (INC-n), the paging burn-rate alert, the freeze; an exception that opens it is named too."""
    with http_errors():
        decision = await run_in_threadpool(check_gate, container.store, model, container.clock())
    return {"model": model, "allowed": decision.allowed, "reasons": list(decision.reasons)}
