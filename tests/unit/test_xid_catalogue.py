"""NVIDIA's XID catalogue as data, and how triage classifies a GPU's XID with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.correlation.engine import correlate
from bot.correlation.facts import evidence_facts
from bot.correlation.xids import (
    Urgency,
    XidAction,
    XidCatalogueError,
    XidClass,
    default_xids,
    load_xids,
)
from bot.domain.findings import HypothesisKind, TriageReport
from tests.fakes.metrics import FakeMetricsSource, stepped

ONSET = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
ALERT_AT = ONSET + timedelta(minutes=3)
NOW = ONSET + timedelta(minutes=8)
LABELS = {"model_name": "llama-3-8b"}
POD = {"namespace": "genai", "pod": "llama-3-8b-primary-7c9d5f8b6d-x2k4q"}
NODE = "gpu-node-07"
GPU = {"Hostname": NODE, "gpu": "3", "UUID": "GPU-3333"}


def triage_with_xid(code: int) -> TriageReport:
    """One pod on one GPU that reports `code` from the onset, its engine's errors rising."""
    source = FakeMetricsSource(
        {
            "group by (namespace, pod) ({__name__": stepped(POD, 1, 1, ONSET),
            "kube_pod_info{namespace": stepped(
                {**POD, "node": NODE, "created_by_name": "llama-3-8b-primary-7c9d5f8b6d"},
                1,
                1,
                ONSET,
            ),
            "group by (Hostname, gpu, UUID, pod, namespace)": stepped(GPU, 1, 1, ONSET),
            "DCGM_FI_DEV_XID_ERRORS": stepped(GPU, 0, code, ONSET),
            "DCGM_FI_DEV_GPU_TEMP{": stepped(GPU, 60, 60, ONSET),
            "http_requests_total": stepped({}, 10, 10, ONSET),
        }
    )
    return correlate(source, LABELS, ["GPUXidError"], ALERT_AT, NOW)


def test_shipped_catalogue_classes_follow_nvidia() -> None:
    """13, 31, 43 and 45 are the application's; ECC, row remap, NVLink, bus and GSP are hardware."""
    xids = default_xids()
    assert {c for c in (13, 31, 43, 45) if xids.entry(c).xid_class is XidClass.APPLICATION} == {
        13,
        31,
        43,
        45,
    }
    hardware = (48, 63, 64, 74, 79, 92, 94, 95, 119, 120)
    assert all(xids.entry(c).xid_class is XidClass.HARDWARE for c in hardware)


def test_hardware_codes_differ_in_urgency_and_action() -> None:
    """A GPU off the bus is critical and drains; a high single-bit rate is low and only watched."""
    xids = default_xids()
    assert (xids.entry(79).urgency, xids.entry(79).action) == (
        Urgency.CRITICAL,
        XidAction.DRAIN_NODE,
    )
    assert (xids.entry(92).urgency, xids.entry(92).action) == (Urgency.LOW, XidAction.NONE)
    assert xids.entry(95).action is XidAction.RESET_GPU
    assert xids.entry(64).action is XidAction.SERVICE_NODE


def test_no_application_code_drains_a_node() -> None:
    """Every application XID's action stays at or below restarting the pod."""
    xids = default_xids()
    application = [c for c in xids.codes() if xids.entry(c).is_application]
    assert application
    assert not any(xids.entry(c).action.drains_node for c in application)


def test_unknown_code_answers_the_unknown_entry() -> None:
    """A code the catalogue lacks is described as unknown and asks for no node action."""
    entry = default_xids().entry(999)
    assert not default_xids().known(999)
    assert entry.action is XidAction.NONE
    assert "not in" in entry.meaning


def test_application_code_asking_for_a_drain_is_refused(tmp_path: Path) -> None:
    """A catalogue that would drain a node for an application XID fails to load, naming it."""
    bad = tmp_path / "xids.yml"
    bad.write_text(
        "unknown: {meaning: unknown, class: hardware, urgency: low, action: none}\n"
        "codes:\n  13: {meaning: x, class: application, urgency: low, action: drain_node}\n",
        encoding="utf-8",
    )
    with pytest.raises(XidCatalogueError, match=r"codes\.13.*cannot ask to drain the node"):
        load_xids(bad)


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    """A misspelt field is an error, not silently ignored."""
    bad = tmp_path / "xids.yml"
    bad.write_text(
        "unknown: {meaning: unknown, class: hardware, urgency: low, action: none}\n"
        "codes:\n  79: {meaning: x, class: hardware, urgency: low, action: none, acton: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(XidCatalogueError, match="acton"):
        load_xids(bad)


@pytest.mark.parametrize("code", [79, 48, 94])
def test_hardware_xid_is_a_gpu_fault_that_drains_its_node(code: int) -> None:
    """A new hardware XID makes gpu_fault the top cause and names the node to drain."""
    report = triage_with_xid(code)
    assert report.top is not None
    assert report.top.kind is HypothesisKind.GPU_FAULT
    facts = evidence_facts(report.to_dict())
    assert facts["xid"] == str(code)
    assert facts["xid_class"] == "hardware"
    assert XidAction(facts["xid_action"]).drains_node
    assert (facts["node"], facts["gpu"]) == (NODE, "3")


def test_evidence_text_names_the_node_gpu_meaning_and_action() -> None:
    """The GPU fault's explanation reads as a note: where, what, whose fault, what to do."""
    report = triage_with_xid(79)
    assert report.top is not None
    assert (
        f"XID 79 on {NODE} GPU 3 (pod {POD['pod']}): GPU has fallen off the bus — hardware; "
        "drain the node" in report.top.explanation
    )


@pytest.mark.parametrize("code", [13, 43])
def test_application_xid_yields_no_node_action(code: int) -> None:
    """An application XID is never blamed on the GPU and names no node to act on."""
    report = triage_with_xid(code)
    gpu_fault = next((h for h in report.hypotheses if h.kind is HypothesisKind.GPU_FAULT), None)
    assert gpu_fault is None or "xid_errors" not in gpu_fault.evidence
    facts = evidence_facts(report.to_dict())
    assert "node" not in facts
    assert "xid_action" not in facts or not XidAction(facts["xid_action"]).drains_node


def test_facts_ignore_an_xid_the_top_hypothesis_does_not_cite() -> None:
    """Facts come from the top hypothesis's own evidence, never from a bystander finding."""
    report = triage_with_xid(79).to_dict()
    for hypothesis in report["hypotheses"]:
        hypothesis["evidence"] = [e for e in hypothesis["evidence"] if e != "xid_errors"]
    assert "node" not in evidence_facts(report)
