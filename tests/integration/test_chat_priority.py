"""A busy channel keeps its capacity for root messages and their edits: thread lines wait, are
queued for a later pass, and then go up together. The real Redis token bucket, the real
slack_sdk against the loopback Slack API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import select

from bot.adapters import sql_tables as t
from bot.adapters.redis_rate import RedisTokenBucket
from bot.adapters.slack import SlackChatClient
from bot.adapters.sql_rows import utc_now
from bot.adapters.sql_store import SqlStore
from bot.domain.task_names import TaskName
from bot.services.notify_incident import DETAILS_RETRY_MAX_S, notify_incident
from tests.integration.conftest import CHANNEL
from tests.servers.slack import SlackServer
from tests.unit.test_storms import START, ingest, node_group


def thread_posts(slack: SlackServer, ts: str) -> list[str]:
    calls = slack.calls_to("chat.postMessage")
    return [c.body["text"] for c in calls if c.body.get("thread_ts") == ts]


def delayed_passes(store: SqlStore, incident_id: int) -> list[float]:
    """Seconds from now until each pass over the incident queued for later is due."""
    query = select(t.outbox.c.created_at, t.outbox.c.args).where(
        t.outbox.c.task == TaskName.PROCESS_INCIDENT.value, t.outbox.c.dispatched_at.is_(None)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    due = [(r.created_at - utc_now()).total_seconds() for r in rows if r.args == [incident_id]]
    return [s for s in due if s > 1]


def test_thread_lines_yield_to_root_messages_and_follow_later(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, redis_url: str
) -> None:
    """With one token left, a second incident's root message goes up but its thread lines
    wait (half the burst stays for posts that cannot wait); a pass is queued for later, and
    once the channel has room that pass posts the lines, once."""
    client = redis.Redis.from_url(redis_url)
    pacer = RedisTokenBucket(client, rate_per_s=0.001, burst=3)
    first = ingest(store, node_group(1, model_name="llama-3-8b"), START)
    second = ingest(store, node_group(2, model_name="mistral-7b"), START)

    one = notify_incident(store, chat, first, pacer, CHANNEL, now=START)
    assert one.ref is not None
    assert thread_posts(slack, one.ref.ts)

    two = notify_incident(store, chat, second, pacer, CHANNEL, now=START)
    assert two.ref is not None  # the last token went to the root message
    assert thread_posts(slack, two.ref.ts) == []
    assert two.thread_mark == 0
    (due_in_s,) = delayed_passes(store, second)
    assert DETAILS_RETRY_MAX_S - 5 < due_in_s <= DETAILS_RETRY_MAX_S  # the bucket's wait, capped

    client.delete(pacer.key(CHANNEL))  # the channel has room again
    later = notify_incident(store, chat, second, pacer, CHANNEL, now=START + timedelta(seconds=6))
    lines = thread_posts(slack, two.ref.ts)
    assert len(lines) == 1
    assert "firing" in lines[0].lower()
    assert later.thread_mark > 0
    notify_incident(store, chat, second, pacer, CHANNEL, now=START + timedelta(seconds=7))
    assert len(thread_posts(slack, two.ref.ts)) == 1
