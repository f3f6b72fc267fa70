"""Triage's charts reach the incident's Slack thread (the upload v2 flow through the real
slack_sdk against the loopback Slack API), once each, and the HTML postmortem embeds the same
charts as data: URIs; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bot.adapters.console_chat import ConsoleChatClient
from bot.adapters.slack import SlackChatClient
from bot.adapters.sql_store import SqlStore
from bot.services.export_postmortem import render_postmortem
from bot.services.notify_incident import notify_incident
from bot.services.share_charts import share_charts
from bot.services.triage_incident import triage_incident
from tests.servers.slack import SlackServer
from tests.unit.test_correlation_engine import ALERT_AT, NOW, fleet
from tests.unit.test_storms import ingest, node_group


def triaged_incident(store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """A saturated llama-3-8b triaged with charts drawn under a relative `charts` folder."""
    incident_id = ingest(store, node_group(1, ALERT_AT, model_name="llama-3-8b"), ALERT_AT)
    monkeypatch.chdir(tmp_path)
    triage_incident(store, fleet(), incident_id, NOW, Path("charts"))
    return incident_id


def chart_paths(store: SqlStore, incident_id: int) -> list[str]:
    with store.transaction() as tx:
        report = tx.triages.get(incident_id) or {}
    return [str(p) for p in report.get("chart_paths") or []]


def test_charts_are_uploaded_into_the_thread_once_and_embedded_in_the_postmortem(
    store: SqlStore,
    chat: SlackChatClient,
    slack: SlackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each chart goes up once into the root message's thread, whatever the retries; the
    stored paths are absolute, and the HTML postmortem embeds the same bytes."""
    incident_id = triaged_incident(store, tmp_path, monkeypatch)
    paths = chart_paths(store, incident_id)
    assert paths
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in paths)
    state = notify_incident(store, chat, incident_id, now=NOW)
    notify_incident(store, chat, incident_id, now=NOW)
    assert state.ref is not None
    completed = slack.calls_to("files.completeUploadExternal")
    assert len(completed) == len(paths)
    for call in completed:
        assert (call.body["channel_id"], call.body["thread_ts"]) == (
            state.ref.channel,
            state.ref.ts,
        )
        assert call.body["files"][0]["title"].startswith("Triage chart: ")
    uploaded = {slack.upload_bytes(c.body["files"][0]["id"]) for c in completed}
    assert uploaded == {Path(p).read_bytes() for p in paths}
    page = render_postmortem(store, incident_id, "html").decode()
    for path in paths:
        encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        assert f'src="data:image/png;base64,{encoded}"' in page
    assert "Chart unavailable" not in page


def test_a_chart_this_process_cannot_read_is_named_not_uploaded(
    store: SqlStore, chat: SlackChatClient, slack: SlackServer, tmp_path: Path
) -> None:
    """A chart drawn on another machine is named in the thread as unavailable, once."""
    incident_id = ingest(store, node_group(2, ALERT_AT, model_name="llama-3-8b"), ALERT_AT)
    ref = notify_incident(store, chat, incident_id, now=NOW).ref
    assert ref is not None
    missing = str(tmp_path / "elsewhere" / "vllm_num_requests_waiting.png")
    assert share_charts(store, chat, incident_id, ref, [missing]) == 0
    assert share_charts(store, chat, incident_id, ref, [missing]) == 0
    lines = [c.body["text"] for c in slack.calls_to("chat.postMessage")]
    assert (
        lines.count(
            "Triage chart unavailable (vllm num requests waiting): "
            "vllm_num_requests_waiting.png is not readable here"
        )
        == 1
    )
    assert slack.calls_to("files.getUploadURLExternal") == []


def test_a_chat_without_files_gets_one_line_per_chart(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console chat (no Slack) names each chart file in the thread, once."""
    incident_id = triaged_incident(store, tmp_path, monkeypatch)
    console = ConsoleChatClient(tmp_path / "slack.log", "#incidents")
    notify_incident(store, console, incident_id, now=NOW)
    notify_incident(store, console, incident_id, now=NOW)
    log = (tmp_path / "slack.log").read_text(encoding="utf-8")
    for path in chart_paths(store, incident_id):
        assert log.count(path) == 1
