"""Integration fixtures: the API served over real HTTP, on SQLite and on PostgreSQL, the store
on each database, and the loopback Slack Web API with the real Slack adapter pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.adapters.slack import SlackChatClient
from bot.adapters.slack_web import slack_web_client
from bot.adapters.sql_store import SqlStore
from bot.settings import Settings
from tests.processes import ApiServer, start_api
from tests.servers.slack import BOT_TOKEN, SlackServer

WEBHOOK_TOKEN = "wh-test-token-1234"
API_TOKEN = "api-test-token-5678"
CHANNEL = "C0INCIDENTS"


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
def store(database_url: str) -> Iterator[SqlStore]:
    """The store on the test's database (SQLite and PostgreSQL), disposed afterwards."""
    store = SqlStore.from_url(database_url)
    yield store
    store.dispose()


@pytest.fixture
def chat(slack: SlackServer) -> SlackChatClient:
    """The real Slack adapter posting to CHANNEL on the loopback Slack Web API."""
    return SlackChatClient(slack_web_client(BOT_TOKEN, slack.api_url, timeout_s=5), CHANNEL)


@pytest.fixture
def api(api_settings: Settings) -> Iterator[ApiServer]:
    server = start_api(api_settings)
    yield server
    server.stop()
