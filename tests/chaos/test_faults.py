"""Faults heal with no manual step: every accepted alert is stored once, and every incident is
triaged once and posted to Slack once, through a Redis restart and SIGKILLed workers."""

from __future__ import annotations

import signal
import threading
import time

from bot.demo.monitoring import free_loopback_port
from tests.chaos.conftest import Chaos
from tests.processes import answers, start_firebreak, wait_for


def test_redis_restart_mid_stream(chaos: Chaos) -> None:
    """Redis restarts while alerts stream in and the worker holds unacknowledged tasks: the
    worker reconnects instead of exiting, and everything accepted is processed once."""
    chaos.hold_next_query(3.0)  # a triage in hand (acked late) while Redis goes away
    alerts = 12
    for i in range(alerts):
        assert chaos.post_alert(f"restart-{i}") == 200
        if i == alerts // 2:
            chaos.redis.stop()
        elif i == alerts // 2 + 3:
            chaos.redis.start()
        time.sleep(0.2)

    wait_for(lambda: chaos.settled(alerts), timeout_s=60, interval_s=0.5)

    [worker] = chaos.workers
    assert worker.process.poll() is None, worker.log()
    assert "Unrecoverable error" not in worker.log()
    chaos.assert_exactly_once(alerts)


def test_worker_killed_mid_triage(chaos: Chaos) -> None:
    """A worker SIGKILLed while a triage waits on Prometheus: a new worker gets the task after
    the visibility timeout and the incident is triaged and posted once."""
    held = chaos.hold_next_query(10.0)
    assert chaos.post_alert("triage-kill") == 200
    assert held.wait(timeout=20)
    chaos.workers[0].stop(signal.SIGKILL)
    for i in range(3):
        assert chaos.post_alert(f"after-triage-kill-{i}") == 200
    chaos.start_worker()

    wait_for(lambda: chaos.settled(4), timeout_s=60, interval_s=0.5)

    chaos.assert_exactly_once(4)


def test_worker_killed_mid_post(chaos: Chaos) -> None:
    """A worker SIGKILLed after Slack took the root post but before the ledger claim completed:
    once the claim's lease runs out the redelivered task finds the message by its metadata and
    adopts it; nothing is posted twice and no incident is left silent."""
    chaos.slack.hold_next_posts(calls=1, hold_s=10.0)
    assert chaos.post_alert("post-kill") == 200
    wait_for(lambda: chaos.root_posts(), timeout_s=30)
    chaos.workers[0].stop(signal.SIGKILL)
    chaos.start_worker()
    for i in range(3):
        assert chaos.post_alert(f"after-post-kill-{i}") == 200

    wait_for(lambda: chaos.settled(4), timeout_s=60, interval_s=0.5)

    chaos.assert_exactly_once(4)
    assert len(chaos.slack.calls_to("conversations.history")) >= 1


def test_api_killed_mid_stream_loses_and_doubles_nothing(chaos: Chaos) -> None:
    """`firebreak api` SIGKILLed while deliveries stream in, then restarted: every delivery
    re-sent as Alertmanager would (until a 2xx, and its repeats after) is stored once."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    api = start_firebreak(["api", "--port", str(port)], chaos.settings, chaos.log_dir)
    wait_for(lambda: answers(f"{url}/healthz"), timeout_s=30)
    names = [f"api-kill-{i}" for i in range(40)]
    answered: dict[str, int] = {}

    def stream() -> None:
        for name in names:
            answered[name] = chaos.post_alert(name, base_url=url, timeout_s=2)

    sender = threading.Thread(target=stream)
    sender.start()
    wait_for(lambda: len(answered) >= 10, timeout_s=30, interval_s=0.01)
    api.stop(signal.SIGKILL)  # while the sender is mid-delivery
    api = start_firebreak(["api", "--port", str(port)], chaos.settings, chaos.log_dir)
    sender.join(timeout=120)
    wait_for(lambda: answers(f"{url}/healthz"), timeout_s=30)
    for name in names:  # Alertmanager retries what failed and repeats what succeeded
        assert chaos.post_alert(name, base_url=url) == 200
    try:
        wait_for(lambda: chaos.settled(len(names)), timeout_s=90, interval_s=0.5)
        chaos.assert_exactly_once(len(names))
    finally:
        api.stop()
    assert any(code != 200 for code in answered.values())  # the kill really cut deliveries
