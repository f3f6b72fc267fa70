"""Postmortems shared into the incident's thread: uploaded to Slack, replaced on re-export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.adapters.console_chat import ConsoleChatClient
from bot.adapters.slack import SlackChatClient, slack_web_client
from bot.adapters.sql_store import SqlStore
from bot.domain.alerts import AlertGroup, delivery_hash
from bot.domain.cards import ChatState
from bot.ports import ChatClient
from bot.services.export_postmortem import share_postmortem, write_postmortem
from bot.services.ingest_alerts import ingest_alerts
from bot.services.notify_incident import build_card
from tests.payloads import alert, body, group
from tests.servers.slack import BOT_TOKEN, SlackServer


def open_incident(store: SqlStore, chat: ChatClient) -> int:
    payload = group(alert())
    raw = body(payload)
    now = datetime.now(UTC)
    [incident_id] = ingest_alerts(
        store, AlertGroup.model_validate(payload), delivery_hash(raw), now, timedelta(minutes=30)
    ).incident_ids
    card, _, _ = build_card(store, incident_id)
    with store.transaction() as tx:
        tx.chat_states.save(incident_id, ChatState(ref=chat.post_incident(card)))
    return incident_id


def test_re_export_replaces_the_uploaded_files(
    sqlite_store: SqlStore, slack: SlackServer, tmp_path: Path
) -> None:
    """Both formats land in the thread; exporting again deletes the first upload's files."""
    chat = SlackChatClient(slack_web_client(BOT_TOKEN, slack.api_url), "C0INCIDENTS")
    incident_id = open_incident(sqlite_store, chat)
    for _ in range(2):
        paths = write_postmortem(sqlite_store, incident_id, tmp_path / "pm", ("md", "html"))
        assert share_postmortem(sqlite_store, chat, incident_id, paths) == 2
    completed = slack.calls_to("files.completeUploadExternal")
    assert len(completed) == 4
    assert all(c.body.get("thread_ts") for c in completed)
    assert len(slack.calls_to("files.delete")) == 2
    assert len(slack.state.uploads) == 2
    assert sorted(p.name for p in (tmp_path / "pm").iterdir()) == [
        f"INC-{incident_id}.html",
        f"INC-{incident_id}.md",
    ]


def test_console_chat_gets_a_thread_line(sqlite_store: SqlStore, tmp_path: Path) -> None:
    """Without a chat that takes files, the thread names where the postmortem was written."""
    chat = ConsoleChatClient(tmp_path / "slack.log")
    incident_id = open_incident(sqlite_store, chat)
    paths = write_postmortem(sqlite_store, incident_id, tmp_path / "pm", ("md",))
    assert share_postmortem(sqlite_store, chat, incident_id, paths) == 0
    assert f"INC-{incident_id}.md" in (tmp_path / "slack.log").read_text()
