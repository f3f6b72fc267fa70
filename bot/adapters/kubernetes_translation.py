"""The Kubernetes client's errors as Firebreak's, in one place for every Kubernetes adapter:
a 5xx, a 429 or no answer is UpstreamUnavailableError; any other 4xx is a refusal, TargetError.
A caller that reads a status itself (an eviction's 429) names it in `passthrough`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import structlog
import urllib3
from kubernetes.client.exceptions import ApiException

from bot.domain.errors import UpstreamUnavailableError
from bot.runbook.errors import TargetError

log = structlog.get_logger(__name__)
MERGE_PATCH = "application/merge-patch+json"
T = TypeVar("T")


@contextmanager
def translated(what: str, passthrough: tuple[int, ...] = ()) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        status = int(exc.status or 0)
        if status in passthrough:
            raise
        log.warning("kubernetes_call_failed", call=what, status=status, reason=exc.reason)
        if status == 0 or status >= 500 or status == 429:
            raise UpstreamUnavailableError(f"kubernetes {what}: {status} {exc.reason}") from exc
        raise TargetError(f"kubernetes {what}: {status} {exc.reason}", status) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        log.warning("kubernetes_connection_failed", call=what, error=str(exc))
        raise UpstreamUnavailableError(f"kubernetes {what}: {exc}") from exc


def call(what: str, request: Callable[[], T]) -> T:
    """Make one client call with its errors translated."""
    with translated(what):
        return request()
