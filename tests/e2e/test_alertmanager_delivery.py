"""A real Alertmanager delivers to Firebreak: incidents open, resolves close them, repeats don't."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.adapters.alertmanager import AlertmanagerAlertSource
from bot.demo.monitoring import start_alertmanager
from bot.services.reconcile_alerts import reconcile_alerts
from tests.e2e.conftest import API_TOKEN, WEBHOOK_TOKEN, Firebreak
from tests.payloads import alert, body, group
from tests.processes import wait_for

API = {"Authorization": f"Bearer {API_TOKEN}"}


def am_alert(name: str, ends_in_s: float, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {
            "alertname": name,
            "severity": "critical",
            "model_name": "llama-3-70b-instruct",
            "service": "llm-serving",
            **labels,
        },
        "annotations": {"summary": f"{name} on llama-3-70b-instruct"},
        "startsAt": (now - timedelta(seconds=30)).isoformat(),
        "endsAt": (now + timedelta(seconds=ends_in_s)).isoformat(),
    }


def incidents(stack: Firebreak) -> list[dict[str, Any]]:
    return httpx.get(f"{stack.api.url}/api/v1/incidents", headers=API).json()  # type: ignore[no-any-return]


def test_alertmanager_opens_and_resolves_incidents(
    start_firebreak_stack: Callable[..., Firebreak], tmp_path: Path
) -> None:
    """Two alerts of one group open one incident; resolving them in Alertmanager resolves it."""
    stack = start_firebreak_stack()
    with start_alertmanager(tmp_path, stack.webhook_url, WEBHOOK_TOKEN) as am:
        firing = [am_alert("LLMKVCacheSaturated", 3600, pod=f"llama-{i}") for i in range(2)]
        assert httpx.post(f"{am.url}/api/v2/alerts", json=firing).status_code == 200
        opened = wait_for(lambda: [i for i in incidents(stack) if i["status"] == "triggered"], 30)
        assert len(opened) == 1  # type: ignore[arg-type]
        incident_id = opened[0]["id"]  # type: ignore[index]
        detail = httpx.get(f"{stack.api.url}/api/v1/incidents/{incident_id}", headers=API).json()
        assert len(detail["alerts"]) == 2

        timeline_url = f"{stack.api.url}/api/v1/incidents/{incident_id}/timeline"
        triaged = wait_for(  # the first triage lands asynchronously; then nothing more may
            lambda: [
                e for e in httpx.get(timeline_url, headers=API).json() if e["kind"] == "triaged"
            ],
            30,
        )
        assert triaged
        time.sleep(1)
        timeline_before = httpx.get(timeline_url, headers=API).json()
        for _ in range(3):  # Alertmanager hears the same alerts again: nothing new for us
            httpx.post(f"{am.url}/api/v2/alerts", json=firing)
        time.sleep(2.5)  # past group_interval: a changed group would have been re-sent
        assert httpx.get(timeline_url, headers=API).json() == timeline_before

        resolved = [am_alert("LLMKVCacheSaturated", -1, pod=f"llama-{i}") for i in range(2)]
        httpx.post(f"{am.url}/api/v2/alerts", json=resolved)
        wait_for(lambda: incidents(stack)[0]["status"] == "resolved", 30)
        final = incidents(stack)
        assert len(final) == 1
        assert final[0]["resolved_by"] == "alertmanager"
        timeline = httpx.get(timeline_url, headers=API).json()
        assert {e["id"] for e in timeline_before} < {e["id"] for e in timeline}
        assert [e["kind"] for e in timeline].count("alert_firing") == 2
        assert [e["kind"] for e in timeline].count("alert_resolved") == 2
    chat = stack.settings.chat_log_path.read_text()
    assert chat.count("--- post ") == 1
    assert "status=resolved" in chat


def test_reconciliation_resolves_what_alertmanager_forgot(
    start_firebreak_stack: Callable[..., Firebreak], tmp_path: Path
) -> None:
    """An alert Firebreak holds as firing but Alertmanager no longer has is resolved by the
    reconciler, and its incident with it; alerts Alertmanager still holds stay firing."""
    with start_alertmanager(tmp_path, "http://127.0.0.1:9/none", WEBHOOK_TOKEN) as am:
        stack = start_firebreak_stack(alertmanager_url=am.url)
        httpx.post(
            f"{am.url}/api/v2/alerts", json=[am_alert("GPUXidError", 3600, Hostname="gpu-node-3")]
        )
        held = wait_for(lambda: httpx.get(f"{am.url}/api/v2/alerts").json(), 10)
        held_fp = held[0]["fingerprint"]  # type: ignore[index]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}
        for fingerprint, key in ((held_fp, "held"), ("0123456789abcdef", "lost")):
            payload = group(alert("GPUXidError", fingerprint=fingerprint), group_key=key)
            assert (
                httpx.post(stack.webhook_url, content=body(payload), headers=headers).status_code
                == 200
            )
        stack.api.container.tasks.enqueue("firebreak.alerts.reconcile", [])
        wait_for(lambda: any(i["status"] == "resolved" for i in incidents(stack)), 30)
        by_key = {i["id"]: i for i in incidents(stack)}
        assert by_key[2]["status"] == "resolved"
        assert by_key[2]["resolved_by"] == "reconciler"
        assert by_key[1]["status"] == "triggered"
        assert (
            reconcile_alerts(
                stack.api.container.store, AlertmanagerAlertSource(am.url), datetime.now(UTC)
            )
            == []
        )
