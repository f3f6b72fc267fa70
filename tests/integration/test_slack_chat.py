"""SlackChatClient through the real slack_sdk WebClient against the loopback fake Slack API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from structlog.testing import capture_logs

from bot.adapters.slack import (
    HISTORY_MAX_PAGES,
    HISTORY_PAGE_SIZE,
    INCIDENT_REPLY_EVENT_TYPE,
    REPLIES_PAGE_SIZE,
    SlackChatClient,
    SlackRejectedError,
    SlackUserGroups,
)
from bot.domain.alerts import Severity
from bot.domain.cards import IncidentCard, MessageRef
from bot.domain.errors import RateLimitedError, UpstreamUnavailableError
from bot.domain.incidents import Incident, IncidentStatus
from bot.ports import ChatClient, FileUploader
from bot.settings import Settings
from tests.servers.slack import BOT_TOKEN, SlackServer, channel_id

CHANNEL = "C0INCIDENTS"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_client(slack: SlackServer, token: str = BOT_TOKEN, **kw: Any) -> SlackChatClient:
    web = WebClient(token=token, base_url=slack.api_url, timeout=5)
    return SlackChatClient(web, CHANNEL, **kw)


def make_card(
    status: IncidentStatus = IncidentStatus.TRIGGERED, incident_id: int = 3, **kw: Any
) -> IncidentCard:
    incident = Incident(
        id=incident_id,
        receiver="firebreak",
        group_key="{}:{}",
        title="TTFT p99 above 2s on llama-3-70b",
        severity=Severity.CRITICAL,
        status=status,
        triggered_at=T0,
    )
    return IncidentCard(incident=incident, alert_count=2, firing_count=2, **kw)


def test_adapter_satisfies_chat_and_file_ports(slack: SlackServer) -> None:
    """SlackChatClient is usable wherever a ChatClient or a FileUploader is expected."""
    client = make_client(slack)
    chat: ChatClient = client
    uploader: FileUploader = client
    assert chat is uploader


def test_from_settings_uses_token_channel_and_api_url(
    slack: SlackServer, make_settings: Callable[..., Settings]
) -> None:
    """The client built from settings posts to FIREBREAK_SLACK_CHANNEL via SLACK_API_URL."""
    settings = make_settings(
        slack_bot_token=BOT_TOKEN, slack_channel="C0OTHER", slack_api_url=slack.api_url
    )
    ref = SlackChatClient.from_settings(settings).post_incident(make_card())
    assert ref.channel == "C0OTHER"


def test_post_incident_sends_blocks_with_the_bot_token(slack: SlackServer) -> None:
    """The root post carries text, Block Kit blocks and the bearer token; its ref comes back."""
    ref = make_client(slack).post_incident(make_card())
    assert ref.channel == CHANNEL
    (call,) = slack.calls_to("chat.postMessage")
    assert call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.body["channel"] == CHANNEL
    assert "INC-3" in call.body["text"]
    assert call.body["blocks"][0]["type"] == "header"


def test_update_edits_the_same_message_in_place(slack: SlackServer) -> None:
    """Resolving edits the root message (same ts); no new message is posted."""
    client = make_client(slack)
    ref = client.post_incident(make_card())
    client.update_incident(ref, make_card(IncidentStatus.RESOLVED))
    assert len(slack.calls_to("chat.postMessage")) == 1
    (update,) = slack.calls_to("chat.update")
    assert update.body["ts"] == ref.ts
    message = slack.message(ref.channel, ref.ts)
    assert message["blocks"][0]["text"]["text"].startswith(":white_check_mark:")
    action_ids = {e["action_id"] for e in message["blocks"][-1]["elements"]}
    assert action_ids == {"firebreak_summarise", "firebreak_timeline", "firebreak_postmortem"}


def test_thread_reply_goes_under_the_root_message(slack: SlackServer) -> None:
    """A thread post sets thread_ts to the root ts and answers its own ref."""
    client = make_client(slack)
    ref = client.post_incident(make_card())
    reply = client.post_thread(ref, "12:00:05 scale-out started <@U1>")
    assert reply.ts != ref.ts
    message = slack.message(reply.channel, reply.ts)
    assert message["thread_ts"] == ref.ts
    assert "&lt;@U1&gt;" in message["text"]


def test_everything_sent_passes_the_redactor(slack: SlackServer, tmp_path: Path) -> None:
    """Root text, blocks, thread text, file title and text-file content are all redacted."""
    client = make_client(slack, redact=lambda s: s.replace("sk-live-123", "[REDACTED]"))
    ref = client.post_incident(make_card(summary="key sk-live-123 in logs"))
    client.post_thread(ref, "token sk-live-123")
    report = tmp_path / "postmortem.md"
    report.write_text("# INC-3\napi key sk-live-123\n", encoding="utf-8")
    file_id = client.upload_file(ref, report, "INC-3 sk-live-123")
    sent = repr([c.body for c in slack.calls]) + slack.upload_bytes(file_id).decode()
    assert "sk-live-123" not in sent
    assert "[REDACTED]" in sent


def test_upload_file_uses_the_v2_flow_into_the_thread(slack: SlackServer, tmp_path: Path) -> None:
    """A chart is uploaded to the issued URL and shared into the incident's thread."""
    client = make_client(slack)
    ref = client.post_incident(make_card())
    chart = tmp_path / "ttft.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    file_id = client.upload_file(ref, chart, "TTFT p99")
    assert [c.method for c in slack.calls[-3:]] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert slack.upload_bytes(file_id) == chart.read_bytes()
    complete = slack.calls_to("files.completeUploadExternal")[0]
    assert complete.body["channel_id"] == ref.channel
    assert complete.body["thread_ts"] == ref.ts


