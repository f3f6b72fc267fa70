"""The FastAPI app factory: one Container per app, routes per resource."""

from __future__ import annotations

from fastapi import FastAPI

from bot.bootstrap import Container
from bot.settings import Settings
from bot.web.metrics import WebMetrics
from bot.web.routes import health, incidents, webhooks


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the API; `settings` is read from the environment only when not given."""
    container = container or Container(settings or Settings())
    app = FastAPI(
        title="Firebreak",
        version="0.1.0",
        description="Incident response for GenAI serving fleets: Alertmanager in, remediation out.",
    )
    app.state.container = container
    app.state.metrics = WebMetrics(container)
    app.include_router(webhooks.router)
    app.include_router(incidents.router)
    app.include_router(health.router)
    return app
