"""create_slack_app and run_socket_mode refuse to start without the secrets they need."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.bootstrap import Container
from bot.settings import Settings
from bot.slack_app.app import (
    EVENTS_PATH,
    SlackConfigurationError,
    create_slack_app,
    mount_slack,
    run_socket_mode,
)
from bot.slack_app.authorisation import SlackAuthoriser
from bot.slack_app.deps import SlackDeps


class Unused:
    """A port that must not be touched while the app is only being built."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} used while building the app")


def make_deps() -> SlackDeps:
    return SlackDeps(
        store=Unused(),  # type: ignore[arg-type]
        tasks=Unused(),  # type: ignore[arg-type]
        authoriser=SlackAuthoriser(),
        clock=lambda: datetime.now(UTC),
        claims=Unused(),  # type: ignore[arg-type]
    )


def test_missing_bot_token_is_a_clear_error(make_settings: Callable[..., Settings]) -> None:
    """Without FIREBREAK_SLACK_BOT_TOKEN the factory names the missing setting."""
    settings = make_settings(slack_signing_secret="a-real-signing-secret-123")
    with pytest.raises(SlackConfigurationError, match="FIREBREAK_SLACK_BOT_TOKEN"):
        create_slack_app(settings, make_deps(), Container(settings).slack_web)


def test_http_mode_needs_the_signing_secret(make_settings: Callable[..., Settings]) -> None:
    """Over HTTP every request is verified, so a missing signing secret stops the build."""
    settings = make_settings(slack_bot_token="xoxb-1")
    with pytest.raises(SlackConfigurationError, match="FIREBREAK_SLACK_SIGNING_SECRET"):
        create_slack_app(settings, make_deps(), Container(settings).slack_web)


def test_socket_mode_needs_the_app_token(make_settings: Callable[..., Settings]) -> None:
    """Socket Mode without FIREBREAK_SLACK_APP_TOKEN fails before connecting anywhere."""
    settings = make_settings(slack_bot_token="xoxb-1")
    with pytest.raises(SlackConfigurationError, match="FIREBREAK_SLACK_APP_TOKEN"):
        run_socket_mode(settings, make_deps(), Container(settings).slack_web)


def test_app_is_built_per_call_with_verification_and_base_url(
    make_settings: Callable[..., Settings],
) -> None:
    """Each call builds a new verified app whose client uses FIREBREAK_SLACK_API_URL."""
    settings = make_settings(
        slack_bot_token="xoxb-1",
        slack_signing_secret="a-real-signing-secret-123",
        slack_api_url="http://127.0.0.1:9/api",
    )
    client = Container(settings).slack_web
    first, second = (create_slack_app(settings, make_deps(), client) for _ in range(2))
    assert first is not second
    assert first.client.base_url == "http://127.0.0.1:9/api/"
    web = FastAPI()
    mount_slack(web, first)
    assert EVENTS_PATH in {getattr(r, "path", "") for r in web.routes}


@pytest.mark.parametrize(
    ("headers", "content", "status", "fragment"),
    [
        ({"X-Slack-Request-Timestamp": "yesterday"}, b"command=%2Ffirebreak", 400, "Timestamp"),
        ({"X-Slack-Request-Timestamp": "9" * 5000}, b"command=%2Ffirebreak", 400, "Timestamp"),
        ({"X-Slack-Signature": "v0=\u00e9".encode()}, b"command=%2Ffirebreak", 400, "Signature"),
        ({}, b"\xff\xfe", 400, "UTF-8"),
        ({}, b'{"enterprise": 5}', 401, "invalid request"),
        ({}, b"{not json", 401, "invalid request"),
    ],
)
def test_unreadable_slack_requests_are_a_4xx_before_bolt_parses_them(
    make_settings: Callable[..., Settings],
    headers: dict[str, Any],
    content: bytes,
    status: int,
    fragment: str,
) -> None:
    """A non-numeric timestamp, a non-ASCII signature, a body that is not UTF-8 or an unsigned
    body bolt cannot read answer 400 or 401 naming why, never bolt's 500."""
    settings = make_settings(slack_bot_token="xoxb-1", slack_signing_secret="a-signing-secret-1")
    container = Container(settings)
    web = FastAPI()
    mount_slack(
        web,
        create_slack_app(settings, make_deps(), container.slack_web),
        container.slack_signatures,
    )
    client = TestClient(web, raise_server_exceptions=False)
    response = client.post(
        EVENTS_PATH,
        content=content,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert response.status_code == status, response.text
    assert fragment in response.text
