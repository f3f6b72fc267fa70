"""`firebreak demo` closes the whole loop on this machine within its time limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.domain.telemetry import CATALOGUE, STAGES
from tests.processes import ROOT

TIME_LIMIT_S = 240


def test_default_scenario_closes_the_loop(tmp_path: Path) -> None:
    """Saturation is diagnosed and scaled out unattended, the bad deploy is announced as a
    change, diagnosed citing it and rolled back after approval, and Markdown and HTML
    postmortems are left behind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREBREAK_", "OPENAI_"))}
    env["FIREBREAK_HOME"] = str(tmp_path / "home")
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output, errors = demo.communicate(timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        demo.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops everything it started
        output, errors = demo.communicate(timeout=60)
        pytest.fail(f"the demo ran past {TIME_LIMIT_S}s:\n{output[-4000:]}\n{errors[-3000:]}")
    took_s = time.monotonic() - started
    assert demo.returncode == 0, output[-4000:] + errors[-3000:]
    assert took_s < 180
    assert "capacity_saturation" in output
    assert "bad_deploy" in output
    assert "approved by demo-oncall" in output
    assert "seen before: INC-1" in output  # incident memory: the repeat names the first deploy
    postmortems = tmp_path / "home" / "demo" / "postmortems"
    written = sorted(p.name for p in postmortems.iterdir())
    assert {"INC-1.md", "INC-1.html"} <= set(written)
    assert any(name.endswith(".html") and name != "INC-1.html" for name in written)
    assert "## Timeline" in (postmortems / "INC-1.md").read_text()
    assert "the deploy is announced to Firebreak: CHG-" in output
    cited = [
        p
        for p in postmortems.glob("*.md")
        if "announced by firebreak demo pipeline" in p.read_text()
    ]
    assert cited, "triage did not cite the deploy the demo announced"
    assert_every_stage_counted((tmp_path / "home" / "demo" / "metrics.txt").read_text())
    assert "llm         nothing counted (summaries were written offline" in output


def assert_every_stage_counted(page: str) -> None:
    """Firebreak's /metrics at the end of the demo has a non-zero sample for every stage but
    the LLM's (the demo summarises offline), and the cooldown that held the repeat's rollback
    was counted."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    for stage in set(STAGES) - {"llm"}:
        names = [n for spec in CATALOGUE if spec.stage == stage for n in spec.sample_names()]
        assert any(values.get(name) for name in names), f"{stage}: nothing counted"
    assert values["firebreak_guard_refusals_total"] >= 1
