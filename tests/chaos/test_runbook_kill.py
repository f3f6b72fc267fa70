"""A worker SIGKILLed while a runbook step waits on its target: a new worker finds the step in
doubt, confirms it against the target's state instead of acting again, and the run finishes;
the target saw the action once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.demo.fast_runbooks import write_fast_runbooks, write_targets
from bot.domain.runbooks import RunState
from bot.settings import Settings
from simulator.server import start_in_thread
from tests.chaos.conftest import Chaos, running_stack
from tests.payloads import alert, group
from tests.processes import wait_for
from tests.servers.control_proxy import ControlProxy

MODEL = "llama-3-70b-instruct"  # a model the simulated fleet serves
# Scale-out matched on its alert alone: it runs unattended with no consent from triage (the
# chaos Prometheus has no data), and without verification, which no data could never pass.
LABELS_ONLY_SCALE_OUT = {"scale-out": {"match": {"matchers": ['alertname="LLMKVCacheSaturated"']}}}


@pytest.fixture
def fleet_proxy() -> Iterator[ControlProxy]:
    """The simulated fleet's control API behind a proxy that holds the first replicas answer."""
    simulator = start_in_thread(seed=5, speed=1.0)
    proxy = ControlProxy(simulator.url, stall="/replicas")
    yield proxy
    proxy.stop()
    simulator.stop()


@pytest.fixture
def chaos_with_runbooks(
    make_settings: Callable[..., Settings], tmp_path: Path, fleet_proxy: ControlProxy
) -> Iterator[Chaos]:
    """The chaos stack with the shipped runbooks made fast, acting on the proxied fleet."""
    runbooks = write_fast_runbooks(
        tmp_path / "runbooks", without_verify=["scale-out"], overrides=LABELS_ONLY_SCALE_OUT
    )
    with running_stack(
        make_settings,
        tmp_path,
        f"sqlite:///{tmp_path / 'firebreak.db'}",
        runbooks_dir=runbooks,
        targets_file=write_targets(tmp_path / "targets.yml", fleet_proxy.url),
    ) as stack:
        yield stack


def test_worker_killed_mid_runbook_step(
    chaos_with_runbooks: Chaos, fleet_proxy: ControlProxy
) -> None:
    """The scale call reached the fleet, then the worker (pool included) was SIGKILLed before
    the answer came back: a new worker confirms the step from the fleet's state, never calls
    the control API's setter again, and the run succeeds; the incident is posted once."""
    chaos = chaos_with_runbooks
    payload = group(alert(fingerprint="runbook-kill", service="llm-serving"), group_key="rb-kill")
    assert chaos.post_group(payload) == 200
    assert fleet_proxy.stalled.wait(60)
    chaos.kill_worker(chaos.workers[0])
    fleet_proxy.release()
    chaos.start_worker()

    runs = chaos.api.container.runs
    wait_for(lambda: [r.state for r in runs.for_incident(1)] == [RunState.SUCCEEDED], 90, 0.5)
    wait_for(lambda: chaos.settled(1), timeout_s=30, interval_s=0.5)

    assert fleet_proxy.puts("/replicas") == 1
    assert [m for m, _ in fleet_proxy.calls if m != "GET"] == ["PUT"]
    with chaos.store.transaction() as tx:
        messages = [e.message for e in tx.timeline.for_incident(1)]
    assert any("confirmed after a crash" in m for m in messages), messages
    done = [m for m in messages if " step " in m and (" done" in m or "confirmed" in m)]
    assert len(done) == len(set(done)), done

    def notified() -> list[str]:  # the runbook's notify step, threaded under the root message
        posts = chaos.slack.calls_to("chat.postMessage")
        return [c.body["text"] for c in posts if "primary pool out to" in str(c.body)]

    wait_for(notified, timeout_s=30, interval_s=0.5)
    assert len(notified()) == 1
    chaos.assert_exactly_once(1)
