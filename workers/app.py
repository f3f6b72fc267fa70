"""The Celery app: Redis broker, at-least-once delivery, routes, time limits and the beat schedule.

Delivery is at least once: tasks are acknowledged after they ran (late acks), so a worker killed
mid-task leaves the message in Redis's unacked index and another worker gets it once the
visibility timeout (FIREBREAK_BROKER_VISIBILITY_TIMEOUT_S) has passed and the next sweep (every
10 s at most) finds it. Redis applies that one timeout to every queue, so each queue's time
limit is kept well below it (a live task is never handed to a second worker), and so is every
countdown a message waits out in a worker; longer delays wait in the database's outbox instead
(workers/deferral.py).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from bot.adapters.redis_broker import TRANSPORT
from bot.domain.task_names import TaskName
from bot.settings import Settings
from workers.heartbeat import Heartbeat
from workers.normaliser import Normaliser
from workers.routes import QUEUE_TIME_LIMITS_S, QUEUES, TASK_ROUTES, queue_of

TASK_MODULES = [
    "workers.tasks.triage",
    "workers.tasks.summary",
    "workers.tasks.incidents",
    "workers.tasks.outbox",
    "workers.tasks.alerts",
    "workers.tasks.runbooks",
    "workers.tasks.retention",
    "workers.tasks.silences",
]
# Fractions of the visibility timeout a task may run, and a message may wait in a worker.
TIME_LIMIT_SHARE = 0.5
COUNTDOWN_SHARE = 0.25
CHAT_QUEUES = ("ingest",)  # firebreak.incidents.process posts and edits chat messages
SOFT_LIMIT_SHARE = 0.8  # the soft limit raises in the task, which retries (workers/retrying.py)


def task_time_limit_s(settings: Settings, queue: str) -> float:
    """The hard time limit of tasks on `queue`: its table entry, capped below the visibility
    timeout (and, on the queues that post to chat, below the root claim's lease)."""
    limit = min(
        QUEUE_TIME_LIMITS_S.get(queue, 60.0),
        settings.broker_visibility_timeout_s * TIME_LIMIT_SHARE,
    )
    if queue in CHAT_QUEUES:
        limit = min(limit, settings.chat_claim_lease_s * TIME_LIMIT_SHARE)
    return max(limit, 2.0)


def max_countdown_s(settings: Settings) -> float:
    """The longest delay a message may wait out in a worker before it would be redelivered."""
    return settings.broker_visibility_timeout_s * COUNTDOWN_SHARE


class QueueTimeLimits:
    """Celery task annotation: each task gets its queue's time limits."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def annotate(self, task: Task) -> dict[str, Any]:
        limit = task_time_limit_s(self._settings, queue_of(task.name))
        return {"time_limit": limit, "soft_time_limit": limit * SOFT_LIMIT_SHARE}


def create_celery(settings: Settings) -> Celery:
    """Build the app from Settings; tasks find their adapters through workers.runtime."""
    broker = settings.redis_url or "redis://127.0.0.1:6379/0"
    app = Celery("firebreak", broker=broker, include=TASK_MODULES)
    app.conf.update(
        broker_transport=TRANSPORT,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="ingest",
        task_routes=TASK_ROUTES,
        task_annotations=[QueueTimeLimits(settings)],
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_s,
            # Sweep for tasks past the visibility timeout every few seconds (kombu's defaults
            # sweep every 10 s x 10 = 100 s, which would add up to 100 s to every recovery).
            "unacked_restore_interval": max(
                1, int(min(10.0, settings.broker_visibility_timeout_s / 6))
            ),
            "unacked_restore_throttle": 1,
            # Serve queues in QUEUES order, not round robin (workers/routes.py).
            "queue_order_strategy": "priority",
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
                "task": TaskName.RELAY_OUTBOX,
                "schedule": settings.outbox_relay_interval_s,
            },
            "reconcile-alerts": {
                "task": TaskName.RECONCILE_ALERTS,
                "schedule": settings.reconcile_interval_s,
            },
            "sweep-runbook-runs": {
                "task": TaskName.SWEEP_RUNS,
                "schedule": settings.runbook_sweep_interval_s,
            },
            "prune-records": {
                "task": TaskName.PRUNE_RECORDS,
                "schedule": settings.retention_interval_s,
            },
            "sync-silences": {
                "task": TaskName.SYNC_SILENCES,
                "schedule": settings.reconcile_interval_s,
            },
        },
    )
    app.steps["consumer"].add(Heartbeat)
    app.steps["worker"].add(Normaliser)
    app.conf.task_queues = None
    app.conf.task_create_missing_queues = True
    app.firebreak_settings = settings
    return app


ALL_QUEUES = ",".join(QUEUES)
