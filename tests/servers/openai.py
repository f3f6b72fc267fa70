"""A loopback OpenAI-compatible server: `POST /v1/chat/completions` answered from a script.

Point the real `openai` SDK at `server.base_url`. Each request takes the next scripted reply
(`reply_json`, `reply_text`, `reply_status`, `reply_after`); when the script is empty the
`default` reply answers. `reject_json_schema=True` answers 400 to every request asking for
`response_format.type == "json_schema"`, as servers without structured outputs do, without
consuming the script. Every request body is recorded (parsed JSON) in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an HTTP status, headers and body, sent after `delay_s`."""

    status: int = 200
    body: dict[str, Any] | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def reply_json(
    content: dict[str, Any] | str,
    *,
    model: str = "llama-3-70b-instruct",
    prompt_tokens: int = 1200,
    completion_tokens: int = 180,
) -> Reply:
    """A 200 chat completion whose message content is `content` (a dict is JSON-encoded)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_714_564_800,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def reply_text(content: str) -> Reply:
    """A 200 completion whose content is not JSON (a chatty model ignoring the format)."""
    return reply_json(content)


def reply_status(status: int, message: str = "", retry_after_s: float | None = None) -> Reply:
    """An OpenAI-style error body with `status`, optionally with a Retry-After header."""
    headers = {} if retry_after_s is None else {"retry-after": f"{retry_after_s:g}"}
    return Reply(
        status=status,
        body={"error": {"message": message or f"status {status}", "type": "test", "code": None}},
        headers=headers,
    )


def reply_after(delay_s: float, reply: Reply | None = None) -> Reply:
    """`reply` (a 500 by default) sent only after `delay_s`: past a short client timeout."""
    base = reply or reply_status(500)
    return Reply(base.status, base.body, base.headers, delay_s)


class OpenAIServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread; use as a context manager."""

    def __init__(self, default: Reply | None = None, reject_json_schema: bool = False) -> None:
        self.default = default or reply_status(500, "no scripted reply left")
        self.reject_json_schema = reject_json_schema
        self.requests: list[dict[str, Any]] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order by the next requests."""
        with self._lock:
            self._script.extend(replies)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            response_format = body.get("response_format") or {}
            if self.reject_json_schema and response_format.get("type") == "json_schema":
                return reply_status(400, "response_format json_schema is not supported")
            return self._script.popleft() if self._script else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(Reply(404, {"error": {"message": "not found"}}))
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(reply_status(400, "body is not JSON"))
                    return
                reply = server._next_reply(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                payload = (
                    reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
