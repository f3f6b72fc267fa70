"""Soak benchmark: a steady Alertmanager webhook load against `firebreak api`, `worker` and `beat`.

Starts a private redis-server and a scratch PostgreSQL database (127.0.0.1:5432, trust auth;
dropped at the end) or SQLite with `--sqlite`, runs the three Firebreak processes as they run
in production, and posts `--rate` webhook deliveries a second (each a distinct group, so each
opens an incident) over loopback for `--minutes`. Every minute it prints the resident memory
of the api and of the worker with its prefork children (and of beat), the requests sent,
answered 200 and stored; at the end, each process's first-to-last RSS change. No Prometheus
and no Slack token: triage answers "unavailable" and chat goes to the console chat's log, so
the figures measure Firebreak's own bookkeeping. Not a test: figures, never a gate.

    python bench/soak.py [--minutes 30] [--rate 20] [--sqlite] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    ROOT,
    answers,
    firebreak,
    firebreak_database,
    firebreak_env,
    firing_alert,
    private_redis,
    stop,
    wait_for,
    webhook_body,
)
from bot.demo.monitoring import free_loopback_port
from tests.processes import child_pids

MODELS = ("llama-3-70b-instruct", "mistral-7b-instruct", "qwen2-72b", "mixtral-8x7b")
SENDERS = 8

try:
    import psutil
except ImportError:  # the /proc fallback below answers the same figures on Linux
    psutil = None


def delivery(index: int, now: datetime) -> bytes:
    """One firing group of one alert, distinct per `index`, as Alertmanager 0.25+ sends it."""
    model = MODELS[index % len(MODELS)]
    pod = f"{model}-{index:07d}"
    labels = {
        "alertname": "LLMTimeToFirstTokenHigh",
        "severity": "warning",
        "model_name": model,
        "service": "llm-serving",
        "pod": pod,
    }
    summary = f"TTFT p99 above 2s on {pod}"
    started = now.isoformat().replace("+00:00", "Z")
    return webhook_body(
        {"alertname": labels["alertname"], "pod": pod},
        labels,
        [firing_alert(labels, f"{index:016x}", summary, started)],
        {"summary": summary},
    )


def rss_kib(pid: int) -> int:
    """Resident memory of one process in KiB; 0 once it is gone."""
    if psutil is not None:
        try:
            return int(psutil.Process(pid).memory_info().rss // 1024)
        except psutil.Error:
            return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Celery's prefork pool processes)."""
    if psutil is not None:
        try:
            return [c.pid for c in psutil.Process(pid).children()]
        except psutil.Error:
            return []
    return child_pids(pid)


def tree_rss_kib(pid: int) -> tuple[int, int]:
    """RSS of `pid` plus its children, and how many children."""
    kids = children(pid)
    return rss_kib(pid) + sum(rss_kib(k) for k in kids), len(kids)


