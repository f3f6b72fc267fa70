"""Firebreak's errors answered as HTTP, for every API route in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.domain.errors import (
    NotFoundError,
    RefusedError,
    StoreUnavailableError,
    UpstreamUnavailableError,
)
from bot.domain.incidents import InvalidTransitionError
from bot.domain.text import sanitised_data
from bot.runbook.errors import ApprovalRefusedError


@contextmanager
def http_errors() -> Iterator[None]:
    """Unknown id 404, refused approval 403, refused transition or request 409 (a missing
    setting such as FIREBREAK_ALERTMANAGER_URL included), database or upstream down 503."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ApprovalRefusedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except (InvalidTransitionError, RefusedError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except StoreUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from exc
    except UpstreamUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


MAX_ECHOED_CHARS = 200


def _echo(value: object) -> object:
    """A refused value as it may be shown back: sanitised, long strings cut."""
    if isinstance(value, str) and len(value) > MAX_ECHOED_CHARS:
        value = value[:MAX_ECHOED_CHARS] + "..."
    if isinstance(value, str | int | float | bool) or value is None:
        return sanitised_data(value)
    return sanitised_data(repr(value)[:MAX_ECHOED_CHARS])


async def validation_error_answer(_: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field (`field`, dotted), in FastAPI's shape otherwise.

    FastAPI's own answer echoes the refused input verbatim, and an input holding a lone
    surrogate cannot be encoded as UTF-8: that answer would itself fail with a 500.
    """
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "type": error.get("type"),
            "loc": [sanitised_data(str(p)) if isinstance(p, str) else p for p in error["loc"]],
            "field": sanitised_data(".".join(str(p) for p in error["loc"])),
            "msg": sanitised_data(error.get("msg", "")),
            "input": _echo(error.get("input")),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
