"""End-to-end fixtures: Firebreak (API + worker) on SQLite and real Redis, fed by real binaries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.adapters.sql_migrations import upgrade
from bot.settings import Settings
from tests.processes import ApiServer, ChildProcess, start_api, start_worker

WEBHOOK_TOKEN = "e2e-webhook-token"
API_TOKEN = "e2e-api-token"


@dataclass
class Firebreak:
    settings: Settings
    api: ApiServer
    worker: ChildProcess

    @property
    def webhook_url(self) -> str:
        return f"{self.api.url}/webhooks/alertmanager"


@pytest.fixture
def start_firebreak_stack(
    make_settings: Callable[..., Settings], sqlite_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., Firebreak]]:
    """Start API and worker with the given setting overrides; stopped after the test."""
    started: list[Firebreak] = []

    def start(**overrides: object) -> Firebreak:
        upgrade(sqlite_url)
        settings = make_settings(
            database_url=sqlite_url,
            redis_url=redis_url,
            webhook_token=WEBHOOK_TOKEN,
            api_token=API_TOKEN,
            **overrides,
        )
        api = start_api(settings)
        stack = Firebreak(settings, api, start_worker(settings, tmp_path / "logs"))
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.worker.stop()
        stack.api.stop()
