"""Slack end to end: one live root message per incident, buttons that act, paced bursts."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from bot.domain.cards import MessageRef
from tests.e2e.conftest import API_TOKEN, WEBHOOK_TOKEN, Firebreak
from tests.payloads import alert, body, group
from tests.processes import wait_for
from tests.servers.slack import BOT_TOKEN, SlackServer, block_actions_body, signed_headers

SIGNING_SECRET = "e2e-signing-secret-0123456789"
CHANNEL = "C0INCIDENTS"
HOOK = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer.start()
    yield server
    server.stop()


def slack_stack(
    start: Callable[..., Firebreak], slack: SlackServer, **overrides: object
) -> Firebreak:
    return start(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        slack_channel=CHANNEL,
        **overrides,
    )


def root_ref(stack: Firebreak) -> MessageRef | None:
    with stack.api.container.store.transaction() as tx:
        return tx.chat_states.get(1).ref


def roots(slack: SlackServer) -> list[str]:
    return [
        c.body.get("text", "")
        for c in slack.calls_to("chat.postMessage")
        if not c.body.get("thread_ts")
    ]


def test_one_live_message_per_incident_driven_by_buttons(
    start_firebreak_stack: Callable[..., Firebreak], slack: SlackServer
) -> None:
    """An alert posts one root message; Acknowledge clicked in Slack and a resolve over the API
    edit that same message in place; nothing is posted as a new '[RESOLVED]' message."""
    stack = slack_stack(start_firebreak_stack, slack)
    httpx.post(stack.webhook_url, content=body(group(alert())), headers=HOOK)
    wait_for(lambda: roots(slack), 30)
    [root] = [c for c in slack.calls_to("chat.postMessage") if not c.body.get("thread_ts")]
    ref = wait_for(lambda: root_ref(stack), 10)
    click = block_actions_body("firebreak_ack", {"incident_id": 1}, "U0ALICE", slack.response_url())
    answer = httpx.post(
        f"{stack.api.url}/slack/events",
        content=click,
        headers=signed_headers(SIGNING_SECRET, click),
    )
    assert answer.status_code == 200
    wait_for(lambda: "acknowledged" in str(slack.message(CHANNEL, ref.ts)), 30)  # type: ignore[attr-defined]
    httpx.post(f"{stack.api.url}/api/v1/incidents/1/resolve", headers=API, json={"actor": "bob"})
    wait_for(lambda: "resolved" in str(slack.message(CHANNEL, ref.ts)).lower(), 30)  # type: ignore[attr-defined]
    assert len(roots(slack)) == 1
    assert "INC-1" in root.body["text"]
    detail = httpx.get(f"{stack.api.url}/api/v1/incidents/1", headers=API).json()
    assert detail["acknowledged_by"] == "U0ALICE"


def test_forged_signature_is_refused(
    start_firebreak_stack: Callable[..., Firebreak], slack: SlackServer
) -> None:
    """A click signed with the wrong secret is answered 401 and changes nothing."""
    stack = slack_stack(start_firebreak_stack, slack)
    httpx.post(stack.webhook_url, content=body(group(alert())), headers=HOOK)
    click = block_actions_body(
        "firebreak_ack", {"incident_id": 1}, "U0MALLORY", slack.response_url()
    )
    forged = httpx.post(
        f"{stack.api.url}/slack/events", content=click, headers=signed_headers("wrong", click)
    )
    assert forged.status_code == 401
    time.sleep(1)
    detail = httpx.get(f"{stack.api.url}/api/v1/incidents/1", headers=API).json()
    assert detail["status"] == "triggered"


def test_burst_of_thirty_incidents_is_paced_without_loss(
    start_firebreak_stack: Callable[..., Firebreak], slack: SlackServer
) -> None:
    """Thirty incidents on thirty models in one channel each get exactly one root message;
    Slack's 429s are retried after Retry-After, and the token bucket keeps posts within its
    rate."""
    stack = slack_stack(start_firebreak_stack, slack, slack_rate_per_s=10.0, slack_burst=3)
    slack.rate_limit(calls=4, retry_after_s=1)
    for i in range(30):  # thirty models: incidents of one model would form one storm
        model = f"model-{i:02d}"
        payload = group(
            alert(fingerprint=f"burst{i:02d}", model_name=model), group_key=f"burst-{i}"
        )
        for labels in (payload["groupLabels"], payload["commonLabels"]):
            labels["model_name"] = model
        assert httpx.post(stack.webhook_url, content=body(payload), headers=HOOK).status_code == 200
    wait_for(lambda: len(roots(slack)) >= 30, 120, interval_s=0.5)
    time.sleep(2)
    texts = roots(slack)
    incident_refs = Counter(re.search(r"INC-\d+", text).group(0) for text in texts)  # type: ignore[union-attr]
    assert len(texts) == 30
    assert sorted(incident_refs) == sorted(f"INC-{i}" for i in range(1, 31))
    assert set(incident_refs.values()) == {1}
    assert any(c.limited for c in slack.calls)
