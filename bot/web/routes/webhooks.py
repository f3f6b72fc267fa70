"""POST /webhooks/alertmanager: authenticate, bound, parse, store in one transaction, enqueue."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.errors import StoreUnavailableError
from bot.services.ingest_alerts import ingest_alerts
from bot.web.auth import require_token
from bot.web.deps import ContainerDep, MetricsDep, OutboxRelayDep

router = APIRouter(tags=["webhooks"])
log = structlog.get_logger(__name__)


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"body exceeds {limit} bytes")
    return bytes(body)


def _parse(body: bytes) -> AlertGroup:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"body is not UTF-8: {exc.reason}"
        ) from exc
    try:
        payload: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {exc}") from exc
    try:
        return AlertGroup.model_validate(payload)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "error": e["msg"]}
            for e in exc.errors()
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors) from exc


@router.post("/webhooks/alertmanager", status_code=200)
async def alertmanager_webhook(
    request: Request,
    container: ContainerDep,
    metrics: MetricsDep,
    relay: OutboxRelayDep,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Accept one Alertmanager webhook v4 notification; idempotent on re-sent bodies."""
    settings = container.settings
    require_token(settings.webhook_token, authorization, allow_basic=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send application/json")
    body = await _read_bounded(request, settings.max_body_bytes)
    group = _parse(body)
    window = timedelta(seconds=settings.reopen_window_s)
    try:
        result = await run_in_threadpool(
            ingest_alerts, container.store, group, delivery_hash(body), container.clock(), window
        )
    except StoreUnavailableError as exc:
        metrics.deliveries.labels("store_unavailable").inc()
        log.error("webhook_store_unavailable", reason=str(exc))
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from exc
    if result.duplicate:
        metrics.deliveries.labels("duplicate").inc()
        return {"status": "duplicate"}
    metrics.deliveries.labels("accepted").inc()
    for alert in group.alerts:
        metrics.alerts_received.labels(alert.status.value).inc()
    if result.outbox_ids:
        relay.poke()
    log.info(
        "webhook_accepted",
        receiver=group.receiver,
        alerts=len(group.alerts),
        incidents=list(result.incident_ids),
    )
    return {
        "status": "accepted",
        "incidents": [f"INC-{i}" for i in result.incident_ids],
        "alerts": len(group.alerts),
    }
