"""A Prometheus HTTP API stand-in that answers every query at once with no series: triage runs
its whole query plan and finds nothing. Subclasses may act before each answer."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


class EmptyPrometheus(BaseHTTPRequestHandler):
    """Request handler: `query` and `query_range` answer an empty vector or matrix, every other
    API path an empty list."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._answer()

    def before_answer(self) -> None:
        """Called before each answer; nothing here."""

    def _answer(self) -> None:
        self.before_answer()
        if "query" in self.path:
            kind = "matrix" if "query_range" in self.path else "vector"
            data: Any = {"resultType": kind, "result": []}
        else:
            data = []
        payload = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
