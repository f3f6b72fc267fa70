"""FastAPI dependencies: the process Container, metrics and API authentication.

All are `async def`: they never block, and FastAPI would run a plain `def` dependency on its
thread pool, a hop per dependency per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from bot.bootstrap import Container
from bot.ports import DeliveryIntake
from bot.web.auth import require_token
from bot.web.metrics import WebMetrics
from bot.web.outbox_relay import OutboxRelayLoop


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_metrics(request: Request) -> WebMetrics:
    metrics: WebMetrics = request.app.state.metrics
    return metrics


async def get_outbox_relay(request: Request) -> OutboxRelayLoop:
    relay: OutboxRelayLoop = request.app.state.outbox_relay
    return relay


async def get_intake(request: Request) -> DeliveryIntake:
    intake: DeliveryIntake = request.app.state.intake
    return intake


ContainerDep = Annotated[Container, Depends(get_container)]
IntakeDep = Annotated[DeliveryIntake, Depends(get_intake)]
MetricsDep = Annotated[WebMetrics, Depends(get_metrics)]
OutboxRelayDep = Annotated[OutboxRelayLoop, Depends(get_outbox_relay)]


async def require_api_token(
    container: ContainerDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    require_token(container.settings.api_token, authorization, allow_basic=False)


ApiAuth = Depends(require_api_token)
