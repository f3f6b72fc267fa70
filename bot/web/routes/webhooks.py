"""POST /webhooks/alertmanager: authenticate, bound, parse, then one durable write.

The order is fixed: the token first (401), then the media type (415), the body size (413),
bounded JSON (400; depth, integer length, UTF-8), the webhook v4 schema (422 naming each
field). An alert invalid on its own is set aside — recorded on the incident with why — and the
rest of its delivery accepted with a 200, so Alertmanager neither retries the group for ever
nor loses its good alerts. Accepting is one write: the raw delivery, deduplicated by its hash,
in a commit shared with concurrent deliveries; the normaliser (a worker thread) turns it into
alerts and incidents moments later. Database down answers 503 (Alertmanager retries).
"""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel, ValidationError

from bot.bootstrap import Container
from bot.domain.alerts import (
    AlertGroup,
    ParsedDelivery,
    delivery_hash,
    field_errors,
    parse_delivery,
)
from bot.domain.deliveries import RawDelivery
from bot.domain.errors import StoreUnavailableError
from bot.ports import DeliveryIntake
from bot.web.auth import require_token
from bot.web.deps import ContainerDep, IntakeDep, MetricsDep
from bot.web.json_body import BodyRefusedError, parse_json, read_bounded
from bot.web.metrics import WebMetrics
from bot.web.openapi import ERROR_RESPONSES, model_ref

router = APIRouter(tags=["webhooks"])
log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    field: str
    error: str


class RejectedAlertAnswer(BaseModel):
    position: int
    fingerprint: str | None
    errors: list[FieldError]


class WebhookAnswer(BaseModel):
    """What a delivery did: accepted (with any alerts set aside) or a duplicate. Its incidents
    appear on GET /incidents once the normaliser has read it, moments later."""

    status: Literal["accepted", "duplicate"]
    alerts: int = 0
    rejected: list[RejectedAlertAnswer] = []


def _parse(body: bytes) -> ParsedDelivery:
    try:
        return parse_delivery(parse_json(body))
    except BodyRefusedError as exc:
        raise HTTPException(exc.status_code, exc.detail) from exc
    except ValidationError as exc:
        errors = [{"field": f, "error": m} for f, m in field_errors(exc)]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors) from exc


@router.post(
    "/webhooks/alertmanager",
    status_code=200,
    response_model=WebhookAnswer,
    responses=ERROR_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model_ref(AlertGroup)}},
        },
        "security": [{"bearerAuth": []}, {"basicAuth": []}],
    },
)
async def alertmanager_webhook(
    request: Request,
    container: ContainerDep,
    metrics: MetricsDep,
    intake: IntakeDep,
    authorization: Annotated[str | None, Header()] = None,
) -> WebhookAnswer:
    """Accept one Alertmanager webhook v4 notification; idempotent on re-sent bodies."""
    with metrics.webhook_seconds.time():
        return await _accept(request, container, metrics, intake, authorization)


async def _accept(
    request: Request,
    container: Container,
    metrics: WebMetrics,
    intake: DeliveryIntake,
    authorization: str | None,
) -> WebhookAnswer:
    settings = container.settings
    require_token(settings.webhook_token, authorization, allow_basic=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send application/json")
    try:
        body = await read_bounded(request, settings.max_body_bytes)
    except BodyRefusedError as exc:
        raise HTTPException(exc.status_code, exc.detail) from exc
    try:
        delivery = _parse(body)
    except HTTPException:
        metrics.deliveries.labels("refused").inc()
        raise
    group = delivery.group
    raw = RawDelivery(delivery_hash(body), group.receiver, group.group_key, body, container.clock())
    try:
        stored = await intake.accept(raw)
    except StoreUnavailableError as exc:
        metrics.deliveries.labels("store_unavailable").inc()
        log.error("webhook_store_unavailable", reason=str(exc))
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from exc
    if not stored:
        metrics.deliveries.labels("duplicate").inc()
        return WebhookAnswer(status="duplicate")
    metrics.deliveries.labels("accepted").inc()
    for alert in group.alerts:
        metrics.alerts_received.labels(alert.status.value).inc()
    if delivery.rejected:
        metrics.alerts_rejected.inc(len(delivery.rejected))
        log.warning(
            "webhook_alerts_rejected",
            receiver=group.receiver,
            positions=[r.position for r in delivery.rejected],
        )
    return WebhookAnswer(
        status="accepted",
        alerts=len(group.alerts),
        rejected=[
            RejectedAlertAnswer(
                position=r.position,
                fingerprint=r.fingerprint,
                errors=[FieldError(field=f, error=e) for f, e in r.errors],
            )
            for r in delivery.rejected
        ],
    )
