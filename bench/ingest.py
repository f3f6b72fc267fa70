"""Webhook ingestion, side by side: Firebreak production-style, alerta-server and the ceiling.

Firebreak runs as `firebreak api` and `firebreak worker` on a scratch PostgreSQL database (or
the embedded SQLite with `--sqlite`) and a private redis-server. With `--compare-alerta`,
alerta-server is installed from PyPI into its own virtualenv (once, under
~/.cache/firebreak-bench) and run on its own scratch PostgreSQL database with gunicorn at its
default 5 workers and its authentication off (AUTH_REQUIRED=False: it checks no token, where
Firebreak checks its webhook token). The ceiling is bench/ceiling.py: one INSERT + commit per
request, nothing else. The same closed-loop load (aiohttp, `--concurrency` connections, each
request a distinct Alertmanager group of `--alerts` alerts) runs against each in turn,
`--rounds` times, interleaved. Printed per server: the median over rounds of requests/s,
alerts/s and latency percentiles, and alerts stored of alerts sent (Firebreak's once the
normaliser has drained; each round also says how long that took after the last answer).
Not a test: figures, never a gate.

    python bench/ingest.py [--alerts 1|50] [--requests 4000] [--rounds 3] [--compare-alerta]
    python bench/ingest.py --sqlite
    python bench/ingest.py --no-worker
    python bench/ingest.py --worker-nice 10   (the worker below the API's CPU priority)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    answers,
    firebreak,
    firebreak_database,
    firebreak_env,
    firing_alert,
    percentile,
    private_redis,
    scratch_postgres,
    stop,
    wait_for,
    webhook_body,
)
from bot.adapters.sql_migrations import upgrade  # noqa: E402
from bot.demo.monitoring import free_loopback_port  # noqa: E402

TOKEN = "bench-webhook-token"
WARM_UP = 200
ALERTA_HOME = Path.home() / ".cache" / "firebreak-bench" / "alerta"


def alert(run: str, index: int, n: int) -> dict[str, object]:
    labels = {
        "alertname": "LLMHighTimeToFirstToken",
        "severity": "critical",
        "model_name": "llama-3-70b-instruct",
        "instance": f"{run}-{index}-{n}",
        "pod": f"llama-{n}",
    }
    return firing_alert(labels, f"{run}-{index:08x}{n:04x}", "TTFT p95 above 2 s")


def payload(run: str, index: int, size: int) -> bytes:
    """One Alertmanager webhook v4 group, distinct per (run, index)."""
    return webhook_body(
        {"bench": f"{run}-{index}"},
        {"alertname": "LLMHighTimeToFirstToken", "severity": "critical"},
        [alert(run, index, n) for n in range(size)],
    )


@dataclass
class Round:
    requests: int
    alerts: int
    elapsed_s: float
    latencies: list[float]
    failed: int

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s

    @property
    def alerts_per_s(self) -> float:
        return self.alerts / self.elapsed_s


async def drive(url: str, bodies: list[bytes], concurrency: int, token: bool = True) -> Round:
    """Closed loop: `concurrency` connections, each sending its next body when answered."""
    latencies: list[float] = []
    failed = 0
    pending = iter(bodies)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sender() -> None:
            nonlocal failed
            for body in pending:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status >= 300:
                        failed += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Round(len(bodies), 0, elapsed, latencies, failed)


@dataclass
class Server:
    """One system under load: where to post, and how many alerts it has stored."""

    name: str
    url: str
    stored: Callable[[], int]
    settle: Callable[[int], None] = lambda _: None
    token: bool = True  # alerta-server runs with AUTH_REQUIRED=False and refuses a token
    rounds: list[Round] = field(default_factory=list)
    sent_alerts: int = 0


def count(database_url: str, query: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


@contextmanager
def firebreak_server(args: argparse.Namespace, home: Path) -> Iterator[Server]:
    with ExitStack() as stack:
        redis_url = stack.enter_context(private_redis(home))
        database_url = stack.enter_context(firebreak_database(home, args.sqlite, "firebreak_bench"))
        upgrade(database_url)
        port = free_loopback_port()
        env = firebreak_env(
            home,
            database_url=database_url,
            redis_url=redis_url,
            webhook_token=TOKEN,
            triage_follow_up_s="0",
            worker_nice=str(args.worker_nice),
        )
        api = firebreak(["api", "--port", str(port)], env, home / "api.log")
        stack.callback(stop, api)
        if not args.no_worker:
            worker = firebreak(["worker", "--concurrency", "2"], env, home / "worker.log")
            stack.callback(stop, worker)
        wait_for(lambda: answers(port), 60, "firebreak api")
        # Stored alerts once normalised; with no worker, the deliveries the API stored.
        if args.no_worker:
            query = "SELECT count(*) FROM deliveries"
        else:
            query = "SELECT count(*) FROM alerts"

        def stored() -> int:
            if args.sqlite:
                with sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30) as c:
                    return int(c.execute(query).fetchone()[0])
            return count(database_url, query)

        def settle(expected: int) -> None:
            wait_for(lambda: stored() >= expected, 600, "the normaliser draining")

        yield Server("firebreak", f"http://127.0.0.1:{port}/webhooks/alertmanager", stored, settle)


def alerta_python() -> Path:
    """alerta-server's own virtualenv, created and installed from PyPI on first use."""
    python = ALERTA_HOME / "bin" / "python"
    if not (ALERTA_HOME / "bin" / "gunicorn").exists():
        print("installing alerta-server, gunicorn and psycopg2 into", ALERTA_HOME, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ALERTA_HOME)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "alerta-server",
                "gunicorn",
                "psycopg2-binary",
            ],
            check=True,
        )
    return python


