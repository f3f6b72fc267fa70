"""The bolt app on FastAPI, served by a real uvicorn, driven by requests signed as Slack signs them.

Slack's side is the loopback fake Web API (auth.test, response_url posts); the store is the
real SqlStore on SQLite; once-only claims live in the real local Redis (db 12).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI

from bot.adapters.redis_rate import RedisOnceGuard
from bot.adapters.sql_store import SqlStore
from bot.bootstrap import Container
from bot.domain.alerts import Severity
from bot.domain.errors import BrokerUnavailableError, NotFoundError
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.timeline import EventKind, TimelineEvent
from bot.settings import Settings
from bot.slack_app.app import create_slack_app, mount_slack
from bot.slack_app.authorisation import SlackAuthoriser
from bot.slack_app.deps import SlackDeps
from bot.summary.summary import Summary, SuspectedCause
from tests.processes import free_port, wait_for
from tests.servers.slack import (
    BOT_TOKEN,
    SlackServer,
    block_actions_body,
    signed_headers,
    slash_command_body,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
REDIS_URL = "redis://127.0.0.1:6379/12"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALICE, BOB, EVE = "U0ALICE", "U0BOB", "U0EVE"  # approver, operator, neither


@dataclass
class RecordingTaskQueue:
    """A TaskQueue that records what it was handed; `down` makes it refuse like a dead broker."""

    sent: list[tuple[str, list[Any]]] = field(default_factory=list)
    down: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enqueue(self, task: str, args: list[Any]) -> None:
        if self.down:
            raise BrokerUnavailableError("broker unreachable")
        with self.lock:
            self.sent.append((task, list(args)))

    def ping(self) -> None:
        if self.down:
            raise BrokerUnavailableError("broker unreachable")


class FakeRunbookPreview:
    """Two runbooks; a dry run answers fixed lines after `delay_s`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def catalogue(self) -> list[tuple[str, str]]:
        return [("scale-out", "add vLLM replicas"), ("failover", "shift traffic to standby")]

    def dry_run(self, incident_id: int, runbook: str) -> list[str]:
        time.sleep(self.delay_s)
        if runbook not in {"scale-out", "failover"}:
            raise NotFoundError(f"no runbook named {runbook}")
        return [f"1. scale llama-3-70b pool default 2 → 4 for INC-{incident_id}"]


@dataclass
class Harness:
    url: str
    slack: SlackServer
    store: SqlStore
    tasks: RecordingTaskQueue
    preview: FakeRunbookPreview
    incident_id: int

    def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a body to /slack/events signed exactly as Slack signs it."""
        sent = {**signed_headers(secret, body, timestamp), **(headers or {})}
        return httpx.post(f"{self.url}/slack/events", content=body, headers=sent, timeout=10)

    def command(self, text: str, user: str = ALICE, trigger: str | None = None) -> str:
        url = self.slack.response_url(f"cmd-{uuid.uuid4().hex[:8]}")
        return slash_command_body(text, user, url, trigger)

    def click(self, action_id: str, value: dict[str, Any], user: str = ALICE) -> str:
        url = self.slack.response_url(f"act-{uuid.uuid4().hex[:8]}")
        return block_actions_body(action_id, value, user, url)

    def responses(self) -> list[dict[str, Any]]:
        return [c.body for c in self.slack.calls_to("response_url")]

    def audit(self) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return tx.audit.for_incident(self.incident_id)


@pytest.fixture
def once_prefix() -> Iterator[str]:
    name = f"firebreak-test:{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def harness(
    make_settings: Callable[..., Settings], sqlite_store: SqlStore, once_prefix: str
) -> Iterator[Harness]:
    slack = SlackServer.start()
    settings = make_settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
    )
    with sqlite_store.transaction() as tx:
        incident = tx.incidents.add(
            Incident(
                id=0,
                receiver="firebreak",
                group_key='{}:{alertname="VllmQueueSaturated"}',
                title="vLLM queue saturated on llama-3-70b",
                severity=Severity.CRITICAL,
                status=IncidentStatus.TRIGGERED,
                triggered_at=T0,
                labels={"model_name": "llama-3-70b"},
            )
        )
        tx.timeline.append(
            TimelineEvent(incident.id, T0, EventKind.INCIDENT_OPENED, "incident opened")
        )
    tasks, preview = RecordingTaskQueue(), FakeRunbookPreview()
    deps = SlackDeps(
        store=sqlite_store,
        tasks=tasks,
        authoriser=SlackAuthoriser(approvers=[ALICE], operators=[BOB]),
        clock=lambda: datetime.now(UTC),
        claims=RedisOnceGuard(redis.Redis.from_url(REDIS_URL), prefix=once_prefix),
        runbooks=preview,
    )
    container = Container(settings)  # the bot token's client and the signature check
    web = FastAPI()
    mount_slack(
        web, create_slack_app(settings, deps, container.slack_web), container.slack_signatures
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=10)
    yield Harness(f"http://127.0.0.1:{port}", slack, sqlite_store, tasks, preview, incident.id)
    server.should_exit = True
    thread.join(timeout=10)
    slack.stop()


def sent_tasks(h: Harness, name: str) -> list[list[Any]]:
    return [args for task, args in h.tasks.sent if task == name]


def test_list_answers_from_the_store_ephemerally(harness: Harness) -> None:
    """`/firebreak list` answers the open incidents in the ack, as an ephemeral message."""
    response = harness.post(harness.command("list"))
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert f"INC-{harness.incident_id}" in json.dumps(body["blocks"])
    assert harness.tasks.sent == []


def test_show_answers_the_incident_card(harness: Harness) -> None:
    """`/firebreak show INC-n` answers the incident's header, fields and buttons."""
    body = harness.post(harness.command(f"show INC-{harness.incident_id}")).json()
    assert body["blocks"][0]["type"] == "header"
    assert "vLLM queue saturated" in body["blocks"][0]["text"]["text"]


