"""Safe defaults: no anonymous public listener, no secret printed, console chat redacted."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.console_chat import ConsoleChatClient
from bot.cli import refuse_anonymous
from bot.domain.cards import MessageRef
from bot.settings import Settings, mask_url


def firebreak(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real `firebreak` command with only `env`'s FIREBREAK_ settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    command = [sys.executable, "-m", "bot.cli", *argv]
    return subprocess.run(
        command, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("command", ["api", "up"])
def test_a_public_listener_without_tokens_is_refused(command: str, tmp_path: Path) -> None:
    """`firebreak api|up --host 0.0.0.0` without the API token exits 2 and says how to proceed."""
    done = firebreak(
        command,
        "--host",
        "0.0.0.0",
        FIREBREAK_HOME=str(tmp_path),
        FIREBREAK_WEBHOOK_TOKEN="a-real-webhook-token-123",
    )
    assert done.returncode == 2
    assert "FIREBREAK_API_TOKEN" in done.stderr
    assert "FIREBREAK_WEBHOOK_TOKEN" not in done.stderr
    assert "FIREBREAK_ALLOW_ANONYMOUS=true" in done.stderr


def test_loopback_tokens_or_consent_are_allowed(make_settings: Callable[..., Settings]) -> None:
    """Loopback needs nothing; elsewhere both tokens, or an explicit consent, are enough."""
    bare = make_settings()
    assert refuse_anonymous("api", "127.0.0.1", bare) is None
    assert refuse_anonymous("api", "localhost", bare) is None
    assert refuse_anonymous("api", "0.0.0.0", bare) == 2
    assert refuse_anonymous("api", "::", bare) == 2
    tokens = make_settings(webhook_token="wh-token-abcdef", api_token="api-token-abcdef")
    assert refuse_anonymous("api", "0.0.0.0", tokens) is None
    assert refuse_anonymous("up", "10.0.0.5", make_settings(allow_anonymous=True)) is None


def test_urls_are_masked() -> None:
    """Passwords in database, Redis and HTTP URLs never print; the rest of the URL does."""
    assert mask_url("postgresql://fb:s3cr3t@db:5432/fb") == "postgresql://fb:***@db:5432/fb"
    assert mask_url("redis://:s3cr3t@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert mask_url("sqlite:////srv/firebreak.db") == "sqlite:////srv/firebreak.db"


def test_console_chat_redacts_like_slack(tmp_path: Path) -> None:
    """A token in alert text is redacted on stdout and in the chat log."""
    stream = io.StringIO()
    chat = ConsoleChatClient(tmp_path / "slack.log", stream=stream)
    secret = "xoxb-123456789012-abcdefghijkl"
    chat.post_thread(
        MessageRef("#incidents", "1.0"), f"alert said token={secret} Bearer abcdefgh99"
    )
    for written in (stream.getvalue(), (tmp_path / "slack.log").read_text()):
        assert secret not in written
        assert "abcdefgh99" not in written
        assert "[REDACTED]" in written
