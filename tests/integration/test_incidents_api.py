"""The read side and lifecycle moves of /api/v1/incidents, bearer-protected."""

from __future__ import annotations

import httpx

from tests.integration.conftest import API_TOKEN, WEBHOOK_TOKEN
from tests.payloads import alert, body, group
from tests.processes import ApiServer

API = {"Authorization": f"Bearer {API_TOKEN}"}


def open_incident(api: ApiServer, **kw: str) -> int:
    response = httpx.post(
        f"{api.url}/webhooks/alertmanager",
        content=body(group(alert(**kw), group_key=f"k-{kw}")),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"},
    )
    assert response.status_code == 200, response.text
    api.normalise()
    listed = httpx.get(f"{api.url}/api/v1/incidents", headers=API).json()
    return int(listed[0]["id"])


def test_api_requires_its_own_token(api: ApiServer) -> None:
    """The incidents API refuses no token and the webhook token alike."""
    assert httpx.get(f"{api.url}/api/v1/incidents").status_code == 401
    wrong = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    assert httpx.get(f"{api.url}/api/v1/incidents", headers=wrong).status_code == 401


def test_list_filters_by_status(api: ApiServer) -> None:
    """?status=open lists unresolved incidents only; the default lists all, newest first."""
    first = open_incident(api, fingerprint="a")
    second = open_incident(api, fingerprint="b")
    assert httpx.post(f"{api.url}/api/v1/incidents/{first}/resolve", headers=API).status_code == 200
    everything = httpx.get(f"{api.url}/api/v1/incidents", headers=API).json()
    assert [i["id"] for i in everything] == [second, first]
    open_only = httpx.get(f"{api.url}/api/v1/incidents?status=open", headers=API).json()
    assert [i["id"] for i in open_only] == [second]
    assert httpx.get(f"{api.url}/api/v1/incidents?status=bogus", headers=API).status_code == 422


def test_detail_and_timeline(api: ApiServer) -> None:
    """An incident's detail carries its alerts; its timeline starts with the opening."""
    incident_id = open_incident(api)
    detail = httpx.get(f"{api.url}/api/v1/incidents/{incident_id}", headers=API).json()
    assert detail["ref"] == f"INC-{incident_id}"
    assert len(detail["alerts"]) == 1
    timeline = httpx.get(f"{api.url}/api/v1/incidents/{incident_id}/timeline", headers=API).json()
    assert timeline[0]["kind"] in {"alert_firing", "incident_opened"}
    assert {e["kind"] for e in timeline} >= {"incident_opened", "alert_firing"}


def test_ack_then_resolve_records_who_and_when(api: ApiServer) -> None:
    """Ack and resolve stamp their actor; acking twice is harmless; ack after resolve is 409."""
    incident_id = open_incident(api)
    url = f"{api.url}/api/v1/incidents/{incident_id}"
    acked = httpx.post(f"{url}/ack", headers=API, json={"actor": "alice"}).json()
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_by"] == "alice"
    assert httpx.post(f"{url}/ack", headers=API).json()["acknowledged_by"] == "alice"
    resolved = httpx.post(f"{url}/resolve", headers=API, json={"actor": "bob"}).json()
    assert resolved["status"] == "resolved"
    assert resolved["ttr_s"] is not None
    assert httpx.post(f"{url}/ack", headers=API).status_code == 409
    audit = httpx.get(url, headers=API).json()["audit"]
    assert [a["action"] for a in audit][-3:] == [
        "incident_acknowledged",
        "incident_resolved",
        "transition_refused",
    ]


def test_unknown_incident_is_404(api: ApiServer) -> None:
    """Every per-incident route answers 404 for an id that does not exist."""
    for path in ("/api/v1/incidents/999", "/api/v1/incidents/999/timeline"):
        assert httpx.get(f"{api.url}{path}", headers=API).status_code == 404
    assert httpx.post(f"{api.url}/api/v1/incidents/999/ack", headers=API).status_code == 404


def test_health_readiness_and_metrics(api: ApiServer) -> None:
    """healthz answers, readyz checks database and broker, metrics counts alerts received."""
    open_incident(api)
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'firebreak_alerts_received_total{status="firing"} 1.0' in metrics
    assert "firebreak_incidents_open 1.0" in metrics
    assert "firebreak_outbox_pending" in metrics


BEYOND_INT64 = 2**63


def test_ids_beyond_64_bits_are_a_4xx_on_every_id_route(api: ApiServer) -> None:
    """An incident or run id of 2^63 or more is refused with a 422 naming it, never a 500."""
    big = BEYOND_INT64
    gets = [
        f"/api/v1/incidents/{big}",
        f"/api/v1/incidents/{big}/timeline",
        f"/api/v1/incidents/{big}/postmortem",
        f"/api/v1/incidents/{big}/runbook-runs",
    ]
    posts = [
        f"/api/v1/incidents/{big}/ack",
        f"/api/v1/incidents/{big}/resolve",
        f"/api/v1/incidents/1/runbook-runs/{big}/approve",
        f"/api/v1/incidents/{big}/runbook-runs/1/deny",
    ]
    for path in gets:
        response = httpx.get(f"{api.url}{path}", headers=API)
        assert response.status_code == 422, (path, response.text)
    for path in posts:
        response = httpx.post(f"{api.url}{path}", headers=API, json={"actor": "alice"})
        assert response.status_code == 422, (path, response.text)
        fields = {e["field"] for e in response.json()["detail"]}
        assert fields & {"path.incident_id", "path.run_id"}, (path, fields)


def test_unstorable_actor_is_refused_and_changes_nothing(api: ApiServer) -> None:
    """An actor with NUL, a lone surrogate or over 255 characters is a 422 naming body.actor on
    ack and resolve, and the incident stays as it was."""
    incident_id = open_incident(api)
    url = f"{api.url}/api/v1/incidents/{incident_id}"
    for verb in ("ack", "resolve"):
        for raw in (
            b'{"actor": "a\\u0000b"}',
            b'{"actor": "\\ud800"}',
            b'{"actor": "' + b"a" * 256 + b'"}',
        ):
            response = httpx.post(
                f"{url}/{verb}", headers={**API, "Content-Type": "application/json"}, content=raw
            )
            assert response.status_code == 422, (verb, raw, response.text)
            assert response.json()["detail"][0]["field"] == "body.actor"
    detail = httpx.get(url, headers=API).json()
    assert detail["status"] == "triggered"
    assert detail["acknowledged_by"] is None
