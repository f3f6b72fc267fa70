"""A loopback fake of the Slack Web API for the real `slack_sdk.WebClient`.

Start it with `SlackServer.start()` and point a client at it:
`WebClient(token=BOT_TOKEN, base_url=server.api_url)`. It answers `auth.test`,
`chat.postMessage` (metadata kept; a `#name` channel is answered with its id), `chat.update`,
`chat.postEphemeral`, `conversations.history` (top-level messages newest first, paged by
cursor, metadata only with `include_all_metadata`), `conversations.replies` (a thread: its
parent, then the replies oldest first, paged by cursor with the parent on the first page only;
`ts` may be the parent's or a reply's; `thread_not_found` for an unknown ts; metadata only with
`include_all_metadata`), `usergroups.users.list` and the files
upload v2 trio (`files.getUploadURLExternal` → an upload URL on this server, the upload POST,
`files.completeUploadExternal`), plus `response_url` posts under `/response/<name>`.

Every request is recorded as a `Call` (method, parsed body, lower-cased headers). The bearer
token is checked against `tokens` (`invalid_auth` otherwise, with HTTP 200 as Slack does).
`rate_limit(n, retry_after_s)` answers the next n API calls with HTTP 429, a Retry-After header
and `{"ok": false, "error": "ratelimited"}`; `rate_limit_channel(channel, ...)` does so for
every post to one channel until cleared; `fail_next(n, status)` answers with a bare 5xx and
does nothing; `lose_next_answers(n, status)` does the call, then answers with a bare 5xx (an
answer lost on the way back); `hold_next_posts(n, hold_s)` does the next n `chat.postMessage`
calls and answers each only `hold_s` later (a window to kill the caller in mid-post).

Slack's other direction is here too: `slash_command_body()` and `block_actions_body()` build
request bodies as Slack sends them to an app, and `signed_headers()` signs a body exactly as
Slack does (`v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}`, via slack_sdk's SignatureVerifier).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

BOT_TOKEN = "xoxb-test-firebreak-0001"
_JSON_FIELDS = {"blocks", "attachments", "files", "metadata"}
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")


@dataclass(frozen=True)
class Call:
    """One request the server received: the API method (or `upload` / `response_url`).

    `limited`: refused without acting (429 or `fail_next`); `lost`: acted, answered with a 5xx;
    `at`: when it arrived (epoch seconds).
    """

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    limited: bool = False
    lost: bool = False
    at: float = field(default_factory=time.time)


@dataclass
class _State:
    tokens: set[str]
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    limit_next: int = 0
    limit_retry_after_s: int = 1
    limited_channels: dict[str, int] = field(default_factory=dict)
    fail_next: int = 0
    fail_status: int = 503
    lose_next: int = 0
    lose_status: int = 503
    hold_next: int = 0
    hold_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class SlackServer:
    """The fake Slack Web API on 127.0.0.1, served from a thread until `stop()`."""

    def __init__(self, tokens: set[str] | None = None) -> None:
        self.state = _State(tokens=set(tokens or {BOT_TOKEN}))
        handler = type("_BoundHandler", (_Handler,), {"state": self.state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @classmethod
    def start(cls, tokens: set[str] | None = None) -> Self:
        server = cls(tokens)
        server._thread.start()
        return server

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The `base_url` for `slack_sdk.WebClient` (it ends with a slash, as the SDK expects)."""
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A `response_url` for a signed payload; posts to it are recorded as `response_url`."""
        return f"{self.url}/response/{name}"

    @property
    def calls(self) -> list[Call]:
        with self.state.lock:
            return list(self.state.calls)

    def calls_to(self, method: str) -> list[Call]:
        """Answered calls to one method (rate-limited attempts excluded)."""
        return [c for c in self.calls if c.method == method and not c.limited]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The message as it stands now, after any chat.update."""
        with self.state.lock:
            return dict(self.state.messages[(channel, ts)])

    def rate_limit(self, calls: int = 1, retry_after_s: int = 1) -> None:
        """Answer the next `calls` API calls with HTTP 429 and Retry-After."""
        with self.state.lock:
            self.state.limit_next = calls
            self.state.limit_retry_after_s = retry_after_s

    def rate_limit_channel(self, channel: str, retry_after_s: int = 1) -> None:
        """Answer every chat call for `channel` with HTTP 429 until `clear_limits()`."""
        with self.state.lock:
            self.state.limited_channels[channel] = retry_after_s

    def clear_limits(self) -> None:
        with self.state.lock:
            self.state.limit_next = 0
            self.state.limited_channels.clear()
            self.state.fail_next = 0
            self.state.lose_next = 0

    def fail_next(self, calls: int = 1, status: int = 503) -> None:
        """Answer the next `calls` API calls with a bare HTTP `status` (an outage)."""
        with self.state.lock:
            self.state.fail_next, self.state.fail_status = calls, status

    def lose_next_answers(self, calls: int = 1, status: int = 503) -> None:
        """Do the next `calls` API calls (a post is stored) but answer each with HTTP `status`."""
        with self.state.lock:
            self.state.lose_next, self.state.lose_status = calls, status

    def hold_next_posts(self, calls: int = 1, hold_s: float = 5.0) -> None:
        """Post the next `calls` chat.postMessage calls at once but answer each `hold_s` later."""
        with self.state.lock:
            self.state.hold_next, self.state.hold_s = calls, hold_s

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The replies in one thread, oldest first, as they stand now."""
        with self.state.lock:
            return [dict(m) for m in _replies(self.state.messages, channel, thread_ts)]

    def top_level_messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's messages outside threads, oldest first, as they stand now."""
        with self.state.lock:
            return [dict(m) for m in _top_level(self.state.messages, channel)]

    def upload_bytes(self, file_id: str) -> bytes:
        """The bytes uploaded to one file id's upload URL."""
        with self.state.lock:
            return self.state.uploads[file_id]

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        with self.state.lock:
            self.state.usergroups[group_id] = list(users)


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if path.startswith("/upload/"):
            self._upload(path.removeprefix("/upload/"), raw, headers)
        elif path.startswith("/response/"):
            body = json.loads(raw or b"{}")
            self._record(Call("response_url", {**body, "_path": path}, headers))
            self._send(200, "ok", content_type="text/plain")
        elif path.startswith("/api/"):
            self._api(path.removeprefix("/api/"), self._parse(raw, headers), headers)
        else:
            self._send(404, "not found", content_type="text/plain")

    def _parse(self, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
        query = dict(parse_qsl(urlsplit(self.path).query))
        if headers.get("content-type", "").startswith("application/json"):
            return {**query, **json.loads(raw or b"{}")}
        body: dict[str, Any] = {**query, **dict(parse_qsl(raw.decode("utf-8")))}
        for key in _JSON_FIELDS & body.keys():
            body[key] = json.loads(body[key])
        return body

    def _record(self, call: Call) -> None:
        with self.state.lock:
            self.state.calls.append(call)

    def _send(
        self, status: int, body: Any, content_type: str = "application/json", **hdr: str
    ) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in hdr.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def _limited(self, method: str, body: dict[str, Any]) -> int | None:
        with self.state.lock:
            if self.state.limit_next > 0:
                self.state.limit_next -= 1
                return self.state.limit_retry_after_s
            channel = body.get("channel") or body.get("channel_id")
            if method.startswith(("chat.", "files.complete")) and channel:
                return self.state.limited_channels.get(str(channel))
        return None

    def _api(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self.state.lock:
            failing = self.state.fail_next > 0
            if failing:
                self.state.fail_next -= 1
        if failing:
            self._record(Call(method, body, headers, limited=True))
            self._send(self.state.fail_status, "<html>upstream unavailable</html>", "text/html")
            return
        retry_after = self._limited(method, body)
        if retry_after is not None:
            self._record(Call(method, body, headers, limited=True))
            error = {"ok": False, "error": "ratelimited"}
            self._send(429, error, retry_after=str(retry_after))
            return
        with self.state.lock:
            losing = self.state.lose_next > 0
            if losing:
                self.state.lose_next -= 1
        self._record(Call(method, body, headers, lost=losing))
        token = headers.get("authorization", "").removeprefix("Bearer ") or body.get("token")
        if token not in self.state.tokens:
            self._send(200, {"ok": False, "error": "invalid_auth" if token else "not_authed"})
            return
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        if answer is None:
            self._send(200, {"ok": False, "error": "unknown_method"})
            return
        result = answer(body)
        with self.state.lock:
            holding = method == "chat.postMessage" and self.state.hold_next > 0
            if holding:
                self.state.hold_next -= 1
        if holding:
            time.sleep(self.state.hold_s)
        if losing:
            self._send(self.state.lose_status, "<html>gateway timeout</html>", "text/html")
            return
        self._send(200, result)

    def _ts(self) -> str:
        return f"1714564800.{next(self.state.seq):06d}"

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://firebreak-test.slack.com/",
            "team": "Firebreak Test",
            "user": "firebreak",
            "team_id": "T0TEST",
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
        }

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = channel_id(str(body.get("channel", "")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (body.get("text") or body.get("blocks")):
            return {"ok": False, "error": "no_text"}
        ts = self._ts()
        message = {"text": body.get("text", ""), "blocks": body.get("blocks", []), "ts": ts}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        if body.get("metadata"):
            message["metadata"] = body["metadata"]
        with self.state.lock:
            self.state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body.get("channel", "")), str(body.get("ts", "")))
        with self.state.lock:
            message = self.state.messages.get(key)
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(text=body.get("text", ""), blocks=body.get("blocks", []))
        return {"ok": True, "channel": key[0], "ts": key[1], "text": message["text"]}

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        if not _CHANNEL_ID.fullmatch(channel):
            return {"ok": False, "error": "channel_not_found"}
        limit = int(body.get("limit") or 100)
        with_metadata = str(body.get("include_all_metadata", "")).lower() in {"1", "true"}
        with self.state.lock:
            newest_first = _top_level(self.state.messages, channel)[::-1]
        if body.get("cursor"):
            before = base64.b64decode(str(body["cursor"])).decode().removeprefix("next_ts:")
            newest_first = [m for m in newest_first if _ts_key(m["ts"]) <= _ts_key(before)]
        return _page(newest_first, limit, with_metadata)

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        if not _CHANNEL_ID.fullmatch(channel):
            return {"ok": False, "error": "channel_not_found"}
        limit = min(int(body.get("limit") or 1000), 1000)
        with_metadata = str(body.get("include_all_metadata", "")).lower() in {"1", "true"}
        with self.state.lock:
            asked = self.state.messages.get((channel, ts))
            parent_ts = None if asked is None else str(asked.get("thread_ts") or asked["ts"])
            parent = None if parent_ts is None else self.state.messages.get((channel, parent_ts))
            replies = [] if parent_ts is None else _replies(self.state.messages, channel, parent_ts)
        if parent is None or parent_ts is None:
            return {"ok": False, "error": "thread_not_found"}
        head = dict(parent)
        if replies:
            head.update(
                thread_ts=parent_ts,
                reply_count=len(replies),
                reply_users_count=1,
                latest_reply=replies[-1]["ts"],
            )
        thread = [head, *({**m, "parent_user_id": "U0BOT"} for m in replies)]
        if body.get("cursor"):
            since = base64.b64decode(str(body["cursor"])).decode().removeprefix("next_ts:")
            thread = [m for m in thread[1:] if _ts_key(m["ts"]) >= _ts_key(since)]
        return _page(thread, limit, with_metadata)

    def _chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._ts()}

    def _usergroups_users_list(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            users = self.state.usergroups.get(str(body.get("usergroup", "")))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": users}

    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not str(body.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self.state.seq):08d}"
        host, port = self.server.server_address[:2]
        return {
            "ok": True,
            "upload_url": f"http://{host!s}:{port}/upload/{file_id}",
            "file_id": file_id,
        }

    def _upload(self, file_id: str, raw: bytes, headers: dict[str, str]) -> None:
        with self.state.lock:
            self.state.uploads[file_id] = raw
        self._record(Call("upload", {"file_id": file_id, "bytes": len(raw)}, headers))
        self._send(200, f"OK - {len(raw)}", content_type="text/plain")

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("files") or []
        with self.state.lock:
            missing = [f["id"] for f in files if f["id"] not in self.state.uploads]
        if not files or missing:
            return {"ok": False, "error": "file_not_found"}
        shares = {"channel": body.get("channel_id"), "thread_ts": body.get("thread_ts")}
        return {
            "ok": True,
            "files": [
                {"id": f["id"], "title": f.get("title", ""), "shares": shares} for f in files
            ],
        }

    def _files_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            found = self.state.uploads.pop(str(body.get("file")), None)
        return {"ok": True} if found is not None else {"ok": False, "error": "file_not_found"}


