"""The shipped Slack app manifest matches what the bolt app serves and the adapter calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.slack_app.app import EVENTS_PATH

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack" / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def test_one_firebreak_slash_command_posts_to_the_events_route(manifest: dict[str, Any]) -> None:
    """There is exactly one command, /firebreak, sent to POST /slack/events over HTTPS."""
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/firebreak"
    url = urlsplit(command["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "firebreak.example.com", EVENTS_PATH)


def test_interactivity_uses_the_same_route(manifest: dict[str, Any]) -> None:
    """Button clicks come to the same signed route as commands."""
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert urlsplit(interactivity["request_url"]).path == EVENTS_PATH


def test_bot_scopes_cover_what_firebreak_calls(manifest: dict[str, Any]) -> None:
    """Posting, public channels, commands, uploads, user groups, users and the history of
    public and private channels (to find a root message whose post went unanswered)."""
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {
        "channels:history",
        "groups:history",
        "chat:write",
        "chat:write.public",
        "commands",
        "files:write",
        "usergroups:read",
        "users:read",
    }


def test_http_mode_by_default_and_bot_user_present(manifest: dict[str, Any]) -> None:
    """Socket Mode is off (HTTP events) and the bot user has a display name."""
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"] == "firebreak"


def test_display_texts_fit_slack_limits(manifest: dict[str, Any]) -> None:
    """Name, description and long description respect the manifest's length rules."""
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
