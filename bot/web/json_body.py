"""A request body read as JSON within bounds: size, nesting depth, integer length, UTF-8.

Python's own `json.loads` answers a body nested 10,000 deep with RecursionError and a
5,000-digit integer with ValueError; both would be a 500, which Alertmanager retries for
ever. Every refusal here is a `BodyRefusedError` carrying the 4xx status to answer; an
over-long integer is kept as an `OversizedInteger`, for the schema to refuse by field name.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request, status

MAX_DEPTH = 32
"""An Alertmanager payload nests four deep (body, alerts, alert, labels)."""
MAX_INTEGER_DIGITS = 20
"""Enough for any 64-bit integer with its sign."""

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyRefusedError(Exception):
    """A body refused before validation, with the HTTP status that says why."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it (declared or streamed) passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyRefusedError(status.HTTP_413_CONTENT_TOO_LARGE, f"body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyRefusedError(status.HTTP_413_CONTENT_TOO_LARGE, f"body exceeds {limit} bytes")
    return bytes(body)


def nesting_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """True when arrays and objects in `body` nest deeper than `max_depth` (strings skipped)."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', body)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > max_depth:
            return True
    return False


class OversizedInteger:
    """An integer literal longer than MAX_INTEGER_DIGITS, kept unconverted.

    Not an int, so the schema refuses it with a 422 naming its field, and an unknown field
    holding one is ignored like any other.
    """

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))

    def __str__(self) -> str:
        return f"<integer of {self.digits} digits>"

    __repr__ = __str__


def _bounded_int(text: str) -> int | OversizedInteger:
    return OversizedInteger(text) if len(text) > MAX_INTEGER_DIGITS else int(text)


def _no_constant(name: str) -> Any:
    raise BodyRefusedError(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {name} is not JSON")


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Decode UTF-8 JSON within the depth and integer bounds, or raise BodyRefusedError."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyRefusedError(
            status.HTTP_400_BAD_REQUEST, f"body is not UTF-8: {exc.reason}"
        ) from exc
    if nesting_depth_exceeds(body, max_depth):
        raise BodyRefusedError(
            status.HTTP_400_BAD_REQUEST, f"JSON nested deeper than {max_depth} levels"
        )
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BodyRefusedError(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {exc}") from exc
    except RecursionError as exc:  # unreachable after the depth check; kept as a last bound
        raise BodyRefusedError(status.HTTP_400_BAD_REQUEST, "JSON nested too deep") from exc
