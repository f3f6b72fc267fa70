"""Firebreak's own processes for tests: the API in a uvicorn thread, workers as subprocesses."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from bot.bootstrap import Container
from bot.demo.monitoring import free_loopback_port as free_port
from bot.services.normalise_deliveries import DeliveryNormaliser
from bot.settings import Settings
from bot.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def child_pids(pid: int) -> list[int]:
    """The pids whose parent is `pid`, read from /proc (a worker's prefork pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def wait_for(
    condition: Callable[[], object], timeout_s: float = 20.0, interval_s: float = 0.1
) -> object:
    """Poll until `condition()` is truthy; fail with a clear message after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value {last!r})")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same Settings."""
    return settings.as_env()


@dataclass
class ApiServer:
    url: str
    container: Container
    server: uvicorn.Server
    thread: threading.Thread
    normaliser: DeliveryNormaliser

    def normalise(self) -> int:
        """Normalise every delivery accepted so far (the background thread may race us: the
        queue's lock makes whichever comes second find nothing)."""
        return self.normaliser.drain()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.normaliser.stop()


def start_api(settings: Settings) -> ApiServer:
    """Serve create_app(settings) on a free loopback port in a thread, with a delivery
    normaliser thread beside it (as one runs in the worker); wait until it answers."""
    container = Container(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(container=container), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers(url + "/healthz"), timeout_s=15)
    normaliser = container.normaliser()
    normaliser.start()
    return ApiServer(url, container, server, thread, normaliser)


def answers(url: str) -> bool:
    """The URL answers 200 (a server is up and ready)."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, sig: int | None = None) -> None:
        if self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_firebreak(command: list[str], settings: Settings, log_dir: Path) -> ChildProcess:
    """Run `firebreak <command>` as a child process with `settings` in its environment."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{command[0]}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *command],
            env=settings_env(settings),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ChildProcess(command[0], process, log_path)


def start_worker(settings: Settings, log_dir: Path, concurrency: int = 1) -> ChildProcess:
    """A real Celery worker on every queue; returns once it logged that it is ready."""
    child = start_firebreak(["worker", "--concurrency", str(concurrency)], settings, log_dir)
    wait_for(lambda: "ready." in child.log() or child.process.poll() is not None, timeout_s=30)
    if child.process.poll() is not None:
        raise AssertionError(f"worker exited early:\n{child.log()}")
    return child
