"""Silences from Slack and the API against the real Alertmanager binary (API v2).

One Alertmanager runs for the module; each test scopes its incident by a model name of its own,
so silences of other tests never match. The app is the real one (FastAPI in process, bolt
mounted, SQLite, the session's Redis), Slack's side the loopback Web API receiving the
response_url answers; requests are signed as Slack signs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.adapters.alertmanager import AlertmanagerSilences
from bot.adapters.sql_store import SqlStore
from bot.demo.monitoring import RunningProcess, start_alertmanager
from bot.domain.alerts import Severity
from bot.domain.incidents import Incident, IncidentStatus
from bot.services.notify_incident import build_card
from bot.services.silence_incident import sync_silences
from bot.settings import Settings
from bot.web.app import create_app
from tests.integration.conftest import API_TOKEN
from tests.processes import wait_for
from tests.servers.slack import (
    BOT_TOKEN,
    SlackServer,
    block_actions_body,
    signed_headers,
    slash_command_body,
)

SIGNING_SECRET = "3c1f0a9b7e5d4c2b1a0f9e8d7c6b5a4f"
ALICE = "U0ALICE"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """The real Alertmanager, once for the module (its webhook goes nowhere)."""
    with start_alertmanager(
        tmp_path_factory.mktemp("alertmanager"), "http://127.0.0.1:9/none", "unused-token"
    ) as running:
        yield running


@pytest.fixture
def labels() -> dict[str, str]:
    """The incident's group labels; a model of the test's own keeps its silences apart."""
    return {
        "alertname": "LLMKVCacheSaturated",
        "model_name": f"llama-{uuid.uuid4().hex[:8]}",
        "severity": "page",
    }


@pytest.fixture
def incident_id(sqlite_store: SqlStore, labels: dict[str, str]) -> int:
    with sqlite_store.transaction() as tx:
        incident = tx.incidents.add(
            Incident(
                0,
                "firebreak",
                f"group-{labels['model_name']}",
                "KV cache saturated",
                Severity.CRITICAL,
                IncidentStatus.TRIGGERED,
                datetime.now(UTC),
                labels=labels,
            )
        )
    return incident.id


def app_client(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    redis_url: str,
    slack: SlackServer,
    alertmanager_url: str = "",
) -> TestClient:
    settings = make_settings(
        database_url=sqlite_url,
        redis_url=redis_url,
        api_token=API_TOKEN,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        alertmanager_url=alertmanager_url,
        api_url="https://firebreak.example/",
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(
    make_settings: Callable[..., Settings],
    sqlite_store: SqlStore,
    sqlite_url: str,
    redis_url: str,
    slack: SlackServer,
    alertmanager: RunningProcess,
) -> TestClient:
    return app_client(make_settings, sqlite_url, redis_url, slack, alertmanager.url)


def ask_slack(client: TestClient, slack: SlackServer, body: str) -> str:
    """Post a signed Slack request; answer the text it then sends to its response_url."""
    before = len(slack.calls_to("response_url"))
    answer = client.post(
        "/slack/events", content=body, headers=signed_headers(SIGNING_SECRET, body)
    )
    assert answer.status_code == 200
    wait_for(lambda: len(slack.calls_to("response_url")) > before, timeout_s=10)
    return str(slack.calls_to("response_url")[-1].body["text"])


def command(slack: SlackServer, text: str) -> str:
    return slash_command_body(text, ALICE, slack.response_url(uuid.uuid4().hex[:8]))


def silences_of(alertmanager: RunningProcess, model: str) -> list[dict[str, Any]]:
    """Alertmanager's silences whose matchers name this model."""
    found = httpx.get(f"{alertmanager.url}/api/v2/silences", timeout=5).json()
    return [s for s in found if {"name": "model_name", "value": model} in _plain(s["matchers"])]


