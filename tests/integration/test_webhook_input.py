"""The webhook over real HTTP: authentication and bad input, each a clear 4xx writing nothing."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.integration.conftest import WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer

JSON = {"Content-Type": "application/json"}
AUTH = {**JSON, "Authorization": f"Bearer {WEBHOOK_TOKEN}"}


def stored_counts(api: ApiServer) -> tuple[int, int]:
    with api.container.store.transaction() as tx:
        return len(tx.incidents.list()), tx.outbox.count_pending()


def post(api: ApiServer, content: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{api.url}/webhooks/alertmanager", content=content, headers=headers, timeout=10
    )


def test_bearer_token_is_accepted(api: ApiServer) -> None:
    """A valid bearer token stores the alert and answers 200 with the incident id."""
    response = post(api, body(group(alert())), AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["incidents"] == ["INC-1"]
    assert stored_counts(api)[0] == 1


def test_basic_auth_password_is_the_token(api: ApiServer) -> None:
    """Alertmanager's basic_auth works when its password is the webhook token."""
    credentials = base64.b64encode(f"alertmanager:{WEBHOOK_TOKEN}".encode()).decode()
    response = post(api, body(group(alert())), {**JSON, "Authorization": f"Basic {credentials}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        "Basic " + base64.b64encode(b"am:wrong").decode(),
        "Bearer",
        "Token x",
    ],
)
def test_missing_or_wrong_token_is_401(api: ApiServer, authorization: str | None) -> None:
    """No token, a wrong one, or an unknown scheme is refused with 401 and nothing stored."""
    headers = dict(JSON)
    if authorization:
        headers["Authorization"] = authorization
    response = post(api, body(group(alert())), headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert stored_counts(api) == (0, 0)


@pytest.mark.parametrize(
    ("content", "headers", "status", "fragment"),
    [
        (b"{not json", AUTH, 400, "malformed JSON"),
        (b"\xff\xfe{}", AUTH, 400, "UTF-8"),
        (body(group(alert())), {**AUTH, "Content-Type": "text/plain"}, 415, "application/json"),
        (body({**group(alert()), "version": "3"}), AUTH, 422, "version"),
        (json.dumps({"version": "4", "status": "firing"}).encode(), AUTH, 422, "groupKey"),
        (json.dumps([1, 2, 3]).encode(), AUTH, 422, '"field":"body"'),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    api: ApiServer, content: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    """Garbage JSON, invalid UTF-8, wrong type, wrong version or missing fields: 4xx naming why."""
    response = post(api, content, headers)
    assert response.status_code == status
    assert fragment in response.text
    assert stored_counts(api) == (0, 0)


def test_five_mebibyte_body_is_413(api: ApiServer) -> None:
    """A body over the 1 MiB limit is refused with 413 before it is parsed."""
    payload = group(alert())
    payload["commonAnnotations"] = {"description": "x" * (5 * 1024 * 1024)}
    response = post(api, body(payload), AUTH)
    assert response.status_code == 413
    assert stored_counts(api) == (0, 0)


def test_oversized_chunked_body_is_413(api: ApiServer) -> None:
    """A body streamed without Content-Length is cut off at the limit too."""

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(3):
            yield b"x" * (512 * 1024)

    response = httpx.post(
        f"{api.url}/webhooks/alertmanager", content=chunks(), headers=AUTH, timeout=10
    )
    assert response.status_code == 413


def test_duplicate_delivery_answers_200_and_changes_nothing(api: ApiServer) -> None:
    """Alertmanager's retry of the same body is answered 200 as a duplicate."""
    raw = body(group(alert()))
    assert post(api, raw, AUTH).json()["status"] == "accepted"
    with api.container.store.transaction() as tx:
        before = len(tx.timeline.for_incident(1))
    second = post(api, raw, AUTH)
    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    with api.container.store.transaction() as tx:
        assert len(tx.timeline.for_incident(1)) == before
        assert len(tx.incidents.list()) == 1
