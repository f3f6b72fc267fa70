"""`firebreak demo` closes the whole loop on this machine within its time limit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import ROOT

TIME_LIMIT_S = 240


def test_default_scenario_closes_the_loop(tmp_path: Path) -> None:
    """Saturation is diagnosed and scaled out unattended, the bad deploy is diagnosed and
    rolled back after approval, and Markdown and HTML postmortems are left behind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREBREAK_", "OPENAI_"))}
    env["FIREBREAK_HOME"] = str(tmp_path / "home")
    started = time.monotonic()
    demo = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
    )
    took_s = time.monotonic() - started
    output = demo.stdout
    assert demo.returncode == 0, output[-3000:] + demo.stderr[-3000:]
    assert took_s < 180
    assert "capacity_saturation" in output
    assert "bad_deploy" in output
    assert "approved by demo-oncall" in output
    postmortems = tmp_path / "home" / "demo" / "postmortems"
    written = sorted(p.name for p in postmortems.iterdir())
    assert {"INC-1.md", "INC-1.html"} <= set(written)
    assert any(name.endswith(".html") and name != "INC-1.html" for name in written)
    assert "## Timeline" in (postmortems / "INC-1.md").read_text()