def test_show_without_a_summary_yet_answers_an_offline_one(harness: Harness) -> None:
    """Before any summary is written, `show` makes the offline one on the spot."""
    blocks = json.dumps(harness.post(harness.command(f"show INC-{harness.incident_id}")).json())
    assert "What happened:" in blocks
    assert "Generated offline by Firebreak" in blocks
    assert "firebreak_summarise" in blocks


def test_show_answers_the_latest_summary_in_full(harness: Harness) -> None:
    """`show` answers the newest recorded summary, every section of it, not the first one."""
    for what in ("an early story", "the latest story"):
        summary = Summary(
            what,
            "TTFT p95 above 2.5 s",
            SuspectedCause("KV cache full", "capacity_saturation", 0.9),
            ("scaled out",),
            "mitigated",
            ("watch the queue",),
        )
        with harness.store.transaction() as tx:
            tx.timeline.append(
                TimelineEvent(
                    harness.incident_id,
                    T0,
                    EventKind.SUMMARY,
                    summary.as_text(),
                    {"summary": summary.to_dict(), "reason": "mitigated"},
                )
            )
    blocks = json.dumps(harness.post(harness.command(f"show INC-{harness.incident_id}")).json())
    assert "the latest story" in blocks
    assert "an early story" not in blocks
    assert "watch the queue" in blocks


def test_summarise_button_queues_one_summary_per_double_click(harness: Harness) -> None:
    """Summarise queues the summary task with the clicker; a second click is a repeat."""
    value = {"incident_id": harness.incident_id}
    harness.post(harness.click("firebreak_summarise", value, user=EVE))
    harness.post(harness.click("firebreak_summarise", value, user=EVE))
    wait_for(lambda: len(harness.responses()) == 2, timeout_s=5)
    assert sent_tasks(harness, "firebreak.summary.incident") == [
        [harness.incident_id, "on demand", EVE]
    ]
    answers = sorted(r["text"] for r in harness.responses())
    assert answers[0].startswith("Already requested: summarise INC-")
    assert answers[1].startswith("On it: summarise INC-")


def test_wrong_usage_answers_the_usage(harness: Harness) -> None:
    """A malformed command is answered ephemerally with the right usage."""
    body = harness.post(harness.command("ack")).json()
    assert body["response_type"] == "ephemeral"
    assert "/firebreak ack INC-" in body["text"]