def channel_id(channel: str) -> str:
    """The id Slack answers for a channel given by id or by `#name` (`#incidents` → CINCIDENTS)."""
    if not channel.startswith("#"):
        return channel
    return "C" + re.sub(r"[^A-Z0-9]", "", channel.upper())


def _page(messages: list[dict[str, Any]], limit: int, with_metadata: bool) -> dict[str, Any]:
    """One page of a history or replies answer: `limit` messages (metadata only when asked
    for) and a cursor naming the next message when more remain."""
    page, rest = messages[:limit], messages[limit:]
    shown = [
        {"type": "message", **{k: v for k, v in m.items() if k != "metadata" or with_metadata}}
        for m in page
    ]
    answer: dict[str, Any] = {"ok": True, "messages": shown, "has_more": bool(rest)}
    if rest:
        cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode()
        answer["response_metadata"] = {"next_cursor": cursor}
    return answer


def _ts_key(ts: str) -> tuple[int, ...]:
    return tuple(int(part) for part in ts.split("."))


def _top_level(
    messages: dict[tuple[str, str], dict[str, Any]], channel: str
) -> list[dict[str, Any]]:
    """One channel's messages that are not thread replies, oldest first."""
    return sorted(
        (
            m
            for (c, _), m in messages.items()
            if c == channel and m.get("thread_ts") in (None, m["ts"])
        ),
        key=lambda m: _ts_key(m["ts"]),
    )


