"""The shipped runbooks fit the shipped alert rules and triage hypotheses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.domain.durations import parse_duration_s
from bot.runbook.actions.registry import action_named
from bot.runbook.loader import load_directory

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "genai.yml"


def shipped_alert_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


@pytest.mark.parametrize(
    ("runbook", "alert", "hypothesis"),
    [
        ("scale-out", "LLMKVCacheSaturated", "capacity_saturation"),
        ("scale-out", "LLMTTFTErrorBudgetBurn", "capacity_saturation"),
        ("failover", "GPUXidError", "gpu_fault"),
        ("rollback", "LLMModelDrift", "bad_deploy"),
        ("rollback", "LLMErrorRatioAfterDeploy", "bad_deploy"),
    ],
)
def test_each_runbook_answers_its_alerts_and_hypothesis(
    runbook: str, alert: str, hypothesis: str
) -> None:
    """Every shipped runbook matches the shipped alerts it is for, and its triage hypothesis."""
    catalogue = {rb.name: rb for rb in load_directory(ROOT / "runbooks")}
    spec = catalogue[runbook].match
    assert alert in shipped_alert_names()
    assert all(m.matches({"alertname": alert}) for m in spec.matchers)
    assert hypothesis in {h.value for h in spec.hypotheses}


def test_every_alertname_a_runbook_names_exists() -> None:
    """No runbook waits for an alert the shipped rules never raise."""
    names = shipped_alert_names()
    for path in (ROOT / "runbooks").glob("*.yml"):
        for matcher in yaml.safe_load(path.read_text())["match"].get("matchers", []):
            found = re.fullmatch(r'alertname=~?"(.+)"', matcher)
            if found:
                assert set(found.group(1).split("|")) <= names, (path.name, matcher)


def test_only_scale_out_runs_unattended() -> None:
    """Failover and rollback need a human's approval; scale-out may run alone."""
    catalogue = {rb.name: rb for rb in load_directory(ROOT / "runbooks")}
    assert catalogue["scale-out"].approval.required is False
    assert catalogue["failover"].approval.required is True
    assert catalogue["rollback"].approval.required is True


def test_verification_waits_until_its_window_holds_only_post_action_data() -> None:
    """A verify query over a `[W]` range is first measured once the waits after the last step
    that acts, plus the initial delay, cover W: earlier, the fault's own data would fail it."""
    for runbook in load_directory(ROOT / "runbooks"):
        if runbook.verify is None:
            continue
        windows = [parse_duration_s(w) for w in re.findall(r"\[(\w+)\]", runbook.verify.query)]
        acting = [
            i
            for i, step in enumerate(runbook.steps)
            if (action := action_named(step.action)) is not None and action.TOUCHES_TARGET
        ]
        waits = sum(
            float(step.params.get("duration_s", 0))
            for step in runbook.steps[acting[-1] + 1 :]
            if step.action == "wait"
        )
        assert waits + runbook.verify.initial_delay_s >= max(windows, default=0), runbook.name
