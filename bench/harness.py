"""What the benchmarks share: a private redis-server, scratch PostgreSQL databases, Firebreak's
own processes started as in production, and latency percentiles."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bot.demo.monitoring import free_loopback_port

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"bench: {what} not ready within {timeout_s:.0f} s")


@contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    """A redis-server of the benchmark's own on a free port; yields its URL."""
    port = free_loopback_port()
    command = [shutil.which("redis-server") or "redis-server", "--port", str(port)]
    command += ["--bind", "127.0.0.1", "--dir", str(folder), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_for(answers, 10, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A new database on 127.0.0.1:5432 (trust auth), dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def firebreak_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a Firebreak process: no inherited FIREBREAK_ settings but these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    env["FIREBREAK_HOME"] = str(home)
    env.update({f"FIREBREAK_{k.upper()}": v for k, v in settings.items()})
    return env


def firebreak(verb: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`firebreak <verb>` as its own process, output to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *verb],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def answers(port: int, path: str = "/healthz") -> bool:
    """GET `path` on a loopback port answers 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


@contextmanager
def firebreak_database(home: Path, sqlite: bool, name: str) -> Iterator[str]:
    """Firebreak's database for a benchmark: SQLite under `home`, or a scratch PostgreSQL
    database dropped afterwards; yields its URL."""
    if sqlite:
        yield f"sqlite:///{home / f'{name}.db'}"
    else:
        with scratch_postgres(name) as url:
            yield url


def firing_alert(
    labels: dict[str, str], fingerprint: str, summary: str, starts_at: str = "2026-11-29T08:00:00Z"
) -> dict[str, Any]:
    """One firing alert as Alertmanager's webhook v4 carries it."""
    return {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def webhook_body(
    group_labels: dict[str, str],
    common_labels: dict[str, str],
    alerts: list[dict[str, Any]],
    common_annotations: dict[str, str] | None = None,
) -> bytes:
    """One firing group as Alertmanager 0.25+ posts it, its groupKey made of `group_labels`."""
    matchers = ", ".join(f'{k}="{v}"' for k, v in group_labels.items())
    return json.dumps(
        {
            "version": "4",
            "groupKey": f"{{}}:{{{matchers}}}",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "firebreak",
            "groupLabels": group_labels,
            "commonLabels": common_labels,
            "commonAnnotations": common_annotations or {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    ).encode()


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]