def test_chart_url_adds_an_image_block(slack: SlackServer) -> None:
    """With a public chart URL for the card's chart, the root message shows it."""
    client = make_client(slack, chart_url=lambda path: f"https://charts.example.com/{path}")
    client.post_incident(make_card(chart_paths=("inc-3-ttft.png",)))
    blocks = slack.calls_to("chat.postMessage")[0].body["blocks"]
    images = [b for b in blocks if b["type"] == "image"]
    assert images[0]["image_url"] == "https://charts.example.com/inc-3-ttft.png"


def test_429_becomes_rate_limited_with_retry_after(slack: SlackServer) -> None:
    """HTTP 429 with Retry-After: 7 raises RateLimitedError(retry_after_s=7)."""
    slack.rate_limit(calls=1, retry_after_s=7)
    with capture_logs() as logs, pytest.raises(RateLimitedError) as caught:
        make_client(slack).post_incident(make_card())
    assert caught.value.retry_after_s == 7.0
    assert slack.calls_to("chat.postMessage") == []
    assert {
        "event": "slack_rate_limited",
        "method": "chat.postMessage",
        "retry_after_s": 7.0,
    }.items() <= logs[-1].items()


def test_channel_rate_limit_applies_to_edits_too(slack: SlackServer) -> None:
    """A channel limited by Slack refuses the edit with RateLimitedError, then recovers."""
    client = make_client(slack)
    ref = client.post_incident(make_card())
    slack.rate_limit_channel(CHANNEL, retry_after_s=2)
    with pytest.raises(RateLimitedError) as caught:
        client.update_incident(ref, make_card(IncidentStatus.ACKNOWLEDGED))
    assert caught.value.retry_after_s == 2.0
    slack.clear_limits()
    client.update_incident(ref, make_card(IncidentStatus.ACKNOWLEDGED))


def test_5xx_becomes_upstream_unavailable(slack: SlackServer) -> None:
    """A bare 503 from Slack is retryable: UpstreamUnavailableError, not a vendor error."""
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError) as caught:
        make_client(slack).post_incident(make_card())
    assert not isinstance(caught.value, RateLimitedError)


def test_unreachable_slack_becomes_upstream_unavailable() -> None:
    """A refused connection is UpstreamUnavailableError."""
    web = WebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:1/api/", timeout=1)
    with pytest.raises(UpstreamUnavailableError):
        SlackChatClient(web, CHANNEL).post_thread(MessageRef(CHANNEL, "1.0"), "hello")


def test_invalid_token_is_a_clear_non_retryable_error(slack: SlackServer) -> None:
    """A wrong token raises SlackRejectedError naming invalid_auth; it is not retryable."""
    with pytest.raises(SlackRejectedError, match="invalid_auth") as caught:
        make_client(slack, token="xoxb-wrong").post_incident(make_card())
    assert not isinstance(caught.value, UpstreamUnavailableError)
    assert caught.value.error == "invalid_auth"


def post_others(slack: SlackServer, count: int) -> None:
    """Top-level messages by someone else, newer than what is already in the channel."""
    web = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    for n in range(count):
        web.chat_postMessage(channel=CHANNEL, text=f"deploy {n} done")


def test_root_message_carries_the_incident_in_its_metadata(slack: SlackServer) -> None:
    """The root post names its incident in message metadata, which the channel's history shows
    only when asked for all metadata, as Slack does."""
    ref = make_client(slack).post_incident(make_card())
    (call,) = slack.calls_to("chat.postMessage")
    expected = {"event_type": "firebreak_incident", "event_payload": {"incident_id": 3}}
    assert call.body["metadata"] == expected
    web = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    [plain] = web.conversations_history(channel=CHANNEL)["messages"]
    [full] = web.conversations_history(channel=CHANNEL, include_all_metadata=True)["messages"]
    assert plain["ts"] == full["ts"] == ref.ts
    assert "metadata" not in plain
    assert full["metadata"] == expected


