"""Webhook ingestion benchmark: `firebreak api` + a worker on real Redis, driven over HTTP.

Prints requests/s, alerts/s, latency p50/p95/p99, the API's peak RSS, and checks that every
alert sent was stored and every outbox row relayed. Not a test: figures, never a gate.

    python bench/ingest.py --requests 3000 --concurrency 16 --big-every 20 [--database-url ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters import sql_tables as t  # noqa: E402
from bot.adapters.sql_migrations import upgrade  # noqa: E402
from tests.payloads import alert, group  # noqa: E402
from tests.processes import free_port, wait_for  # noqa: E402

TOKEN = "bench-webhook-token"


def payload(index: int, size: int) -> bytes:
    alerts = [alert(fingerprint=f"{index:08x}{n:08x}", pod=f"llama-{n}") for n in range(size)]
    return json.dumps(group(*alerts, group_key=f"bench-{index}")).encode()


async def drive(url: str, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one_worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

        await asyncio.gather(*(one_worker() for _ in range(concurrency)))
    return latencies


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--big-every", type=int, default=0, help="every Nth request has 50 alerts")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument(
        "--no-worker", action="store_true", help="measure the API alone; tasks stay queued"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="firebreak-bench-"))
    database_url = args.database_url or f"sqlite:///{home / 'bench.db'}"
    upgrade(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREBREAK_")}
    env.update(
        FIREBREAK_HOME=str(home),
        FIREBREAK_DATABASE_URL=database_url,
        FIREBREAK_REDIS_URL=args.redis_url,
        FIREBREAK_WEBHOOK_TOKEN=TOKEN,
    )
    port = free_port()
    cli = [sys.executable, "-m", "bot.cli"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": ROOT}
    api = subprocess.Popen([*cli, "api", "--port", str(port)], **quiet)  # type: ignore[call-overload]
    processes = [api]
    if not args.no_worker:
        worker_command = [*cli, "worker", "--concurrency", "1"]
        processes.append(subprocess.Popen(worker_command, **quiet))  # type: ignore[call-overload]
    try:
        wait_for(lambda: _up(port), timeout_s=30)
        sizes = [
            50 if args.big_every and i % args.big_every == 0 else 1 for i in range(args.requests)
        ]
        bodies = [payload(i, size) for i, size in enumerate(sizes)]
        url = f"http://127.0.0.1:{port}/webhooks/alertmanager"
        asyncio.run(drive(url, bodies[: min(200, len(bodies))], args.concurrency))  # warm-up
        started = time.perf_counter()
        latencies = asyncio.run(drive(url, bodies[200:], args.concurrency))
        elapsed = time.perf_counter() - started
        sent_alerts = sum(sizes)
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))

        def stored() -> tuple[int, int]:
            with engine.connect() as conn:
                alerts = conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()
                pending = conn.execute(
                    select(func.count()).where(t.outbox.c.dispatched_at.is_(None))
                ).scalar_one()
            return int(alerts), int(pending)

        wait_for(lambda: stored()[1] == 0, timeout_s=120, interval_s=0.5)
        alerts_stored, pending = stored()
        measured = sizes[200:]
        print(f"requests          {len(latencies)} at concurrency {args.concurrency}")
        print(
            f"mix               {measured.count(1)} x 1-alert, "
            f"{measured.count(50)} x 50-alert groups"
        )
        print(
            f"throughput        {len(latencies) / elapsed:,.0f} requests/s, "
            f"{sum(measured) / elapsed:,.0f} alerts/s"
        )
        print(
            f"latency (ms)      p50 {percentile(latencies, 50) * 1e3:.1f}  "
            f"p95 {percentile(latencies, 95) * 1e3:.1f}  p99 {percentile(latencies, 99) * 1e3:.1f}"
        )
        print(f"api peak RSS      {peak_rss_mib(api.pid):.0f} MiB")
        print(f"stored alerts     {alerts_stored} of {sent_alerts} sent; outbox pending {pending}")
        print("loss              " + ("none" if alerts_stored == sent_alerts else "LOST ALERTS"))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
