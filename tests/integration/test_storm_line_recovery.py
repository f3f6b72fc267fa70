"""A storm member's thread line whose answer was lost is found in its lead's thread, not posted
twice; one that never landed is posted once; a killed worker's claim is taken over after its
lease. Real slack_sdk against the loopback fake, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.adapters.slack import INCIDENT_REPLY_EVENT_TYPE, SlackChatClient
from bot.adapters.sql_store import SqlStore
from bot.domain.cards import MessageRef
from bot.domain.errors import RateLimitedError, StepInFlightError, UpstreamUnavailableError
from bot.domain.storms import LOUD_MEMBERS
from bot.services.claim_post import uncertain_step
from bot.services.notify_incident import STORM_LINE_STEP, notify_incident
from tests.integration.conftest import CHANNEL
from tests.servers.slack import Call, SlackServer
from tests.unit.test_storms import START, ingest, node_group

MODEL = "llama-3-70b-instruct"


@pytest.fixture
def lead_ts(store: SqlStore, chat: SlackChatClient, slack: SlackServer) -> str:
    """A storm whose loud members (the lead first) have posted their root messages."""
    ids = [ingest(store, node_group(i, model_name=MODEL)) for i in range(LOUD_MEMBERS)]
    for incident_id in ids:
        notify(store, chat, incident_id)
    return str(slack.top_level_messages(CHANNEL)[0]["ts"])


@pytest.fixture
def quiet(store: SqlStore, lead_ts: str) -> int:
    """The storm's first quiet member, not yet notified."""
    return ingest(store, node_group(LOUD_MEMBERS, model_name=MODEL))


def notify(store: SqlStore, chat: SlackChatClient, incident_id: int, lease_s: float = 60) -> None:
    notify_incident(store, chat, incident_id, claim_lease_s=lease_s, now=START)


def line_posts(slack: SlackServer, incident_id: int) -> list[Call]:
    """chat.postMessage calls Slack acted on that posted this incident's thread line."""
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.body.get("thread_ts")
        and (c.body.get("metadata") or {}).get("event_payload") == {"incident_id": incident_id}
    ]


def lines_in_thread(slack: SlackServer, lead_ts: str, incident_id: int) -> list[dict[str, Any]]:
    """The lead thread's replies that are this incident's line, as they stand now."""
    prefix = f"INC-{incident_id} ["
    return [m for m in slack.thread_replies(CHANNEL, lead_ts) if m["text"].startswith(prefix)]


def ledger_states(store: SqlStore, incident_id: int) -> tuple[str | None, str | None]:
    with store.transaction() as tx:
        return (
            tx.ledger.state(incident_id, STORM_LINE_STEP),
            tx.ledger.state(incident_id, uncertain_step(STORM_LINE_STEP)),
        )


def line_ts(store: SqlStore, incident_id: int) -> object:
    with store.transaction() as tx:
        return (tx.ledger.result(incident_id, STORM_LINE_STEP) or {}).get("ts")


def test_a_line_whose_answer_was_lost_is_adopted(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, lead_ts: str, quiet: int
) -> None:
    """Slack posts the line but answers 503: the claim is released and the line marked
    uncertain; the retry finds it among the lead thread's replies by its metadata and keeps it."""
    slack.lose_next_answers(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify(store, chat, quiet)
    assert ledger_states(store, quiet) == (None, "completed")
    [posted] = line_posts(slack, quiet)
    assert posted.lost
    assert posted.body["metadata"]["event_type"] == INCIDENT_REPLY_EVENT_TYPE

    notify(store, chat, quiet)
    notify(store, chat, quiet)

    [line] = lines_in_thread(slack, lead_ts, quiet)
    assert len(line_posts(slack, quiet)) == 1
    [lookup] = slack.calls_to("conversations.replies")
    assert (lookup.body["channel"], lookup.body["ts"]) == (CHANNEL, lead_ts)
    assert ledger_states(store, quiet)[0] == "completed"
    assert line_ts(store, quiet) == line["ts"]
    assert len(slack.top_level_messages(CHANNEL)) == LOUD_MEMBERS


def test_a_line_that_never_landed_is_posted_once(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, lead_ts: str, quiet: int
) -> None:
    """A 503 with nothing posted: the retry looks in the lead's thread, finds nothing and posts
    the line once; later notifications change nothing."""
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify(store, chat, quiet)
    assert lines_in_thread(slack, lead_ts, quiet) == []

    notify(store, chat, quiet)
    notify(store, chat, quiet)

    [line] = lines_in_thread(slack, lead_ts, quiet)
    assert len(slack.calls_to("conversations.replies")) == 1
    assert line_ts(store, quiet) == line["ts"]
    assert len(slack.top_level_messages(CHANNEL)) == LOUD_MEMBERS


def test_a_rate_limited_line_is_not_uncertain(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, lead_ts: str, quiet: int
) -> None:
    """A 429 means Slack did not post: the retry posts without reading the thread."""
    slack.rate_limit(calls=1, retry_after_s=1)
    with pytest.raises(RateLimitedError):
        notify(store, chat, quiet)
    assert ledger_states(store, quiet) == (None, None)

    notify(store, chat, quiet)

    assert slack.calls_to("conversations.replies") == []
    assert len(line_posts(slack, quiet)) == 1


def test_a_line_claim_in_flight_is_left_alone_until_its_lease_runs_out(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, lead_ts: str, quiet: int
) -> None:
    """While another task holds the line's claim, a second one neither looks nor posts: it is
    told to come back when the lease may have run out (the incident is never left silent)."""
    with store.transaction() as tx:
        assert tx.ledger.claim(quiet, STORM_LINE_STEP)
    calls_before = len(slack.calls)

    with pytest.raises(StepInFlightError) as held:
        notify(store, chat, quiet, lease_s=60)

    assert 55 < held.value.retry_after_s <= 60
    assert len(slack.calls) == calls_before


def test_a_killed_workers_line_that_landed_is_adopted(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, lead_ts: str, quiet: int
) -> None:
    """A worker killed after Slack took the line but before the claim completed: once the
    lease has run out the next task finds the line in the lead's thread and adopts it."""
    with store.transaction() as tx:
        assert tx.ledger.claim(quiet, STORM_LINE_STEP)
    landed = chat.post_thread(
        MessageRef(CHANNEL, lead_ts), f"INC-{quiet} [warning]", incident_id=quiet
    )
    with pytest.raises(StepInFlightError):
        notify(store, chat, quiet, lease_s=0.5)
    time.sleep(0.6)

    notify(store, chat, quiet, lease_s=0.5)

    assert len(line_posts(slack, quiet)) == 1
    assert line_ts(store, quiet) == landed.ts
    assert ledger_states(store, quiet)[0] == "completed"


def test_a_killed_workers_line_that_never_landed_is_posted_once(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, lead_ts: str, quiet: int
) -> None:
    """A worker killed between claiming and posting: after the lease the next task looks,
    finds nothing, and posts the line once."""
    with store.transaction() as tx:
        assert tx.ledger.claim(quiet, STORM_LINE_STEP)
    time.sleep(0.6)

    notify(store, chat, quiet, lease_s=0.5)
    notify(store, chat, quiet, lease_s=0.5)

    [line] = lines_in_thread(slack, lead_ts, quiet)
    assert len(slack.calls_to("conversations.replies")) == 1
    assert line_ts(store, quiet) == line["ts"]
