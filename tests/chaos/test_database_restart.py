"""PostgreSQL restarts while alerts stream in: the webhook answers 503 while the database is
away, Alertmanager re-sends, and once it is back every alert is stored once and every incident
triaged and posted once, with API, worker and beat still the same processes."""

from __future__ import annotations

import threading
import time

from tests.chaos.conftest import Chaos
from tests.processes import answers as answers_ready
from tests.processes import wait_for


def test_postgres_restart_mid_stream(chaos_on_postgres: Chaos) -> None:
    """PostgreSQL stops for a few seconds mid-stream and starts again: deliveries during the
    outage are refused with 503 and accepted on re-send; nothing is lost or doubled, and no
    process needs a restart."""
    chaos = chaos_on_postgres
    postgres = chaos.postgres
    assert postgres is not None
    names = [f"pg-restart-{i}" for i in range(16)]
    answers: dict[str, list[int]] = {name: [] for name in names}

    def stream() -> None:  # re-send each group until a 2xx, as Alertmanager retries a 5xx
        deadline = time.monotonic() + 90
        for name in names:
            while time.monotonic() < deadline:
                answers[name].append(chaos.post_alert(name, timeout_s=10))
                if answers[name][-1] == 200:
                    break
                time.sleep(0.25)
            time.sleep(0.2)

    sender = threading.Thread(target=stream)
    sender.start()
    wait_for(lambda: sum(200 in codes for codes in answers.values()) >= 6, timeout_s=60)
    held = chaos.hold_next_query(2.5)  # a triage in hand, to be saved while the database is away
    assert held.wait(timeout=30)
    postgres.stop()
    wait_for(lambda: any(503 in codes for codes in answers.values()), timeout_s=30)
    time.sleep(3)  # the outage lasts a few seconds while deliveries keep arriving
    postgres.start()
    sender.join(timeout=120)
    assert not sender.is_alive()

    wait_for(lambda: chaos.settled(len(names)), timeout_s=90, interval_s=0.5)

    chaos.assert_exactly_once(len(names))
    assert all(codes[-1] == 200 for codes in answers.values()), answers
    assert {code for codes in answers.values() for code in codes} <= {200, 503}, answers
    for child in [*chaos.workers, chaos.beat]:
        assert child is not None
        assert child.process.poll() is None, child.log()
    assert len(chaos.workers) == 1
    assert answers_ready(f"{chaos.api.url}/readyz")
