"""The one registry of task names: each is a registered Celery task routed to a known queue, and
no module spells a task name outside the registry."""

from __future__ import annotations

import ast
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from bot.domain.task_names import TaskName
from bot.settings import Settings
from bot.slack_app.intents import TASKS as INTENT_TASKS
from workers.app import create_celery
from workers.routes import QUEUES, TASK_ROUTES

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "bot" / "domain" / "task_names.py"


@pytest.fixture(scope="module")
def registered() -> set[str]:
    app = create_celery(Settings())
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.startswith("firebreak.")}


def test_registry_and_registered_tasks_are_the_same_set(registered: set[str]) -> None:
    """Every name in the registry is a worker task, and every worker task is in the registry."""
    assert {str(name) for name in TaskName} == registered


def test_every_task_is_routed_to_a_known_queue(registered: set[str]) -> None:
    """Each registered task matches exactly one route, and that route names a real queue."""
    for name in registered:
        routes = [r["queue"] for pattern, r in TASK_ROUTES.items() if fnmatchcase(name, pattern)]
        assert len(routes) == 1, name
        assert routes[0] in QUEUES, name


def test_beat_and_chat_queue_only_registry_names() -> None:
    """Beat's schedule and every chat action's task come from the registry."""
    schedule = create_celery(Settings()).conf.beat_schedule
    assert all(isinstance(entry["task"], TaskName) for entry in schedule.values())
    assert TaskName.PRUNE_RECORDS in {entry["task"] for entry in schedule.values()}
    assert all(isinstance(task, TaskName) for task, _ in INTENT_TASKS.values())


def _spelled_task_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.count(".") == 2
        and node.value.startswith("firebreak.")
        and "*" not in node.value
    ]


def test_no_module_spells_a_task_name_outside_the_registry() -> None:
    """Services, chat and workers name tasks through TaskName, so the outbox carries no other."""
    modules = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")]
    spelled = {
        str(path.relative_to(ROOT)): names
        for path in modules
        if path != REGISTRY and (names := _spelled_task_names(path))
    }
    assert spelled == {}
    assert _spelled_task_names(REGISTRY)  # the scan does find names where they are spelled
