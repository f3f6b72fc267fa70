"""CeleryTaskQueue: the TaskQueue port on Celery; broker failures become BrokerUnavailableError.

Every publish is counted by task and result (sent, broker_unavailable) through Telemetry.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from bot.domain.errors import BrokerUnavailableError
from bot.domain.telemetry import TASKS_SENT, UNRECORDED
from bot.ports import Telemetry


class CeleryTaskQueue:
    """Publishes by task name (routes come from the app's one route table); never retries inline."""

    def __init__(self, app: Celery, *, telemetry: Telemetry = UNRECORDED) -> None:
        self._app = app
        self._telemetry = telemetry

    def enqueue(self, task: str, args: list[Any]) -> None:
        try:
            self._app.send_task(task, args=args, retry=False)
        except (KombuOperationalError, RedisError, OSError) as exc:
            self._telemetry.count(TASKS_SENT, {"task": task, "result": "broker_unavailable"})
            raise BrokerUnavailableError(f"broker refused {task}: {exc}") from exc
        self._telemetry.count(TASKS_SENT, {"task": task, "result": "sent"})

    def ping(self) -> None:
        try:
            with self._app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except (KombuOperationalError, RedisError, OSError) as exc:
            raise BrokerUnavailableError(f"broker unreachable: {exc}") from exc
