"""Alert → chat latency: from posting an Alertmanager delivery to the incident's root message
in Slack, and to the diagnosis ("Likely cause") shown in that message.

Firebreak runs production-style (`firebreak api`, `worker`, `beat`) on a scratch PostgreSQL
database and a private redis-server, posting through the real Slack SDK to the loopback Slack
Web API server (tests/servers/slack.py) at Slack's own pace for one channel (1 message/s
sustained is Slack's documented limit; `--slack-rate` raises it to measure Firebreak alone).
Prometheus is a loopback stub that answers every query at once with no data, so triage runs its
whole query plan and ends inconclusive; against a real Prometheus add triage's own query time
(bench/triage.py). Each delivery is its own group on its own model, so no two form a storm.
Not a test: figures, never a gate.

    python bench/alert_to_chat.py [--rate 10] [--seconds 60] [--slack-rate 20]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    answers,
    firebreak,
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
from tests.servers.empty_prometheus import EmptyPrometheus  # noqa: E402
from tests.servers.slack import BOT_TOKEN, SlackServer  # noqa: E402

TOKEN = "bench-webhook-token"
CHANNEL = "C0BENCH"
MODEL = re.compile(r"chat-bench-\d{5}")


def delivery(model: str) -> bytes:
    labels = {"alertname": "LLMHighTimeToFirstToken", "severity": "critical", "model_name": model}
    summary = f"TTFT p95 above 2 s on {model}"
    return webhook_body(
        {"model_name": model},
        labels,
        [firing_alert(labels, f"{model}-ttft", summary)],
        {"summary": summary},
    )


def send(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Post one delivery every 1/rate s on a fixed schedule; answer when each was posted."""
    posted: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.monotonic()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=10) as client:
        for index in range(total):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            model = f"chat-bench-{index:05d}"
            posted[model] = time.time()
            client.post(url, content=delivery(model), headers=headers).raise_for_status()
    return posted


def arrivals(slack: SlackServer) -> tuple[dict[str, float], dict[str, float]]:
    """Per model, when its root message was posted and when it first showed a diagnosis."""
    rooted: dict[str, float] = {}
    diagnosed: dict[str, float] = {}
    for call in slack.calls:
        if call.method not in {"chat.postMessage", "chat.update"} or call.body.get("thread_ts"):
            continue
        text = json.dumps(call.body)
        found = MODEL.search(text)
        if found is None or call.limited:
            continue
        model = found.group()
        if call.method == "chat.postMessage":
            rooted.setdefault(model, call.at)
        if "Likely cause" in text:
            diagnosed.setdefault(model, call.at)
    return rooted, diagnosed


def report(name: str, posted: dict[str, float], arrived: dict[str, float]) -> None:
    delays = [arrived[m] - posted[m] for m in posted if m in arrived]
    if not delays:
        print(f"{name:22} none arrived")
        return
    print(
        f"{name:22} {len(delays):5}/{len(posted)}  p50 {statistics.median(delays):6.2f} s  "
        f"p95 {percentile(delays, 95):6.2f} s  max {max(delays):6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0, help="deliveries a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--slack-rate", type=float, default=20.0, help="chat messages a second")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="firebreak-chat-"))
    with ExitStack() as stack:
        slack = SlackServer.start()
        stack.callback(slack.stop)
        prometheus = ThreadingHTTPServer(("127.0.0.1", 0), EmptyPrometheus)
        threading.Thread(target=prometheus.serve_forever, daemon=True).start()
        stack.callback(prometheus.shutdown)
        redis_url = stack.enter_context(private_redis(home))
        database_url = stack.enter_context(scratch_postgres("firebreak_chat"))
        upgrade(database_url)
        port = free_loopback_port()
        env = firebreak_env(
            home,
            database_url=database_url,
            redis_url=redis_url,
            webhook_token=TOKEN,
            slack_bot_token=BOT_TOKEN,
            slack_api_url=slack.api_url,
            slack_channel=CHANNEL,
            slack_rate_per_s=str(args.slack_rate),
            slack_burst=str(max(1, int(args.slack_rate))),
            prometheus_url=f"http://127.0.0.1:{prometheus.server_address[1]}",
            triage_follow_up_s="0",
        )
        for verb in (["api", "--port", str(port)], ["worker"], ["beat"]):
            stack.callback(stop, firebreak(verb, env, home / f"{verb[0]}.log"))
        wait_for(lambda: answers(port), 60, "firebreak api")
        posted = send(f"http://127.0.0.1:{port}/webhooks/alertmanager", args.rate, args.seconds)
        wait_for(lambda: len(arrivals(slack)[1]) >= len(posted), 300, "every diagnosis")
        rooted, diagnosed = arrivals(slack)
        print(
            f"{len(posted)} deliveries at {args.rate:g}/s, each its own incident; "
            f"chat paced at {args.slack_rate:g} messages/s; logs in {home}"
        )
        report("POST -> root message", posted, rooted)
        report("POST -> diagnosis", posted, diagnosed)


if __name__ == "__main__":
    main()
