"""schemathesis against the app's own /openapi.json: no generated request is ever a 5xx.

The real app (ASGI, in process) on SQLite with both tokens set and Slack mounted, the session's
real Redis as broker. Every operation gets a bounded, derandomised set of valid and invalid
requests carrying the right token, so the fuzzing reaches validation and the store rather than
stopping at 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from bot.adapters import sql_tables as t
from bot.adapters.sql_migrations import upgrade
from bot.settings import Settings
from bot.web.app import create_app
from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN

MAX_EXAMPLES = 30


@pytest.fixture
def api_schema(make_settings: Callable[..., Settings], sqlite_url: str, redis_url: str) -> Any:
    upgrade(sqlite_url)
    app = create_app(
        make_settings(
            database_url=sqlite_url,
            redis_url=redis_url,
            webhook_token=WEBHOOK_TOKEN,
            api_token=API_TOKEN,
            slack_bot_token="xoxb-fuzz",
            slack_signing_secret="fuzz-signing-secret",
            slack_api_url="http://127.0.0.1:9/api",
        )
    )
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    loaded.config.generation.update(allow_x00=True)
    loaded.container = app.state.container
    return loaded


def fuzz(operation: Any, mode: GenerationMode, token: str) -> None:
    """Run MAX_EXAMPLES derandomised cases of one operation; fail on any 5xx (shrunk)."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_below_500(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (
            f"{response.status_code} {response.text[:300]}\n{case.as_curl_command()}"
        )

    try:
        answers_below_500()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing in this operation can be made invalid (no parameters, no body)


@pytest.mark.timeout(240)
def test_no_generated_request_is_a_server_error(api_schema: Any) -> None:
    """Valid and invalid requests to every documented operation answer below 500, and every
    delivery the webhook accepted is normalised without a failure."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert any(op.path == "/webhooks/alertmanager" for op in operations)
    for operation in operations:
        token = WEBHOOK_TOKEN if operation.path.startswith("/webhooks") else API_TOKEN
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, token)
    container = api_schema.container
    assert container.normaliser().drain() > 0
    with container.store.engine.connect() as conn:
        failures = conn.execute(
            select(t.deliveries.c.failure).where(t.deliveries.c.failure.is_not(None))
        ).scalars()
        assert list(failures) == []
