"""Firebreak's errors answered as HTTP, for every API route in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status

from bot.domain.errors import NotFoundError, StoreUnavailableError, UpstreamUnavailableError
from bot.domain.incidents import InvalidTransitionError
from bot.runbook.errors import ApprovalRefusedError


@contextmanager
def http_errors() -> Iterator[None]:
    """Unknown id 404, refused approval 403, refused transition 409, database or upstream
    down 503."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ApprovalRefusedError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except InvalidTransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except StoreUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable") from exc
    except UpstreamUnavailableError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