def test_ack_is_recorded_and_handed_to_a_task_within_three_seconds(harness: Harness) -> None:
    """`ack INC-n` answers in under 3 s, audits the request and enqueues the ack task."""
    started = time.monotonic()
    response = harness.post(harness.command(f"ack INC-{harness.incident_id}", user=EVE))
    assert time.monotonic() - started < 3.0
    assert response.status_code == 200
    assert "On it: acknowledge" in response.json()["text"]
    wait_for(lambda: sent_tasks(harness, "firebreak.incidents.ack"), timeout_s=5)
    assert sent_tasks(harness, "firebreak.incidents.ack") == [[harness.incident_id, EVE]]
    assert [a["action"] for a in harness.audit()] == ["ack_requested"]


def test_forged_signature_is_rejected(harness: Harness) -> None:
    """A body signed with another secret gets 401 and does nothing."""
    body = harness.command(f"resolve INC-{harness.incident_id}")
    response = harness.post(body, secret="not-the-signing-secret")
    assert response.status_code == 401
    assert harness.tasks.sent == []


def test_stale_timestamp_is_rejected(harness: Harness) -> None:
    """A correctly signed request older than five minutes gets 401 (replay protection)."""
    body = harness.command(f"resolve INC-{harness.incident_id}")
    response = harness.post(body, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    assert harness.tasks.sent == []


def test_retried_delivery_acts_once(harness: Harness) -> None:
    """Slack re-sending the same request (X-Slack-Retry-Num) queues the task only once."""
    body = harness.command(f"resolve INC-{harness.incident_id}", trigger="111.222.retried")
    first = harness.post(body)
    again = harness.post(body, headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "x"})
    assert first.status_code == again.status_code == 200
    assert "Already requested" in again.json()["text"]
    time.sleep(0.3)
    assert len(sent_tasks(harness, "firebreak.incidents.resolve")) == 1


def test_double_clicked_approve_acts_once(harness: Harness) -> None:
    """Two clicks on Approve (two deliveries) approve the run once; the second is told so."""
    value = {"incident_id": harness.incident_id, "run_id": 41}
    assert harness.post(harness.click("firebreak_approve", value)).status_code == 200
    assert harness.post(harness.click("firebreak_approve", value)).status_code == 200
    wait_for(lambda: len(harness.responses()) == 2, timeout_s=5)
    assert sent_tasks(harness, "firebreak.runbooks.approve") == [[41, ALICE]]
    texts = sorted(r["text"] for r in harness.responses())
    assert texts[0].startswith("On it: approve RUN-41")
    assert texts[1] == "RUN-41 already has an approval decision requested."


def test_approve_then_deny_of_one_run_acts_once(harness: Harness) -> None:
    """The first decision on a run wins; a deny clicked after an approve queues nothing."""
    value = {"incident_id": harness.incident_id, "run_id": 42}
    harness.post(harness.command("approve RUN-42"))
    response = harness.post(harness.click("firebreak_deny", value))
    assert response.status_code == 200
    wait_for(lambda: harness.responses(), timeout_s=5)
    assert harness.responses()[0]["text"] == "RUN-42 already has an approval decision requested."
    assert [task for task, _ in harness.tasks.sent] == ["firebreak.runbooks.approve"]


def test_approval_by_a_non_approver_is_refused_and_audited(harness: Harness) -> None:
    """An operator clicking Approve is refused ephemerally; the refusal is in the audit log."""
    value = {"incident_id": harness.incident_id, "run_id": 41}
    harness.post(harness.click("firebreak_approve", value, user=BOB))
    wait_for(lambda: harness.responses(), timeout_s=5)
    (answer,) = harness.responses()
    assert answer["text"].startswith("Refused: only Firebreak approvers")
    assert answer["response_type"] == "ephemeral"
    (refusal,) = harness.audit()
    assert refusal["action"] == "refused"
    assert refusal["actor"] == BOB
    assert refusal["detail"]["run_id"] == 41
    assert harness.tasks.sent == []


