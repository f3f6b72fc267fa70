"""The worker's liveness: a heartbeat file touched only while the worker can consume.

A consumer bootstep touches FIREBREAK_HOME/worker-heartbeat.<hostname> (one per container or
pod, even when FIREBREAK_HOME is a shared volume) every HEARTBEAT_INTERVAL_S from the
consumer's own event loop, after a PING to the broker succeeds (through the broker probe the
composition root builds). The loop runs only while the consumer is connected (Celery stops the
step when the connection drops and starts it again after reconnecting), so a stale file means a
worker that cannot take tasks: its loop is stuck, it lost its broker, or it never got one.
`firebreak worker --check` reads the file's age; it is the compose and Kubernetes liveness probe.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import structlog
from celery import bootsteps

from bot.bootstrap import Container
from bot.domain.errors import BrokerUnavailableError
from bot.settings import Settings

log = structlog.get_logger(__name__)
HEARTBEAT_INTERVAL_S = 10.0
HEARTBEAT_MAX_AGE_S = 60.0


def heartbeat_path(settings: Settings) -> Path:
    return settings.home / f"worker-heartbeat.{socket.gethostname()}"


def heartbeat_age_s(settings: Settings) -> float | None:
    """Seconds since the worker last proved it could consume; None when it never did."""
    try:
        return max(0.0, time.time() - heartbeat_path(settings).stat().st_mtime)
    except FileNotFoundError:
        return None


class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer bootstep: touch the heartbeat file while the broker answers."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        settings: Settings = parent.app.firebreak_settings
        self.path = heartbeat_path(settings)
        self.broker = Container(settings).broker_probe
        self.timer_entry: Any = None

    def start(self, parent: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.beat()
        self.timer_entry = parent.timer.call_repeatedly(HEARTBEAT_INTERVAL_S, self.beat)

    def stop(self, parent: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def beat(self) -> None:
        try:
            self.broker.ping()
        except BrokerUnavailableError as exc:
            log.warning("worker_heartbeat_skipped", reason=str(exc))
            return
        self.path.touch()
