"""A storm in chat: the lead's message counts the storm, members past the first few are one line
in its thread (once, whatever retries), and a member that escalates gets its own message. Real
slack_sdk against the loopback fake Slack API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.slack import SlackChatClient
from bot.adapters.sql_store import SqlStore
from bot.adapters.unconfigured_metrics import UnconfiguredMetricsSource
from bot.domain.errors import StepInFlightError, UpstreamUnavailableError
from bot.domain.incidents import IncidentStatus
from bot.domain.storms import LOUD_MEMBERS
from bot.services.change_status import change_status
from bot.services.notify_incident import STORM_LINE_STEP, notify_incident
from bot.services.triage_incident import triage_incident
from tests.integration.conftest import CHANNEL
from tests.servers.slack import Call, SlackServer
from tests.unit.test_storms import START, ingest, node_group

MODEL = "llama-3-70b-instruct"
STORM = 30


def storm(store: SqlStore, size: int = STORM, **labels: str) -> list[int]:
    """`size` warning incidents on one model, ingested in order (the first leads)."""
    return [ingest(store, node_group(i, model_name=MODEL, **labels)) for i in range(size)]


def notify(store: SqlStore, chat: SlackChatClient, incident_id: int) -> None:
    notify_incident(store, chat, incident_id, now=START)


def root_posts(slack: SlackServer) -> list[Call]:
    return [c for c in slack.calls_to("chat.postMessage") if not c.body.get("thread_ts")]


def thread_lines(slack: SlackServer, lead_ts: str, ref: str) -> list[Call]:
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.body.get("thread_ts") == lead_ts and c.body["text"].startswith(f"{ref} [")
    ]


def test_a_storm_posts_a_few_root_messages_and_one_thread_line_per_quiet_member(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer
) -> None:
    """Thirty incidents on one model, each notified twice (as redelivery would): at most four
    root posts, one thread line per quiet member under the lead, and the lead's message edited
    to count the storm."""
    ids = storm(store)
    for incident_id in ids + ids:
        notify(store, chat, incident_id)
    posts = root_posts(slack)
    assert len(posts) == LOUD_MEMBERS <= 4
    lead_ts = slack.top_level_messages(CHANNEL)[0]["ts"]
    for incident_id in ids[LOUD_MEMBERS:]:
        assert len(thread_lines(slack, lead_ts, f"INC-{incident_id}")) == 1
    notify(store, chat, ids[0])
    lead = slack.message(CHANNEL, lead_ts)
    storm_block = next(b for b in lead["blocks"] if "*Storm*" in b.get("text", {}).get("text", ""))
    assert (
        f"{STORM} incidents on model_name={MODEL}, led by INC-{ids[0]}"
        in (storm_block["text"]["text"])
    )


def test_an_escalating_member_gets_its_own_root_message(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer
) -> None:
    """A critical member of a warning storm posts its own message; a quiet member acknowledged on
    its own gets one on its next notification, after its thread line."""
    ids = storm(store, 6)
    critical = ingest(store, node_group(99, model_name=MODEL, severity="critical"))
    for incident_id in [*ids, critical]:
        notify(store, chat, incident_id)
    assert len(root_posts(slack)) == LOUD_MEMBERS + 1
    quiet = ids[-1]
    change_status(store, quiet, IncidentStatus.ACKNOWLEDGED, "U1", datetime.now(UTC))
    notify(store, chat, quiet)
    assert len(root_posts(slack)) == LOUD_MEMBERS + 2
    assert "INC-" + str(quiet) in root_posts(slack)[-1].body["text"]


def test_a_quiet_member_waits_for_its_leads_message(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, tmp_path: Path
) -> None:
    """Once triage related the storm, a quiet member notified before its lead has a message
    posts nothing and asks to come back."""
    ids = storm(store, LOUD_MEMBERS + 1)
    for incident_id in ids:
        triage_incident(store, UnconfiguredMetricsSource(), incident_id, START, tmp_path)
    for incident_id in ids[1:LOUD_MEMBERS]:
        notify(store, chat, incident_id)
    with pytest.raises(StepInFlightError):
        notify(store, chat, ids[-1])
    assert len(root_posts(slack)) == LOUD_MEMBERS - 1


def test_thread_lines_whose_answers_were_lost_are_neither_missing_nor_doubled(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer
) -> None:
    """Slack takes every quiet member's line but loses each answer: the retries find the lines
    in the lead's thread, so each member shows exactly one line and no root message."""
    ids = storm(store, LOUD_MEMBERS + 4)
    for incident_id in ids[:LOUD_MEMBERS]:
        notify(store, chat, incident_id)
    lead_ts = slack.top_level_messages(CHANNEL)[0]["ts"]
    for incident_id in ids[LOUD_MEMBERS:]:
        slack.lose_next_answers(1, status=504)
        with pytest.raises(UpstreamUnavailableError):
            notify(store, chat, incident_id)
    for incident_id in ids[LOUD_MEMBERS:] * 2:
        notify(store, chat, incident_id)
    for incident_id in ids[LOUD_MEMBERS:]:
        assert len(thread_lines(slack, lead_ts, f"INC-{incident_id}")) == 1
        with store.transaction() as tx:
            assert tx.ledger.state(incident_id, STORM_LINE_STEP) == "completed"
    assert len(slack.calls_to("conversations.replies")) == 4
    assert len(root_posts(slack)) == LOUD_MEMBERS