def test_run_shows_a_dry_run_plan_then_confirm_starts_it(harness: Harness) -> None:
    """`run` acks at once, sends the plan with Confirm/Cancel, and Confirm queues the start."""
    response = harness.post(harness.command(f"run scale-out INC-{harness.incident_id}", user=BOB))
    assert "Planning run scale-out" in response.json()["text"]
    wait_for(lambda: harness.responses(), timeout_s=5)
    (plan,) = harness.responses()
    buttons = {e["action_id"]: e for e in plan["blocks"][-1]["elements"]}
    assert set(buttons) == {"firebreak_confirm_run", "firebreak_cancel_run"}
    assert "default 2 → 4" in json.dumps(plan["blocks"], ensure_ascii=False)
    assert harness.tasks.sent == []
    value = json.loads(buttons["firebreak_confirm_run"]["value"])
    harness.post(harness.click("firebreak_confirm_run", value, user=BOB))
    wait_for(lambda: sent_tasks(harness, "firebreak.runbooks.start"), timeout_s=5)
    assert sent_tasks(harness, "firebreak.runbooks.start") == [
        [harness.incident_id, "scale-out", BOB]
    ]
    assert harness.responses()[-1]["replace_original"] is True


def test_run_by_a_stranger_is_refused_before_planning(harness: Harness) -> None:
    """Someone who is not an operator cannot even see a plan; the refusal is audited."""
    body = harness.post(harness.command(f"run scale-out INC-{harness.incident_id}", user=EVE))
    assert body.json()["text"].startswith("Refused: only Firebreak operators")
    assert [a["action"] for a in harness.audit()] == ["refused"]


def test_slow_planning_still_acks_within_three_seconds(harness: Harness) -> None:
    """A dry run slower than Slack's 3 s window does not delay the ack; the plan follows."""
    harness.preview.delay_s = 3.2
    started = time.monotonic()
    response = harness.post(harness.command(f"run failover INC-{harness.incident_id}", user=BOB))
    assert time.monotonic() - started < 3.0
    assert response.status_code == 200
    wait_for(lambda: harness.responses(), timeout_s=10)


def test_pause_and_resume_need_an_operator(harness: Harness) -> None:
    """Operators pause and resume runbooks; a stranger's pause is refused."""
    harness.post(harness.command("pause", user=EVE))
    harness.post(harness.command("pause", user=BOB))
    harness.post(harness.command("resume", user=ALICE))
    wait_for(lambda: len(harness.tasks.sent) == 2, timeout_s=5)
    assert sent_tasks(harness, "firebreak.runbooks.pause") == [[BOB]]
    assert sent_tasks(harness, "firebreak.runbooks.resume") == [[ALICE]]


def test_timeline_button_answers_the_timeline(harness: Harness) -> None:
    """The Timeline button answers the incident's events through the response_url."""
    harness.post(harness.click("firebreak_timeline", {"incident_id": harness.incident_id}))
    wait_for(lambda: harness.responses(), timeout_s=5)
    assert "incident opened" in json.dumps(harness.responses()[0]["blocks"])


def test_postmortem_command_queues_the_upload(harness: Harness) -> None:
    """`postmortem INC-n` queues the postmortem upload task with the actor."""
    harness.post(harness.command(f"postmortem INC-{harness.incident_id}", user=EVE))
    wait_for(lambda: harness.tasks.sent, timeout_s=5)
    assert harness.tasks.sent == [("firebreak.postmortem.upload", [harness.incident_id, EVE])]


def test_unknown_incident_is_answered_and_nothing_queued(harness: Harness) -> None:
    """Acking an incident that does not exist says so and queues nothing."""
    body = harness.post(harness.command("ack INC-999")).json()
    assert body["text"] == "INC-999 does not exist."
    time.sleep(0.2)
    assert harness.tasks.sent == []


def test_broker_down_keeps_the_request_in_the_outbox(harness: Harness) -> None:
    """With the broker down the ack still answers 200 and the task waits in the outbox."""
    harness.tasks.down = True
    response = harness.post(harness.command(f"resolve INC-{harness.incident_id}"))
    assert response.status_code == 200
    assert "On it: resolve" in response.json()["text"]
    time.sleep(0.3)
    with harness.store.transaction() as tx:
        pending = tx.outbox.pending()
    assert [(task, args) for _, task, args in pending] == [
        ("firebreak.incidents.resolve", [harness.incident_id, ALICE])
    ]