def test_find_incident_pages_through_recent_history(slack: SlackServer) -> None:
    """A root message a page down is found; once it is older than the pages read, it is not,
    and a thread reply carrying the same metadata never counts as the root."""
    client = make_client(slack)
    ref = client.post_incident(make_card())
    post_others(slack, HISTORY_PAGE_SIZE + 20)
    assert client.find_incident(3) == ref
    assert client.find_incident(4) is None
    history = slack.calls_to("conversations.history")
    assert len(history) == 2 * HISTORY_MAX_PAGES
    assert {(c.body["include_all_metadata"], c.body["limit"]) for c in history} == {
        ("1", str(HISTORY_PAGE_SIZE))
    }
    post_others(slack, HISTORY_PAGE_SIZE * HISTORY_MAX_PAGES)
    WebClient(token=BOT_TOKEN, base_url=slack.api_url).chat_postMessage(
        channel=CHANNEL,
        thread_ts=ref.ts,
        text="reply",
        metadata={"event_type": "firebreak_incident", "event_payload": {"incident_id": 3}},
    )
    assert client.find_incident(3) is None


def test_find_incident_history_outage_is_upstream_unavailable(slack: SlackServer) -> None:
    """A 503 from conversations.history is retryable, like any other Slack outage."""
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        make_client(slack).find_incident(3)


def test_thread_reply_for_an_incident_carries_it_in_its_metadata(slack: SlackServer) -> None:
    """A reply posted for an incident names it in message metadata; a plain reply has none."""
    client = make_client(slack)
    root = client.post_incident(make_card())
    client.post_thread(root, "plain")
    client.post_thread(root, "INC-9 joined the storm", incident_id=9)
    plain, marked = slack.calls_to("chat.postMessage")[1:]
    assert "metadata" not in plain.body
    expected = {"event_type": INCIDENT_REPLY_EVENT_TYPE, "event_payload": {"incident_id": 9}}
    assert marked.body["metadata"] == expected


def test_find_thread_reply_pages_through_the_thread(slack: SlackServer) -> None:
    """A reply more than a page into the thread is found by its metadata; a top-level message,
    a plain reply or another incident's reply never counts."""
    client = make_client(slack)
    root = client.post_incident(make_card())
    for n in range(REPLIES_PAGE_SIZE):
        client.post_thread(root, f"INC-{100 + n} joined the storm", incident_id=100 + n)
    client.post_thread(root, "a plain line")
    wanted = client.post_thread(root, "INC-9 joined the storm", incident_id=9)
    assert client.find_thread_reply(root, 9) == wanted
    replies = slack.calls_to("conversations.replies")
    assert len(replies) == 2
    assert {(c.body["ts"], c.body["include_all_metadata"]) for c in replies} == {(root.ts, "1")}
    assert client.find_thread_reply(root, 3) is None
    assert client.find_thread_reply(root, 10_000) is None


def test_find_thread_reply_outage_is_upstream_unavailable(slack: SlackServer) -> None:
    """A 503 from conversations.replies is retryable; a thread Slack does not know is not."""
    client = make_client(slack)
    slack.fail_next(calls=1, status=503)
    with pytest.raises(UpstreamUnavailableError):
        client.find_thread_reply(MessageRef(CHANNEL, "1714564800.000001"), 3)
    with pytest.raises(SlackRejectedError) as caught:
        client.find_thread_reply(MessageRef(CHANNEL, "1714564800.999999"), 3)
    assert caught.value.error == "thread_not_found"


def test_find_incident_by_channel_name_waits_for_its_id(slack: SlackServer) -> None:
    """History needs a channel id: with `#incidents` configured, nothing is read until a root
    post has answered the channel's id; then the search runs on that id."""
    web = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=5)
    client = SlackChatClient(web, "#incidents")
    with capture_logs() as logs:
        assert client.find_incident(3) is None
    assert slack.calls_to("conversations.history") == []
    assert {"event": "slack_history_needs_channel_id", "channel": "#incidents"}.items() <= (
        logs[-1].items()
    )
    ref = client.post_incident(make_card(incident_id=7))
    assert ref.channel == channel_id("#incidents")
    assert client.find_incident(7) == ref
    (history,) = slack.calls_to("conversations.history")
    assert history.body["channel"] == ref.channel


def test_user_groups_are_read_and_cached(slack: SlackServer) -> None:
    """Group members come from usergroups.users.list, asked once within the cache window."""
    slack.set_usergroup("S0SRE", ["U0ALICE", "U0BOB"])
    groups = SlackUserGroups(WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    assert groups.members_of("S0SRE") == {"U0ALICE", "U0BOB"}
    assert groups.members_of("S0SRE") == {"U0ALICE", "U0BOB"}
    assert len(slack.calls_to("usergroups.users.list")) == 1
