"""SlackChatClient: the ChatClient and FileUploader ports on slack_sdk's WebClient.

One root message per incident (chat.postMessage, then chat.update in place), details in its
thread, files through the upload v2 flow. Every string sent passes the injected `redact` hook
first. A root message carries metadata naming its incident, so one whose post went unanswered
is found again in the channel's recent history (conversations.history); a thread reply posted
for an incident (a storm member's line in its lead's thread) carries it too, and is found again
among the thread's replies (conversations.replies). Slack's failures become ours:

- HTTP 429 / `ratelimited`            → RateLimitedError(retry_after_s from Retry-After)
- network errors, HTTP 5xx, `internal_error`, `fatal_error`, ... → UpstreamUnavailableError
- anything else (`invalid_auth`, `channel_not_found`, `missing_scope`, ...) → SlackRejectedError,
  which is not retryable: a retry cannot fix a revoked token or a wrong channel.

`SlackUserGroups` answers who belongs to a Slack user group, cached: for the authoriser, and for
a run whose runbook names user groups among its approvers.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.adapters.slack_web import slack_web_client
from bot.domain.cards import IncidentCard, MessageRef
from bot.domain.errors import FirebreakError, RateLimitedError, UpstreamUnavailableError
from bot.domain.telemetry import CHAT_CALLS, CHAT_RETRY_AFTER, UNRECORDED
from bot.ports import Telemetry
from bot.settings import Settings
from bot.slack_app.views import clip, escape, incident_message, same

log = structlog.get_logger(__name__)

THREAD_TEXT_MAX = 4000
INCIDENT_EVENT_TYPE = "firebreak_incident"
INCIDENT_REPLY_EVENT_TYPE = "firebreak_incident_reply"
HISTORY_PAGE_SIZE = 100
HISTORY_MAX_PAGES = 2
# A storm's lead thread holds a line per quiet member: search it deep (replies come oldest first).
REPLIES_PAGE_SIZE = 200
REPLIES_MAX_PAGES = 25
DEFAULT_RETRY_AFTER_S = 1.0
_TEXT_SUFFIXES = {".md", ".txt", ".json", ".html", ".csv", ".log"}
_TRANSIENT_ERRORS = {
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{5,}")


class SlackRejectedError(FirebreakError):
    """Slack refused a call for a reason retrying cannot fix; `error` is Slack's code."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


def _retry_after_s(response: SlackResponse) -> float:
    for name, value in response.headers.items():
        if name.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                break
    return DEFAULT_RETRY_AFTER_S


def incident_metadata(incident_id: int, event_type: str = INCIDENT_EVENT_TYPE) -> dict[str, Any]:
    """The message metadata that marks a root message (or, with INCIDENT_REPLY_EVENT_TYPE, a
    thread reply) as this incident's."""
    return {"event_type": event_type, "event_payload": {"incident_id": incident_id}}


def _names(message: dict[str, Any], event_type: str, incident_id: int) -> bool:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != event_type:
        return False
    payload = metadata.get("event_payload") or {}
    return str(payload.get("incident_id")) == str(incident_id)


def _is_root_of(message: dict[str, Any], incident_id: int) -> bool:
    """A top-level message (not a thread reply) whose metadata names this incident."""
    if message.get("thread_ts") not in (None, message.get("ts")):
        return False
    return _names(message, INCIDENT_EVENT_TYPE, incident_id)


def _is_reply_of(message: dict[str, Any], incident_id: int) -> bool:
    """A thread reply (not the parent) whose metadata names this incident."""
    if message.get("thread_ts") in (None, message.get("ts")):
        return False
    return _names(message, INCIDENT_REPLY_EVENT_TYPE, incident_id)


