"""The webhook over real HTTP: authentication and bad input, each a clear 4xx writing nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer

JSON = {"Content-Type": "application/json"}
AUTH = {**JSON, "Authorization": f"Bearer {WEBHOOK_TOKEN}"}


def stored_counts(api: ApiServer) -> tuple[int, int]:
    """Incidents and pending outbox rows, once every accepted delivery is normalised."""
    api.normalise()
    with api.container.store.transaction() as tx:
        return len(tx.incidents.list()), tx.outbox.count_pending()


def post(api: ApiServer, content: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{api.url}/webhooks/alertmanager", content=content, headers=headers, timeout=10
    )


def test_bearer_token_is_accepted(api: ApiServer) -> None:
    """A valid bearer token stores the delivery with one write and answers 200; the normaliser
    turns it into the incident."""
    response = post(api, body(group(alert())), AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "alerts": 1, "rejected": []}
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
    api.normalise()
    with api.container.store.transaction() as tx:
        before = len(tx.timeline.for_incident(1))
    second = post(api, raw, AUTH)
    assert second.status_code == 200
    assert second.json()["status"] == "duplicate"
    api.normalise()
    with api.container.store.transaction() as tx:
        assert len(tx.timeline.for_incident(1)) == before
        assert len(tx.incidents.list()) == 1


API = {"Authorization": f"Bearer {API_TOKEN}"}


def with_alert_field(**fields: Any) -> bytes:
    raw = alert()
    raw.update(fields)
    return body(group(raw))


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, "nested deeper"),
        (
            body(group(alert())).replace(
                b'"truncatedAlerts": 0', b'"truncatedAlerts": ' + b"9" * 5000
            ),
            422,
            '"field":"truncatedAlerts"',
        ),
        (body(group(alert(name="A" * 256))), 422, "alertname is longer than 255"),
        (with_alert_field(fingerprint="f" * 135), 422, '"field":"alerts.0.fingerprint"'),
        (body(group(alert(), group_key="k\x00ey")), 422, '"field":"groupKey"'),
        (body(group(alert(), group_key="k\ud800")), 422, '"field":"groupKey"'),
        (body(group(alert(), receiver="r" * 256)), 422, '"field":"receiver"'),
        (body(group(alert(), receiver="team\x00a")), 422, '"field":"receiver"'),
        (with_alert_field(fingerprint="fp\x00"), 422, '"field":"alerts.0.fingerprint"'),
        (with_alert_field(startsAt="0001-01-01T00:00:00+01:00"), 422, "alerts.0.startsAt"),
        (b'{"version": NaN}', 400, "malformed JSON"),
    ],
)
def test_unstorable_input_is_a_4xx_naming_the_field_and_writes_nothing(
    api: ApiServer, content: bytes, status: int, fragment: str
) -> None:
    """Deep nesting, huge integers, over-long names and NUL or lone surrogates in identity
    fields are refused with a 4xx saying which field, never a 500 Alertmanager would retry."""
    response = post(api, content, AUTH)
    assert response.status_code == status, response.text
    assert fragment in response.text
    assert stored_counts(api) == (0, 0)


def test_zero_starts_at_is_accepted_as_unset(api: ApiServer) -> None:
    """startsAt of Alertmanager's zero time is stored as unset; the incident reads back."""
    response = post(api, body(group(alert(starts_at="0001-01-01T00:00:00Z"))), AUTH)
    api.normalise()
    assert response.status_code == 200, response.text
    detail = httpx.get(f"{api.url}/api/v1/incidents/1", headers=API)
    assert detail.status_code == 200
    assert detail.json()["alerts"][0]["starts_at"] is None


def test_nul_and_lone_surrogates_in_free_text_are_sanitised(api: ApiServer) -> None:
    """A NUL in a summary or a lone surrogate in a label is stored as U+FFFD, and the
    incident's detail and timeline keep answering 200."""
    raw = alert(team="\ud800x")
    raw["annotations"]["summary"] = "cache\x00full"
    response = post(api, body(group(raw)), AUTH)
    assert response.status_code == 200, response.text
    api.normalise()
    detail = httpx.get(f"{api.url}/api/v1/incidents/1", headers=API)
    timeline = httpx.get(f"{api.url}/api/v1/incidents/1/timeline", headers=API)
    assert (detail.status_code, timeline.status_code) == (200, 200)
    stored = detail.json()["alerts"][0]
    assert stored["labels"]["team"] == "\ufffdx"
    assert stored["annotations"]["summary"] == "cache\ufffdfull"


def test_one_bad_alert_does_not_block_the_others(api: ApiServer) -> None:
    """A group with one unstorable alert stores the others, answers 200 (Alertmanager does not
    retry) naming the refused alert, and records it with why on the incident's timeline."""
    bad = alert(fingerprint="b" * 200)
    raw = body(group(alert(fingerprint="good-1"), bad, alert(fingerprint="good-2")))
    response = post(api, raw, AUTH)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["alerts"] == 2
    [rejected] = answer["rejected"]
    assert rejected["position"] == 1
    assert rejected["errors"][0]["field"] == "alerts.1.fingerprint"
    api.normalise()
    detail = httpx.get(f"{api.url}/api/v1/incidents/1", headers=API).json()
    assert {a["fingerprint"] for a in detail["alerts"]} == {"good-1", "good-2"}
    timeline = httpx.get(f"{api.url}/api/v1/incidents/1/timeline", headers=API).json()
    [event] = [e for e in timeline if e["kind"] == "alerts_rejected"]
    assert event["data"]["rejected"][0]["errors"][0]["field"] == "alerts.1.fingerprint"
    with api.container.store.transaction() as tx:
        assert [r["position"] for r in tx.rejections.for_incident(1)] == [1]
    assert post(api, raw, AUTH).json()["status"] == "duplicate"
