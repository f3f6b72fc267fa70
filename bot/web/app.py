"""The FastAPI app factory: one Container per app, routes per resource."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from bot.bootstrap import Container
from bot.settings import Settings
from bot.slack_app.app import create_slack_app, mount_slack, run_socket_mode
from bot.web.errors import validation_error_answer
from bot.web.metrics import StageCollector, WebMetrics
from bot.web.openapi import install_openapi
from bot.web.outbox_relay import OutboxRelayLoop
from bot.web.routes import changes, health, incidents, runbooks, webhooks


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the API; `settings` is read from the environment only when not given."""
    container = container or Container(settings or Settings())
    container.runbooks  # noqa: B018  (a bad runbook stops startup: RunbookError names file:line)
    container.targets  # noqa: B018
    container.signals  # noqa: B018  (so does a bad signal catalogue: CatalogueError names it)
    relay = OutboxRelayLoop(container.store, container.tasks)
    intake = container.intake

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        relay.start()
        if container.settings.slack_enabled and container.settings.slack_app_token:
            threading.Thread(
                target=run_socket_mode,
                args=(container.settings, container.slack_deps(), container.slack_web),
                name="slack-socket-mode",
                daemon=True,
            ).start()
        yield
        await relay.stop()
        await intake.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Firebreak",
        version="0.1.0",
        description="Incident response for GenAI serving fleets: Alertmanager in, remediation out.",
    )
    app.add_exception_handler(RequestValidationError, validation_error_answer)
    app.state.container = container
    app.state.metrics = WebMetrics(
        StageCollector(
            container.backlog, container.telemetry, container.broker_queues, container.clock
        )
    )
    app.state.outbox_relay = relay
    app.state.intake = intake
    app.include_router(webhooks.router)
    app.include_router(incidents.router)
    app.include_router(health.router)
    if container.settings.slack_enabled and container.settings.slack_signing_secret:
        bolt_app = create_slack_app(container.settings, container.slack_deps(), container.slack_web)
        mount_slack(app, bolt_app, container.slack_signatures)
    app.include_router(runbooks.router)
    app.include_router(changes.router)
    install_openapi(app)
    return app
