"""Alertmanager webhook v4 bodies shaped like the ones Alertmanager 0.25+ sends."""

from __future__ import annotations

import json
from typing import Any

ZERO = "0001-01-01T00:00:00Z"


def alert(
    name: str = "LLMKVCacheSaturated",
    status: str = "firing",
    fingerprint: str = "f1a2b3c4d5e6f708",
    starts_at: str = "2026-11-28T10:00:00Z",
    ends_at: str = ZERO,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": name,
            "severity": "critical",
            "model_name": "llama-3-70b-instruct",
            **labels,
        },
        "annotations": {
            "summary": f"{name} on llama-3-70b-instruct",
            "runbook_url": "https://runbooks/x",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def group(
    *alerts: dict[str, Any],
    group_key: str = '{}:{alertname="LLMKVCacheSaturated", model_name="llama-3-70b-instruct"}',
    receiver: str = "firebreak",
    truncated: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    alerts_list = list(alerts) or [alert()]
    status = "firing" if any(a["status"] == "firing" for a in alerts_list) else "resolved"
    common = {
        "alertname": alerts_list[0]["labels"]["alertname"],
        "model_name": "llama-3-70b-instruct",
    }
    return {
        "receiver": receiver,
        "status": status,
        "alerts": alerts_list,
        "groupLabels": common,
        "commonLabels": {**common, "severity": "critical", "service": "llm-serving"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
        **extra,
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
