"""Alert identity across receivers and out-of-order deliveries, over real HTTP on SQLite and
PostgreSQL, with deliveries posted at once from threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer

HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
API = {"Authorization": f"Bearer {API_TOKEN}"}
ROUNDS = 6


def post_at_once(api: ApiServer, payloads: list[dict[str, Any]]) -> list[httpx.Response]:
    """Post every payload from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(payloads))

    def send(payload: dict[str, Any]) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(
                f"{api.url}/webhooks/alertmanager", content=body(payload), headers=HEADERS
            )

    with ThreadPoolExecutor(len(payloads)) as pool:
        return list(pool.map(send, payloads))


def incidents_of(api: ApiServer) -> list[dict[str, Any]]:
    api.normalise()
    listed = httpx.get(f"{api.url}/api/v1/incidents?limit=1000", headers=API).json()
    return [httpx.get(f"{api.url}/api/v1/incidents/{i['id']}", headers=API).json() for i in listed]


def test_same_alert_through_two_receivers_at_once(api: ApiServer) -> None:
    """The same alert posted at once through two receivers (two groups) never answers 500 and
    lands in one open incident; no incident is opened and resolved while the alert fires."""
    for round_ in range(ROUNDS):
        fired = alert(fingerprint=f"fp-{round_}")
        responses = post_at_once(
            api,
            [
                group(fired, receiver="team-a", group_key=f"a-{round_}"),
                group(fired, receiver="team-b", group_key=f"b-{round_}"),
                group(fired, receiver="team-c", group_key=f"c-{round_}"),
            ],
        )
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    incidents = incidents_of(api)
    assert len(incidents) == ROUNDS
    assert {i["status"] for i in incidents} == {"triggered"}
    holders = sorted(a["fingerprint"] for i in incidents for a in i["alerts"])
    assert holders == sorted(f"fp-{r}" for r in range(ROUNDS))


def test_resolve_racing_its_own_firing_is_never_undone(api: ApiServer) -> None:
    """A firing and its resolve posted at once, through two receivers, always end resolved:
    whichever lands last, the late firing does not undo the resolve."""
    for round_ in range(ROUNDS):
        fingerprint = f"race-{round_}"
        fired = alert(fingerprint=fingerprint)
        resolved = alert(fingerprint=fingerprint, status="resolved", ends_at="2026-11-28T10:05:00Z")
        responses = post_at_once(
            api,
            [
                group(fired, receiver="team-a", group_key=f"a-{round_}"),
                group(resolved, receiver="team-b", group_key=f"b-{round_}"),
            ],
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    incidents = incidents_of(api)
    states = {a["fingerprint"]: a["status"] for i in incidents for a in i["alerts"]}
    assert states == {f"race-{r}": "resolved" for r in range(ROUNDS)}
    assert {i["status"] for i in incidents} == {"resolved"}


def test_resolve_delivered_before_its_firing(api: ApiServer) -> None:
    """A resolve that arrives before its own firing stays resolved when the firing comes."""
    resolved = alert(status="resolved", ends_at="2026-11-28T10:05:00Z")
    first = httpx.post(
        f"{api.url}/webhooks/alertmanager", content=body(group(resolved)), headers=HEADERS
    )
    late = httpx.post(
        f"{api.url}/webhooks/alertmanager",
        content=body(group(alert(), groupId="late")),
        headers=HEADERS,
    )
    assert (first.status_code, late.status_code) == (200, 200)
    [incident] = incidents_of(api)
    assert incident["status"] == "resolved"
    assert [a["status"] for a in incident["alerts"]] == ["resolved"]