def _replies(
    messages: dict[tuple[str, str], dict[str, Any]], channel: str, thread_ts: str
) -> list[dict[str, Any]]:
    """The replies in one thread (its parent left out), oldest first."""
    return sorted(
        (
            dict(m)
            for (c, _), m in messages.items()
            if c == channel and m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
        ),
        key=lambda m: _ts_key(m["ts"]),
    )


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with `body`: its timestamp and the v0 HMAC-SHA256 signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }


def _trigger_id() -> str:
    return f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}"


def slash_command_body(
    text: str, user: str, response_url: str, trigger_id: str | None = None
) -> str:
    """A `/firebreak` slash command as Slack posts it (form-encoded)."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0TEST",
            "team_domain": "firebreak-test",
            "channel_id": "C0INCIDENTS",
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/firebreak",
            "text": text,
            "api_app_id": "A0FIREBREAK",
            "response_url": response_url,
            "trigger_id": trigger_id or _trigger_id(),
        }
    )


def block_actions_body(action_id: str, value: dict[str, Any], user: str, response_url: str) -> str:
    """A button click on a channel message as Slack posts it (`payload=` JSON, form-encoded)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "firebreak-test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0FIREBREAK",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": "1714564800.000001",
            "channel_id": "C0INCIDENTS",
            "is_ephemeral": False,
        },
        "trigger_id": _trigger_id(),
        "channel": {"id": "C0INCIDENTS", "name": "incidents"},
        "message": {"type": "message", "ts": "1714564800.000001", "text": "INC"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "incident_actions",
                "value": json.dumps(value),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})