@dataclass
class Load:
    """Requests sent and their answers, shared by the sender threads."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    late: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Sender:
    """Posts webhook bodies over one keep-alive connection per thread."""

    def __init__(self, port: int, token: str, load: Load) -> None:
        self.port, self.token, self.load = port, token, load
        self.local = threading.local()

    def post(self, body: bytes) -> None:
        status = 0
        for _ in range(2):  # one reconnect if the server closed the idle connection
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.local.conn = conn
            try:
                conn.request(
                    "POST",
                    "/webhooks/alertmanager",
                    body,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
                )
                response = conn.getresponse()
                response.read()
                status = response.status
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
        with self.load.lock:
            self.load.statuses[status] = self.load.statuses.get(status, 0) + 1
            if status == 200:
                self.load.ok += 1
            else:
                self.load.failed += 1


def stored_incidents(database_url: str) -> int:
    query = "SELECT count(*) FROM incidents"
    try:
        if database_url.startswith("sqlite:///"):
            with sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=5) as conn:
                return int(conn.execute(query).fetchone()[0])
        with psycopg.connect(database_url) as conn:
            row = conn.execute(query).fetchone()
            return int(row[0]) if row else 0
    except (sqlite3.Error, psycopg.Error):
        return -1


def report_line(
    minute: str, processes: dict[str, int], load: Load, database_url: str
) -> dict[str, int]:
    api = rss_kib(processes["api"])
    worker, pool = tree_rss_kib(processes["worker"])
    beat = rss_kib(processes["beat"])
    with load.lock:
        sent, ok, failed, late = load.sent, load.ok, load.failed, load.late
    stored = stored_incidents(database_url)
    print(
        f"{minute:>5}  api {api / 1024:7.1f} MiB  worker+{pool} {worker / 1024:7.1f} MiB  "
        f"beat {beat / 1024:6.1f} MiB  sent {sent:6d}  200 {ok:6d}  failed {failed:4d}  "
        f"late {late:4d}  stored {stored:6d}",
        flush=True,
    )
    return {"api": api, "worker": worker, "beat": beat}


def soak(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="firebreak-soak-"))
    with ExitStack() as stack:
        redis_url = stack.enter_context(private_redis(home))
        database_url = stack.enter_context(firebreak_database(home, args.sqlite, "firebreak_soak"))
        token = secrets.token_urlsafe(24)
        env = firebreak_env(
            home,
            database_url=database_url,
            redis_url=redis_url,
            webhook_token=token,
            api_token=secrets.token_urlsafe(24),
        )
        env["PYTHONUNBUFFERED"] = "1"
        run(args, home, env, token, database_url, stack)


def run(
    args: argparse.Namespace,
    home: Path,
    env: dict[str, str],
    token: str,
    database_url: str,
    stack: ExitStack,
) -> None:
    """Start api, worker and beat (stopped by `stack`), load them, print memory each minute."""
    port = free_loopback_port()
    started: list[subprocess.Popen[bytes]] = []
    stack.callback(lambda: [stop(process) for process in reversed(started)])
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = firebreak(["api", "--port", str(port)], env, home / "api.log")
    started.append(api)
    worker = firebreak(["worker", "--concurrency", str(args.concurrency)], env, home / "worker.log")
    started.append(worker)
    beat = firebreak(["beat"], env, home / "beat.log")
    started.append(beat)
    wait_for(lambda: answers(port), 60, "firebreak api")
    wait_for(lambda: b"ready." in (home / "worker.log").read_bytes(), 90, "firebreak worker")
    processes = {"api": api.pid, "worker": worker.pid, "beat": beat.pid}
    database = "SQLite" if args.sqlite else "PostgreSQL"
    print(
        f"soak: {args.rate:g} deliveries/s for {args.minutes:g} min on {database}, "
        f"worker concurrency {args.concurrency}, RSS via "
        f"{'psutil' if psutil is not None else '/proc VmRSS'}; logs in {home}",
        flush=True,
    )
    load = Load()
    first = report_line("0m", processes, load, database_url)
    last = first
    sender = Sender(port, token, load)
    interval_s = 1.0 / args.rate
    begin = time.monotonic()
    end = begin + args.minutes * 60
    next_report = begin + 60
    minute = 0
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        index = 0
        while True:
            due = begin + index * interval_s
            now = time.monotonic()
            if due >= end:
                break
            if now >= next_report:
                minute += 1
                last = report_line(f"{minute}m", processes, load, database_url)
                next_report += 60
            if due > now:
                time.sleep(min(due, next_report) - now)
                continue
            with load.lock:
                load.sent += 1
                in_flight = load.sent - load.ok - load.failed
                if in_flight > SENDERS:
                    load.late += 1  # the api is behind: requests queue in the client
            pool.submit(sender.post, delivery(index, datetime.now(UTC)))
            index += 1
    report_line("end", processes, load, database_url)
    drained = time.monotonic() + 30
    while time.monotonic() < drained and stored_incidents(database_url) < load.ok:
        time.sleep(1)
    last = report_line("drain", processes, load, database_url)
    print("RSS first -> last:", flush=True)
    for name in ("api", "worker", "beat"):
        change = last[name] - first[name]
        print(
            f"  {name:<7} {first[name] / 1024:7.1f} MiB -> {last[name] / 1024:7.1f} MiB "
            f"({change / 1024:+.1f} MiB)",
            flush=True,
        )
    print(f"  answers {dict(sorted(load.statuses.items()))}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=20.0, help="webhook deliveries a second")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    soak(args)


if __name__ == "__main__":
    main()
