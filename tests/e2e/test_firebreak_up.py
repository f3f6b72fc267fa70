"""`firebreak up` on embedded defaults: the README's curl opens an incident the CLI then lists."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import ROOT, free_port, wait_for

EXAMPLE = ROOT / "deploy" / "examples" / "kv-cache-alert.json"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("FIREBREAK_", "OPENAI_"))}


def test_up_runs_the_readme_flow(tmp_path: Path) -> None:
    """With no settings, `up` starts Valkey, SQLite, API, worker and beat; the sample alert
    becomes INC-1 in `incidents list` and in the console chat log; Ctrl-C stops everything."""
    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "up", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _healthy(port), timeout_s=60)
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/alertmanager",
            content=EXAMPLE.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"

        def listed() -> str:
            return subprocess.run(
                [sys.executable, "-m", "bot.cli", "incidents", "list"],
                cwd=tmp_path,
                env=clean_env(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout

        wait_for(lambda: "INC-1" in listed(), timeout_s=30)
        assert "triggered" in listed()
        chat_log = tmp_path / ".firebreak" / "slack.log"
        wait_for(lambda: chat_log.exists() and "INC-1" in chat_log.read_text(), timeout_s=30)
        printed = (tmp_path / "up.log").read_text()
        assert "embedded Valkey" in printed
        assert f"http://127.0.0.1:{port}" in printed
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
        log.close()
    assert not _healthy(port)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