@contextmanager
def alerta_server(home: Path) -> Iterator[Server]:
    python = alerta_python()
    with scratch_postgres("alerta_bench") as database_url:
        port = free_loopback_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url.replace("postgresql://", "postgres://"),
            "AUTH_REQUIRED": "False",
            "SECRET_KEY": "bench",
        }

        def gunicorn(workers: int) -> subprocess.Popen[bytes]:
            command = [str(python.parent / "gunicorn"), "--workers", str(workers)]
            command += ["--bind", f"127.0.0.1:{port}", "alerta:create_app()"]
            log = (home / "alerta.log").open("ab")
            return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

        # alerta creates its schema on first start; five workers at once race on it
        first = gunicorn(1)
        wait_for(lambda: answers(port, "/_"), 60, "alerta-server's schema")
        stop(first)
        process = gunicorn(5)
        try:
            wait_for(lambda: answers(port, "/_"), 60, "alerta-server")

            def stored() -> int:
                return count(database_url, "SELECT count(*) FROM alerts")

            url = f"http://127.0.0.1:{port}/webhooks/prometheus"
            yield Server("alerta-server", url, stored, token=False)
        finally:
            stop(process)


@contextmanager
def ceiling_server(home: Path) -> Iterator[Server]:
    with scratch_postgres("ceiling_bench") as database_url:
        port = free_loopback_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.ceiling:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, "CEILING_DATABASE_URL": database_url},
            stdout=(home / "ceiling.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: answers(port), 60, "the bare-INSERT endpoint")

            def stored() -> int:
                return count(database_url, "SELECT count(*) FROM ceiling")

            yield Server("bare INSERT", f"http://127.0.0.1:{port}/webhooks/alertmanager", stored)
        finally:
            stop(process)


def run(args: argparse.Namespace) -> list[Server]:
    home = Path(tempfile.mkdtemp(prefix="firebreak-ingest-"))
    with ExitStack() as stack:
        servers = [stack.enter_context(firebreak_server(args, home))]
        if args.compare_alerta:
            servers.append(stack.enter_context(alerta_server(home)))
        if not args.sqlite:
            servers.append(stack.enter_context(ceiling_server(home)))
        for number in range(args.rounds + 1):  # round 0 warms every server up
            for server in servers:
                size = args.requests if number else WARM_UP
                tag = f"{number}-{time.time_ns():x}"
                bodies = [payload(tag, i, args.alerts) for i in range(size)]
                measured = asyncio.run(drive(server.url, bodies, args.concurrency, server.token))
                measured.alerts = size * args.alerts
                server.sent_alerts += measured.alerts
                settling = time.perf_counter()
                server.settle(server.sent_alerts)
                settled_s = time.perf_counter() - settling
                if number:
                    server.rounds.append(measured)
                    print(
                        f"  round {number} {server.name:14} {measured.rps:8,.0f} req/s  "
                        f"p99 {percentile(measured.latencies, 99) * 1e3:6.1f} ms  "
                        f"stored {settled_s:5.1f} s after the last answer",
                        flush=True,
                    )
        for server in servers:
            server.settle(server.sent_alerts)
        report(args, servers)
        return servers


def report(args: argparse.Namespace, servers: list[Server]) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"\n{args.alerts} alert(s) per request, concurrency {args.concurrency}, "
        f"{args.requests} requests x {args.rounds} rounds, medians over rounds"
        + (f", Firebreak's worker at nice {args.worker_nice}" if args.worker_nice else "")
    )
    print(
        f"{'server':16}{'req/s':>9}{'alerts/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'failed':>8}  stored/sent"
    )
    figures: dict[str, float] = {}
    for server in servers:
        rps = median([r.rps for r in server.rounds])
        figures[server.name] = rps
        p = {
            q: median([percentile(r.latencies, q) * 1e3 for r in server.rounds])
            for q in (50, 95, 99)
        }
        print(
            f"{server.name:16}{rps:9,.0f}{median([r.alerts_per_s for r in server.rounds]):10,.0f}"
            f"{p[50]:9.1f}{p[95]:9.1f}{p[99]:9.1f}{sum(r.failed for r in server.rounds):8}"
            f"  {server.stored()}/{server.sent_alerts}"
        )
    firebreak_rps = figures["firebreak"]
    if "alerta-server" in figures:
        print(f"firebreak / alerta-server: {firebreak_rps / figures['alerta-server']:.1f}x")
    if "bare INSERT" in figures:
        print(f"firebreak / bare INSERT ceiling: {firebreak_rps / figures['bare INSERT']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1, help="alerts per request")
    parser.add_argument("--requests", type=int, default=4000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--compare-alerta", action="store_true")
    parser.add_argument("--sqlite", action="store_true", help="Firebreak on embedded SQLite")
    parser.add_argument(
        "--no-worker", action="store_true", help="the API alone; stored counts deliveries"
    )
    parser.add_argument(
        "--worker-nice", type=int, default=0, help="FIREBREAK_WORKER_NICE for Firebreak's worker"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