@contextmanager
def translated_errors(method: str, telemetry: Telemetry = UNRECORDED) -> Iterator[None]:
    """Turn slack_sdk and network failures of one call into Firebreak errors; count the call
    by result, and a 429's Retry-After."""

    def counted(result: str) -> None:
        telemetry.count(CHAT_CALLS, {"chat": "slack", "method": method, "result": result})

    try:
        yield
    except SlackApiError as exc:
        status, error = exc.response.status_code, str(exc.response.get("error") or "")
        if status == 429 or error == "ratelimited":
            retry_after_s = _retry_after_s(exc.response)
            log.warning("slack_rate_limited", method=method, retry_after_s=retry_after_s)
            counted("rate_limited")
            telemetry.observe(CHAT_RETRY_AFTER, retry_after_s, {"method": method})
            raise RateLimitedError(f"Slack {method} rate-limited", retry_after_s) from exc
        if status >= 500 or error in _TRANSIENT_ERRORS:
            log.warning("slack_call_failed", method=method, status=status, error=error)
            counted("unavailable")
            raise UpstreamUnavailableError(f"Slack {method} failed: HTTP {status}") from exc
        log.error("slack_call_rejected", method=method, status=status, error=error)
        counted("rejected")
        raise SlackRejectedError(f"Slack {method} refused: {error or status}", error) from exc
    except (SlackClientError, OSError) as exc:
        log.warning("slack_connection_failed", method=method, reason=str(exc))
        counted("unavailable")
        raise UpstreamUnavailableError(f"Slack {method} unreachable: {exc}") from exc
    counted("ok")


