"""Per-process wiring for tasks: one Container, built after fork from the app's Settings."""

from __future__ import annotations

import time
from typing import Any

from celery import Task
from celery.signals import task_postrun, task_prerun, worker_process_init

from bot.bootstrap import Container
from bot.domain.telemetry import TASK_SECONDS, TASKS
from bot.settings import Settings
from workers.routes import queue_of

_container: Container | None = None
_started: dict[str, float] = {}


def container(task: Task | None = None) -> Container:
    """The process's Container, built on first use from the Celery app's Settings."""
    global _container
    if _container is None:
        settings = getattr(task.app, "firebreak_settings", None) if task is not None else None
        _container = Container(settings if isinstance(settings, Settings) else Settings())
    return _container


@worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    global _container
    _container = None


@task_prerun.connect
def _start_timer(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect
def _observe(
    task_id: str | None = None, task: Task | None = None, state: str | None = None, **_: Any
) -> None:
    started = _started.pop(task_id or "", None)
    if started is None or task is None:
        return
    telemetry = container(task).telemetry
    labels = {"task": task.name, "queue": queue_of(task.name)}
    telemetry.observe(TASK_SECONDS, time.perf_counter() - started, labels)
    telemetry.count(TASKS, {**labels, "state": state or ""})