def _plain(matchers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": m["name"], "value": m["value"]} for m in matchers]


def test_a_silence_from_slack_is_made_in_alertmanager_and_expired_on_unsilence(
    client: TestClient,
    slack: SlackServer,
    alertmanager: RunningProcess,
    sqlite_store: SqlStore,
    incident_id: int,
    labels: dict[str, str],
) -> None:
    """`/firebreak silence INC-n 2h reason` makes one silence whose matchers are exactly the
    incident's labels, authored by the Slack user, its comment naming the incident; the root
    card says so; `/firebreak unsilence INC-n` expires it in Alertmanager."""
    reply = ask_slack(client, slack, command(slack, f"silence INC-{incident_id} 2h noisy deploy"))
    assert f"INC-{incident_id}: Silenced until" in reply
    [made] = silences_of(alertmanager, labels["model_name"])
    assert made["status"]["state"] == "active"
    assert sorted(_plain(made["matchers"]), key=lambda m: m["name"]) == [
        {"name": k, "value": v} for k, v in sorted(labels.items())
    ]
    assert all(m["isEqual"] and not m["isRegex"] for m in made["matchers"])
    assert made["createdBy"] == "@u0alice"
    assert made["comment"] == (
        f"INC-{incident_id} KV cache saturated: noisy deploy"
        f" — https://firebreak.example/api/v1/incidents/{incident_id}"
    )
    ends = datetime.fromisoformat(made["endsAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=119) < ends - datetime.now(UTC) <= timedelta(hours=2)
    card, _, _ = build_card(sqlite_store, incident_id)
    assert card.silence is not None
    assert card.silence.startswith("Silenced until")
    assert card.silence.endswith("by @u0alice")

    reply = ask_slack(client, slack, command(slack, f"unsilence INC-{incident_id}"))
    assert reply == f"Expired {made['id']} for INC-{incident_id}."
    [expired] = silences_of(alertmanager, labels["model_name"])
    assert expired["status"]["state"] == "expired"
    assert build_card(sqlite_store, incident_id)[0].silence is None


def test_the_silence_button_silences_for_an_hour_once_per_double_click(
    client: TestClient,
    slack: SlackServer,
    alertmanager: RunningProcess,
    incident_id: int,
    labels: dict[str, str],
) -> None:
    """The root message's Silence 1h button makes a one-hour silence; a second click within
    two minutes is answered as a repeat and makes none."""
    value = {"incident_id": incident_id, "duration": "1h"}
    first = ask_slack(
        client, slack, block_actions_body("firebreak_silence", value, ALICE, slack.response_url())
    )
    again = ask_slack(
        client, slack, block_actions_body("firebreak_silence", value, ALICE, slack.response_url())
    )
    assert "Silenced until" in first
    assert again == f"Already silencing INC-{incident_id}."
    [made] = silences_of(alertmanager, labels["model_name"])
    ends = datetime.fromisoformat(made["endsAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < ends - datetime.now(UTC) <= timedelta(hours=1)


def test_the_api_silences_with_the_callers_name_and_a_link(
    client: TestClient, alertmanager: RunningProcess, incident_id: int, labels: dict[str, str]
) -> None:
    """POST /api/v1/incidents/{id}/silence answers 201 with the silence Alertmanager now holds,
    authored by the caller, its comment linking the incident's API URL; it needs the token,
    a duration it can read, and an incident that exists."""
    url = f"/api/v1/incidents/{incident_id}/silence"
    body = {"duration": "30m", "actor": "release-bot", "reason": "canary"}
    answer = client.post(url, json=body, headers=BEARER)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    [held] = silences_of(alertmanager, labels["model_name"])
    assert held["id"] == made["id"]
    assert held["createdBy"] == "release-bot"
    assert f"http://testserver/api/v1/incidents/{incident_id}" in held["comment"]
    assert made["matchers"] == [f'{k}="{v}"' for k, v in sorted(labels.items())]
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json={"duration": "forever"}, headers=BEARER).status_code == 422
    assert client.post(url, json={"duration": "45d"}, headers=BEARER).status_code == 422
    missing = client.post("/api/v1/incidents/999999/silence", headers=BEARER)
    assert missing.status_code == 404
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=BEARER).json()
    assert [s["id"] for s in detail["silences"]] == [made["id"]]


def test_silences_made_in_alertmanager_show_on_the_incidents_they_cover(
    sqlite_store: SqlStore, alertmanager: RunningProcess, incident_id: int, labels: dict[str, str]
) -> None:
    """The periodic sync records a silence made in Alertmanager's own UI on each open incident
    whose labels its matchers all match (a regex too), and marks it gone once expired there."""
    now = datetime.now(UTC)
    ui = {
        "matchers": [
            {
                "name": "model_name",
                "value": labels["model_name"],
                "isRegex": False,
                "isEqual": True,
            },
            {"name": "severity", "value": "page|critical", "isRegex": True, "isEqual": True},
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=3)).isoformat(),
        "createdBy": "bob",
        "comment": "maintenance window",
    }
    made = httpx.post(f"{alertmanager.url}/api/v2/silences", json=ui, timeout=5).json()
    narrower = {
        **ui,
        "matchers": [
            *ui["matchers"],
            {"name": "pod", "value": "p-1", "isRegex": False, "isEqual": True},
        ],
    }
    httpx.post(f"{alertmanager.url}/api/v2/silences", json=narrower, timeout=5).raise_for_status()
    manager = AlertmanagerSilences(alertmanager.url)

    assert incident_id in sync_silences(sqlite_store, manager, now)
    card, _, _ = build_card(sqlite_store, incident_id, now=now)
    assert card.silence is not None
    assert card.silence.endswith("by bob")
    with sqlite_store.transaction() as tx:
        assert [s.id for s in tx.silences.for_incident(incident_id)] == [made["silenceID"]]
    assert incident_id not in sync_silences(sqlite_store, manager, now)

    manager.expire(made["silenceID"])
    manager.expire(made["silenceID"])  # already expired: nothing to do
    assert incident_id in sync_silences(sqlite_store, manager, now)
    assert build_card(sqlite_store, incident_id, now=now)[0].silence is None


def test_without_an_alertmanager_every_entry_point_says_which_setting_is_missing(
    make_settings: Callable[..., Settings],
    sqlite_store: SqlStore,
    sqlite_url: str,
    redis_url: str,
    slack: SlackServer,
    incident_id: int,
) -> None:
    """No FIREBREAK_ALERTMANAGER_URL: the API answers 409 and Slack answers ephemerally, both
    naming the setting; nothing is recorded on the incident."""
    client = app_client(make_settings, sqlite_url, redis_url, slack)
    answer = client.post(f"/api/v1/incidents/{incident_id}/silence", headers=BEARER)
    assert answer.status_code == 409
    assert "FIREBREAK_ALERTMANAGER_URL" in answer.json()["detail"]
    reply = ask_slack(client, slack, command(slack, f"silence INC-{incident_id} 2h"))
    assert reply.startswith(f"INC-{incident_id} was not silenced: Alertmanager is not configured")
    assert "FIREBREAK_ALERTMANAGER_URL" in reply
    with sqlite_store.transaction() as tx:
        assert tx.silences.for_incident(incident_id) == []


def test_an_incident_without_labels_is_refused(
    client: TestClient, sqlite_store: SqlStore, tmp_path: Path
) -> None:
    """An incident whose alerts share no label has nothing to match: 409, and no silence."""
    with sqlite_store.transaction() as tx:
        bare = tx.incidents.add(
            Incident(
                0,
                "r",
                "g-bare",
                "bare",
                Severity.WARNING,
                IncidentStatus.TRIGGERED,
                datetime.now(UTC),
            )
        )
    answer = client.post(f"/api/v1/incidents/{bare.id}/silence", headers=BEARER)
    assert answer.status_code == 409
    assert "no labels" in answer.json()["detail"]
