"""A loopback proxy in front of the simulator's control API that records every call and can
stall one: the proxied request reaches the simulator (the target acts), but the answer is
held back until `release()`, so a test can kill the worker waiting on it mid-step.

    proxy = ControlProxy(simulator.url, stall="/replicas")
    ... proxy.stalled.wait(); kill the worker; proxy.release()
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

STALL_LIMIT_S = 60.0


class ControlProxy:
    """Forwards everything to `upstream`; the first PUT whose path ends with `stall` hangs."""

    def __init__(self, upstream: str, stall: str = "") -> None:
        self.upstream = upstream.rstrip("/")
        self.stall = stall
        self.calls: list[tuple[str, str]] = []
        self.stalled = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def puts(self, suffix: str) -> int:
        """How many PUTs whose path ends with `suffix` reached the simulator."""
        with self._lock:
            return sum(1 for m, p in self.calls if m == "PUT" and p.endswith(suffix))

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, method: str, path: str, body: bytes) -> tuple[int, bytes, bool]:
        with self._lock:
            self.calls.append((method, path))
            hold = (
                bool(self.stall)
                and method == "PUT"
                and path.endswith(self.stall)
                and not self.stalled.is_set()
            )
            if hold:
                self.stalled.set()
        headers = {"Content-Type": "application/json"}
        answer = httpx.request(
            method, self.upstream + path, content=body or None, headers=headers, timeout=10
        )
        return answer.status_code, answer.content, hold

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, hold = proxy._forward(self.command, self.path, body)
                if hold:
                    proxy._released.wait(STALL_LIMIT_S)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the caller was killed while its answer was held back

            do_GET = do_PUT = do_POST = _relay

            def log_message(self, format: str, *args: object) -> None:
                return None

        return Handler
