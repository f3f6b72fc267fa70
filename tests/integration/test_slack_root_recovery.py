"""A root post whose answer was lost is found in Slack, not posted twice; one that never
landed is posted once. Real slack_sdk against the loopback fake, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.slack import SlackChatClient
from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.cards import MessageRef
from bot.domain.errors import RateLimitedError, StepInFlightError, UpstreamUnavailableError
from bot.domain.incidents import IncidentStatus
from bot.services.change_status import change_status
from bot.services.ingest_alerts import ingest_alerts
from bot.services.notify_incident import (
    ROOT_STEP,
    ROOT_UNCERTAIN_STEP,
    build_card,
    notify_incident,
)
from tests.integration.conftest import CHANNEL
from tests.payloads import alert, body, group
from tests.servers.slack import Call, SlackServer


@pytest.fixture
def incident_id(store: SqlStore) -> int:
    payload = group(alert())
    [opened] = ingest_alerts(
        store,
        AlertGroup.model_validate(payload),
        delivery_hash(body(payload)),
        datetime.now(UTC),
        timedelta(minutes=30),
    ).incident_ids
    return opened


def root_posts(slack: SlackServer, incident_id: int) -> list[Call]:
    """chat.postMessage calls Slack acted on that posted this incident's root message."""
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if not c.body.get("thread_ts")
        and (c.body.get("metadata") or {}).get("event_payload") == {"incident_id": incident_id}
    ]


def ledger_states(store: SqlStore, incident_id: int) -> tuple[str | None, str | None]:
    with store.transaction() as tx:
        return (
            tx.ledger.state(incident_id, ROOT_STEP),
            tx.ledger.state(incident_id, ROOT_UNCERTAIN_STEP),
        )


def saved_ts(store: SqlStore, incident_id: int) -> str | None:
    with store.transaction() as tx:
        ref = tx.chat_states.get(incident_id).ref
    return None if ref is None else ref.ts


def test_post_whose_answer_was_lost_is_adopted(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """Slack posts but answers 503: the task fails with the claim released and the post marked
    uncertain; the retry finds the message in the channel's history and keeps editing it."""
    slack.lose_next_answers(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify_incident(store, chat, incident_id)
    assert ledger_states(store, incident_id) == (None, "completed")
    [posted] = root_posts(slack, incident_id)
    assert posted.lost

    state = notify_incident(store, chat, incident_id)

    [root] = slack.top_level_messages(CHANNEL)
    assert len(root_posts(slack, incident_id)) == 1
    assert len(slack.calls_to("conversations.history")) == 1
    assert state.ref == MessageRef(CHANNEL, root["ts"])
    assert saved_ts(store, incident_id) == root["ts"]
    with store.transaction() as tx:
        assert tx.ledger.result(incident_id, ROOT_STEP) == {"channel": CHANNEL, "ts": root["ts"]}
    change_status(store, incident_id, IncidentStatus.ACKNOWLEDGED, "U0ALICE", datetime.now(UTC))
    notify_incident(store, chat, incident_id)
    assert {c.body["ts"] for c in slack.calls_to("chat.update")} == {root["ts"]}
    assert "acknowledged" in slack.message(CHANNEL, root["ts"])["text"]
    assert len(slack.top_level_messages(CHANNEL)) == 1


def test_post_that_never_landed_is_posted_once(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """A 503 with nothing posted: the retry looks, finds nothing and posts one root message."""
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify_incident(store, chat, incident_id)
    assert slack.top_level_messages(CHANNEL) == []

    state = notify_incident(store, chat, incident_id)

    assert len(slack.calls_to("conversations.history")) == 1
    [root] = slack.top_level_messages(CHANNEL)
    assert len(root_posts(slack, incident_id)) == 1
    assert state.ref == MessageRef(CHANNEL, root["ts"])
    assert ledger_states(store, incident_id) == ("completed", "completed")


def test_history_outage_releases_the_claim_without_posting(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """When Slack cannot show its history, nothing is posted blindly: the claim is released
    and the task fails; once Slack answers again, one root message is posted."""
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify_incident(store, chat, incident_id)
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify_incident(store, chat, incident_id)
    assert [c.method for c in slack.calls] == ["chat.postMessage", "conversations.history"]
    assert root_posts(slack, incident_id) == []
    assert ledger_states(store, incident_id) == (None, "completed")

    state = notify_incident(store, chat, incident_id)

    [root] = slack.top_level_messages(CHANNEL)
    assert len(root_posts(slack, incident_id)) == 1
    assert state.ref == MessageRef(CHANNEL, root["ts"])


def test_rate_limited_post_is_not_uncertain(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """A 429 means Slack did not post: the claim is released with no uncertainty to resolve,
    so the retry posts without reading the channel's history."""
    slack.rate_limit(calls=1, retry_after_s=1)
    with pytest.raises(RateLimitedError):
        notify_incident(store, chat, incident_id)
    assert ledger_states(store, incident_id) == (None, None)

    notify_incident(store, chat, incident_id)

    assert slack.calls_to("conversations.history") == []
    assert len(root_posts(slack, incident_id)) == 1


def test_claim_in_flight_keeps_an_uncertain_root_exclusive(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """While another task holds the root claim, a second task neither looks nor posts: it is
    told to come back when the claim's lease may have run out."""
    slack.lose_next_answers(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        notify_incident(store, chat, incident_id)
    with store.transaction() as tx:
        assert tx.ledger.claim(incident_id, ROOT_STEP)
    calls_before = len(slack.calls)

    with pytest.raises(StepInFlightError) as held:
        notify_incident(store, chat, incident_id, claim_lease_s=60)

    assert 55 < held.value.retry_after_s <= 60
    assert len(slack.calls) == calls_before
    assert ledger_states(store, incident_id) == ("claimed", "completed")


def kill_after_claim(store: SqlStore, chat: SlackChatClient, incident_id: int) -> None:
    """What a worker SIGKILLed mid-post leaves: the root claim open, no uncertainty mark."""
    with store.transaction() as tx:
        assert tx.ledger.claim(incident_id, ROOT_STEP)


def test_expired_claim_whose_post_landed_is_adopted(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """A worker killed after Slack posted but before the claim completed: once the claim's
    lease has run out, the next task finds the message by its metadata and adopts it."""
    kill_after_claim(store, chat, incident_id)
    chat.post_incident(build_card(store, incident_id)[0])
    with pytest.raises(StepInFlightError):
        notify_incident(store, chat, incident_id, claim_lease_s=0.5)
    time.sleep(0.6)

    state = notify_incident(store, chat, incident_id, claim_lease_s=0.5)

    [root] = slack.top_level_messages(CHANNEL)
    assert len(root_posts(slack, incident_id)) == 1
    assert state.ref == MessageRef(CHANNEL, root["ts"])
    assert ledger_states(store, incident_id)[0] == "completed"


def test_expired_claim_whose_post_never_happened_is_posted_once(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, incident_id: int
) -> None:
    """A worker killed between claiming and posting: after the lease, the next task looks,
    finds nothing and posts one root message; a later task changes nothing more."""
    kill_after_claim(store, chat, incident_id)
    time.sleep(0.6)

    state = notify_incident(store, chat, incident_id, claim_lease_s=0.5)
    notify_incident(store, chat, incident_id, claim_lease_s=0.5)

    assert len(slack.calls_to("conversations.history")) == 1
    [root] = slack.top_level_messages(CHANNEL)
    assert len(root_posts(slack, incident_id)) == 1
    assert state.ref == MessageRef(CHANNEL, root["ts"])
