"""Liveness, readiness (the database; the broker reported) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.domain.errors import BrokerUnavailableError, StoreUnavailableError
from bot.web.deps import ContainerDep, MetricsDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(container: ContainerDep) -> JSONResponse:
    """Ready when the database answers: the webhook needs nothing else (with the broker down
    it still accepts, and the outbox waits). Both are checked and named; 503 says why."""
    checks: dict[str, str] = {}
    for name, ping in (("database", container.store.ping), ("broker", container.tasks.ping)):
        try:
            await run_in_threadpool(ping)
            checks[name] = "ok"
        except (StoreUnavailableError, BrokerUnavailableError) as exc:
            checks[name] = f"unavailable: {exc}"
    ready = checks["database"] == "ok"
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(registry: MetricsDep) -> Response:
    body = await run_in_threadpool(generate_latest, registry.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
