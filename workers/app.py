"""The Celery app: Redis broker, at-least-once delivery, routes and the beat schedule."""

from __future__ import annotations

from celery import Celery

from bot.settings import Settings
from workers.routes import QUEUES, TASK_ROUTES

TASK_MODULES = [
    "workers.tasks.triage",
    "workers.tasks.summary",
    "workers.tasks.incidents",
    "workers.tasks.outbox",
    "workers.tasks.alerts",
    "workers.tasks.notify",
    "workers.tasks.runbooks",
]


def create_celery(settings: Settings) -> Celery:
    """Build the app from Settings; tasks find their adapters through workers.runtime."""
    broker = settings.redis_url or "redis://127.0.0.1:6379/0"
    app = Celery("firebreak", broker=broker, include=TASK_MODULES)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="ingest",
        task_routes=TASK_ROUTES,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "socket_connect_timeout": 2,
            "socket_timeout": 5,
        },
        broker_pool_limit=4,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        enable_utc=True,
        beat_schedule={
            "relay-outbox": {
                "task": "firebreak.outbox.relay",
                "schedule": settings.outbox_relay_interval_s,
            },
            "reconcile-alerts": {
                "task": "firebreak.alerts.reconcile",
                "schedule": settings.reconcile_interval_s,
            },
            "sweep-runbook-runs": {
                "task": "firebreak.runbooks.sweep",
                "schedule": settings.runbook_sweep_interval_s,
            },
        },
    )
    app.conf.task_queues = None
    app.conf.task_create_missing_queues = True
    app.firebreak_settings = settings
    return app


ALL_QUEUES = ",".join(QUEUES)
