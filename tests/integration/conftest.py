"""Integration fixtures: the API served over real HTTP, on SQLite and on PostgreSQL, and the
loopback Slack Web API."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.settings import Settings
from tests.processes import ApiServer, start_api
from tests.servers.slack import SlackServer

WEBHOOK_TOKEN = "wh-test-token-1234"
API_TOKEN = "api-test-token-5678"


@pytest.fixture
def api_settings(
    make_settings: Callable[..., Settings], database_url: str, redis_url: str
) -> Settings:
    return make_settings(
        database_url=database_url,
        redis_url=redis_url,
        webhook_token=WEBHOOK_TOKEN,
        api_token=API_TOKEN,
    )


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The loopback Slack Web API, for the real Slack SDK to talk to."""
    server = SlackServer.start()
    yield server
    server.stop()


@pytest.fixture
def api(api_settings: Settings) -> Iterator[ApiServer]:
    server = start_api(api_settings)
    yield server
    server.stop()