class SlackChatClient:
    """Posts, edits and threads incident messages in one channel; uploads files to threads."""

    def __init__(
        self,
        client: WebClient,
        channel: str,
        *,
        redact: Callable[[str], str] = same,
        chart_url: Callable[[str], str | None] | None = None,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        self._client = client
        self._telemetry = telemetry
        self._channel = channel
        self._channel_id = channel if _CHANNEL_ID.fullmatch(channel) else None
        self._redact = redact
        self._chart_url = chart_url

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        redact: Callable[[str], str] = same,
        chart_url: Callable[[str], str | None] | None = None,
        telemetry: Telemetry = UNRECORDED,
    ) -> SlackChatClient:
        """The client for FIREBREAK_SLACK_BOT_TOKEN, SLACK_CHANNEL and SLACK_API_URL."""
        if settings.slack_bot_token is None:
            raise SlackRejectedError("FIREBREAK_SLACK_BOT_TOKEN is not set", "not_authed")
        token = settings.slack_bot_token.get_secret_value()
        client = slack_web_client(token, settings.slack_api_url)
        return cls(
            client, settings.slack_channel, redact=redact, chart_url=chart_url, telemetry=telemetry
        )

    def _message(self, card: IncidentCard) -> tuple[str, list[dict[str, object]]]:
        url = None
        if self._chart_url is not None and card.chart_paths:
            url = self._chart_url(card.chart_paths[0])
        message = incident_message(card, chart_url=url, redact=self._redact)
        return message.text, message.blocks

    def post_incident(self, card: IncidentCard) -> MessageRef:
        """Post the root message; answer where it lives (channel id and ts)."""
        text, blocks = self._message(card)
        with translated_errors("chat.postMessage", self._telemetry):
            response = self._client.chat_postMessage(
                channel=self._channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                metadata=incident_metadata(card.incident.id),
            )
        ref = MessageRef(str(response["channel"]), str(response["ts"]))
        self._channel_id = ref.channel
        log.info(
            "slack_incident_posted", incident=card.incident.ref, channel=ref.channel, ts=ref.ts
        )
        return ref

    def find_incident(self, incident_id: int) -> MessageRef | None:
        """The root message posted for this incident among the channel's latest top-level
        messages, if any. Slack's history needs the channel id: with a channel name not yet
        answered by a post, there is no history to read and the answer is None."""
        channel_id = self._channel_id
        if channel_id is None:
            log.warning("slack_history_needs_channel_id", channel=self._channel)
            return None
        message = self._first_message(
            "conversations.history",
            lambda cursor: self._client.conversations_history(
                channel=channel_id,
                limit=HISTORY_PAGE_SIZE,
                cursor=cursor,
                include_all_metadata=True,
            ),
            lambda message: _is_root_of(message, incident_id),
            HISTORY_MAX_PAGES,
        )
        if message is None:
            return None
        ref = MessageRef(channel_id, str(message["ts"]))
        log.info("slack_incident_found", incident=f"INC-{incident_id}", ts=ref.ts)
        return ref

    def update_incident(self, ref: MessageRef, card: IncidentCard) -> None:
        """Edit the root message in place to show the card as it is now."""
        text, blocks = self._message(card)
        with translated_errors("chat.update", self._telemetry):
            self._client.chat_update(channel=ref.channel, ts=ref.ts, text=text, blocks=blocks)
        log.info("slack_incident_updated", incident=card.incident.ref, ts=ref.ts)

    def post_thread(
        self, ref: MessageRef, text: str, *, incident_id: int | None = None
    ) -> MessageRef:
        """Reply in the root message's thread; with `incident_id`, metadata marks the reply as
        that incident's."""
        body = clip(escape(self._redact(text)), THREAD_TEXT_MAX)
        metadata = (
            None
            if incident_id is None
            else incident_metadata(incident_id, INCIDENT_REPLY_EVENT_TYPE)
        )
        with translated_errors("chat.postMessage", self._telemetry):
            response = self._client.chat_postMessage(
                channel=ref.channel,
                thread_ts=ref.ts,
                text=body,
                unfurl_links=False,
                metadata=metadata,
            )
        log.info("slack_thread_posted", channel=ref.channel, thread_ts=ref.ts)
        return MessageRef(str(response["channel"]), str(response["ts"]))

    def find_thread_reply(self, ref: MessageRef, incident_id: int) -> MessageRef | None:
        """The reply in `ref`'s thread whose metadata names this incident, if any
        (conversations.replies, oldest first, up to REPLIES_MAX_PAGES pages)."""
        message = self._first_message(
            "conversations.replies",
            lambda cursor: self._client.conversations_replies(
                channel=ref.channel,
                ts=ref.ts,
                limit=REPLIES_PAGE_SIZE,
                cursor=cursor,
                include_all_metadata=True,
            ),
            lambda message: _is_reply_of(message, incident_id),
            REPLIES_MAX_PAGES,
        )
        if message is None:
            return None
        found = MessageRef(ref.channel, str(message["ts"]))
        log.info("slack_reply_found", incident=f"INC-{incident_id}", ts=found.ts)
        return found

    def _first_message(
        self,
        method: str,
        page: Callable[[str | None], Any],
        matches: Callable[[dict[str, Any]], bool],
        max_pages: int,
    ) -> dict[str, Any] | None:
        """The first message `matches` accepts, reading `page(cursor)` answers of `method` in
        turn, at most `max_pages` of them (a search that reaches the cap is logged)."""
        cursor: str | None = None
        for _ in range(max_pages):
            with translated_errors(method, self._telemetry):
                response = page(cursor)
            for message in response.get("messages") or []:
                if matches(message):
                    found: dict[str, Any] = message
                    return found
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        log.warning("slack_search_capped", method=method, pages=max_pages)
        return None

    def upload_file(self, ref: MessageRef, path: Path, title: str) -> str:
        """Attach a file to the thread; text files are redacted first. Answers the file id."""
        safe_title = clip(self._redact(title), 250)
        with translated_errors("files.upload_v2", self._telemetry):
            if path.suffix.lower() in _TEXT_SUFFIXES:
                content = self._redact(path.read_text(encoding="utf-8"))
                response = self._client.files_upload_v2(
                    channel=ref.channel,
                    thread_ts=ref.ts,
                    content=content,
                    filename=path.name,
                    title=safe_title,
                )
            else:
                response = self._client.files_upload_v2(
                    channel=ref.channel,
                    thread_ts=ref.ts,
                    file=str(path),
                    filename=path.name,
                    title=safe_title,
                )
        file_id = str(response["files"][0]["id"])
        log.info("slack_file_uploaded", channel=ref.channel, thread_ts=ref.ts, file_id=file_id)
        return file_id

    def delete_file(self, file_id: str) -> None:
        """Remove an earlier upload (a re-exported postmortem replaces its predecessor)."""
        try:
            with translated_errors("files.delete", self._telemetry):
                self._client.files_delete(file=file_id)
        except SlackRejectedError as exc:
            if exc.error != "file_not_found":
                raise
        log.info("slack_file_deleted", file_id=file_id)


class SlackUserGroups:
    """Members of Slack user groups (usergroups.users.list), cached for `ttl_s`."""

    def __init__(
        self,
        client: WebClient,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        self._client = client
        self._telemetry = telemetry
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members_of(self, group_id: str) -> frozenset[str]:
        """The user ids in one group; raises UpstreamUnavailableError when Slack cannot say."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(group_id)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        with translated_errors("usergroups.users.list", self._telemetry):
            response = self._client.usergroups_users_list(usergroup=group_id)
        members = frozenset(str(u) for u in response.get("users") or [])
        with self._lock:
            self._cache[group_id] = (now, members)
        return members

    def groups_of(self, user: str, principals: Sequence[str]) -> frozenset[str]:
        """The user groups (`S…`) among `principals` that `user` belongs to."""
        groups = (p for p in principals if p.startswith("S"))  # user ids are U… or W…
        return frozenset(g for g in groups if user in self.members_of(g))
