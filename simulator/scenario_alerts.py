"""The alerts a recorded scenario raises, as the shipped rules and Alertmanager deliver them.

`ALERTS` names, per fault kind, the alerts deploy/prometheus/rules/genai.yml raises on it, the
first one first; a control raises a TTFT burn alert with nothing behind it. `alert_for` gives
the first one's group as Firebreak receives it: Alertmanager groups by alertname and model_name
and hands over the labels all of the group's alerts share. Serving alerts carry ``model_name``
(and ``namespace`` where the rule keeps it). GPU alerts follow the rules' joins: one alert per
faulty GPU with its dcgm-exporter series labels (pod / namespace / container only with pod
mapping), named by its pod's model with pod mapping, else once per model with pods on its node
(kube-state-metrics), else unnamed; the faulty GPUs and the node's pods are read back from the
recorded OpenMetrics history at the alert's start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from simulator.catalog import DEFAULT_FLEET, NAMESPACE
from simulator.faults import Fault, FaultKind

MODELS = tuple(spec.name for spec in DEFAULT_FLEET)
CONTROL = "control"
GPU_KINDS = frozenset({"gpu_xid", "thermal"})
ALERTS: dict[str, tuple[str, ...]] = {
    "saturation": ("LLMKVCacheSaturated", "LLMTTFTErrorBudgetBurn"),
    "gpu_xid": ("GPUXidError",),
    "bad_deploy": ("LLMErrorRatioAfterDeploy", "LLMModelDrift"),
    "thermal": ("GPUThermalThrottling",),
    "upstream_errors": ("LLMServerErrors",),
    CONTROL: ("LLMTTFTErrorBudgetBurn",),
}
"""The alerts each fault raises in deploy/prometheus/rules/genai.yml, the first one first."""
SERVING_ALERT_LABELS = {"LLMKVCacheSaturated": ("namespace", "model_name")}
"""Labels a serving alert keeps besides model_name (its `by` clause)."""
SEVERITY = {
    "LLMKVCacheSaturated": "warning",
    "LLMTTFTErrorBudgetBurn": "critical",
    "GPUXidError": "critical",
    "GPUThermalThrottling": "warning",
    "LLMErrorRatioAfterDeploy": "critical",
    "LLMModelDrift": "warning",
    "LLMServerErrors": "warning",
}


@dataclass(frozen=True)
class Alert:
    """What Alertmanager hands Firebreak: the group's common labels and the alert names."""

    names: tuple[str, ...]
    labels: dict[str, str]
    started_ts: float


def alert_for(
    kind: str,
    model: str,
    fault: Fault | None,
    path: Path,
    alert_ts: float,
    *,
    rolled_out_recently: bool = False,
) -> tuple[Alert, list[str]]:
    """The first alert a fault of `kind` on `model` raises by `alert_ts`, recorded at `path`,
    as Alertmanager groups it (by alertname, model_name); notes say what could not be found.

    Server errors within 30 minutes of a rollout of the model (`rolled_out_recently`) raise
    LLMErrorRatioAfterDeploy, and Alertmanager inhibits the generic LLMServerErrors.

    GPU alerts follow the shipped rules: one alert per faulty GPU (the one reporting the XID,
    or each thermally throttled GPU on the node) with its DCGM series labels, named by its own
    pod's model with pod mapping, else once per model with pods on its node, else unnamed. The
    incident is the group of the faulty model; its labels are what the group's alerts share.
    """
    names = ALERTS[kind]
    if rolled_out_recently and names[0] == "LLMServerErrors":
        names = ("LLMErrorRatioAfterDeploy",)
    static = {"alertname": names[0], "severity": SEVERITY[names[0]], "service": "llm-serving"}
    if kind not in GPU_KINDS or fault is None:
        keep = SERVING_ALERT_LABELS.get(names[0], ("model_name",))
        serving = {"model_name": model, "namespace": NAMESPACE}
        return Alert(names, static | {k: serving[k] for k in keep}, alert_ts), []
    firing, models_on_node = _firing_gpus(path, fault, alert_ts)
    if not firing:
        return Alert(names, dict(static), alert_ts), [f"no GPU alert on {fault.node} at the alert"]
    alerts = []
    for gpu in firing:
        series = static | gpu
        if "pod" in gpu:
            alerts.append(series | {"model_name": _model_of_pod(gpu["pod"])})
        else:
            alerts.extend(series | {"model_name": m} for m in models_on_node)
            alerts.extend([] if models_on_node else [series])
    ours = [a for a in alerts if a.get("model_name") == model] or alerts
    group = [a for a in alerts if a.get("model_name") == ours[0].get("model_name")]
    common = {k: v for k, v in group[0].items() if all(a.get(k) == v for a in group)}
    return Alert(names, common, alert_ts), []


def _model_of_pod(pod: str) -> str:
    """The model a pod serves: its Deployment is `<model>-<pool>`."""
    return next((m for m in MODELS if pod.startswith(m + "-")), pod)


_SAMPLE = re.compile(r"^([\w:]+)\{(.*)\} (\S+) (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
THERMAL_REASONS = 0x20 | 0x40
"""Clock event reason bits of SW and HW thermal slowdown."""
LOOKBACK_S = 60.0


def _firing_gpus(
    path: Path, fault: Fault, alert_ts: float
) -> tuple[list[dict[str, str]], list[str]]:
    """From the history at `alert_ts`: the series labels of the GPUs whose alert fires on the
    fault's node, and the models with pods on that node (kube-state-metrics)."""
    metrics: tuple[str, ...] = ("DCGM_FI_DEV_XID_ERRORS",)
    if fault.kind is FaultKind.THERMAL:
        metrics = ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS")
    host, node = f'Hostname="{fault.node}"', f'node="{fault.node}"'
    latest: dict[str, tuple[float, dict[str, str]]] = {}
    models: set[str] = set()
    with path.open() as lines:
        for line in lines:
            gpu_line = line.startswith(metrics) and host in line
            if not gpu_line and not (line.startswith("kube_pod_info{") and node in line):
                continue
            match = _SAMPLE.match(line.rstrip("\n"))
            if match is None or not alert_ts - LOOKBACK_S < float(match.group(4)) <= alert_ts:
                continue
            labels = dict(_LABEL.findall(match.group(2)))
            if gpu_line:
                latest[labels.get("UUID", line)] = (float(match.group(3)), labels)
            else:
                models.add(_model_of_pod(labels.get("pod", "")))
    if fault.kind is FaultKind.GPU_XID:
        firing = [g for v, g in latest.values() if v != 0 and g.get("gpu") == fault.gpu]
    else:
        firing = [g for v, g in latest.values() if int(v) & THERMAL_REASONS]
    return firing, sorted(models & set(MODELS))
