"""The one route table: every task is routed to a known queue, and every task name used exists."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from bot.services.ingest_alerts import PROCESS_TASK
from bot.services.process_incident import SUMMARY_TASK
from bot.services.queue_triage import TRIAGE_TASK
from bot.services.remediate import PLAN_TASK, TICK_TASK
from bot.settings import Settings
from bot.slack_app.intents import TASKS as INTENT_TASKS
from workers.app import create_celery
from workers.routes import QUEUES, TASK_ROUTES


@pytest.fixture(scope="module")
def registered() -> set[str]:
    app = create_celery(Settings())
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.startswith("firebreak.")}


def test_every_task_is_routed_to_a_known_queue(registered: set[str]) -> None:
    """Each registered task matches exactly one route, and that route names a real queue."""
    for name in registered:
        routes = [r["queue"] for pattern, r in TASK_ROUTES.items() if fnmatchcase(name, pattern)]
        assert len(routes) == 1, name
        assert routes[0] in QUEUES, name


def test_every_scheduled_and_queued_task_exists(registered: set[str]) -> None:
    """Beat's schedule and the names services and chat queue are all registered tasks."""
    schedule = create_celery(Settings()).conf.beat_schedule
    used = {entry["task"] for entry in schedule.values()}
    used |= {PROCESS_TASK, SUMMARY_TASK, TRIAGE_TASK, PLAN_TASK, TICK_TASK}
    used |= {task for task, _ in INTENT_TASKS.values()}
    assert used <= registered
    assert "firebreak.retention.prune" in used
