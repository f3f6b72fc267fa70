"""Evidence facts: what a stored triage report establishes, as flat strings a runbook can
match (`match.evidence`) and template (`{{ evidence.node }}`).

Facts come only from the top hypothesis and only from evidence it cites, so a runbook never
acts on a finding triage did not blame. A GPU fault whose evidence is a hardware XID names

    xid, xid_class, xid_urgency, xid_action, xid_meaning   from NVIDIA's catalogue (xids.yml)
    node, gpu, pod                                         where dcgm-exporter saw it

(`node` is dcgm-exporter's Hostname, the Kubernetes node name). An application XID never
yields a node: the program faulted, not the GPU. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from bot.correlation.xids import XidCatalogue, default_xids
from bot.domain.findings import HypothesisKind

XID_SIGNAL = "xid_errors"


def _top(report: dict[str, Any]) -> dict[str, Any] | None:
    ranked = [h for h in report.get("hypotheses") or [] if isinstance(h, dict)]
    return max(ranked, key=lambda h: float(h.get("confidence") or 0.0), default=None)


def evidence_facts(
    report: dict[str, Any] | None, xids: XidCatalogue | None = None
) -> dict[str, str]:
    """Facts the top hypothesis's evidence establishes; empty when it establishes none."""
    if not report:
        return {}
    top = _top(report)
    if top is None:
        return {}
    facts = {"hypothesis": str(top.get("kind", ""))}
    if top.get("kind") != HypothesisKind.GPU_FAULT.value:
        return facts
    if XID_SIGNAL not in (top.get("evidence") or []):
        return facts
    finding = next((f for f in report.get("findings") or [] if f.get("signal") == XID_SIGNAL), None)
    if finding is None or finding.get("status") != "moved" or not finding.get("peak"):
        return facts
    code = int(float(finding["peak"]))
    entry = (xids or default_xids()).entry(code)
    facts.update(
        xid=str(code),
        xid_class=entry.xid_class.value,
        xid_urgency=entry.urgency.value,
        xid_action=entry.action.value,
        xid_meaning=entry.meaning,
    )
    if entry.is_application:
        return facts
    labels = finding.get("series_labels") or {}
    for fact, label in (("node", "Hostname"), ("gpu", "gpu"), ("pod", "pod")):
        if labels.get(label):
            facts[fact] = str(labels[label])
    return facts
