"""The shipped runbooks and a targets file, rewritten for a time-compressed fleet (the demo,
tests): the same steps, matchers, approval and guards, with waits of a second, short step
leases, verification every second over a short PromQL window once that window has passed, and
targets pointing at a simulator."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bot.domain.durations import parse_duration_s

SHIPPED = Path(__file__).resolve().parents[2] / "runbooks"
STEP_LEASE_S = 4.0
# A saturated replica's queue drains only once new replicas are warm: in the simulated fleet,
# TTFT p95 over the verify window is back under 2.5 s 280-560 simulated seconds after the
# scale, the later the longer the queue grew first. Scale-out measures from 600, two misses
# allowed.
SCALE_OUT_SETTLE_SIM_S = 600.0


def write_fast_runbooks(
    folder: Path,
    *,
    window: str = "10s",
    speed: float = 30.0,
    without_verify: Iterable[str] = (),
    overrides: dict[str, dict[str, Any]] | None = None,
    verify: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Copy every shipped runbook into `folder`, made quick for a fleet at `speed`x;
    `overrides` sets top-level keys, `verify` sets keys of a runbook's verification."""
    folder.mkdir(parents=True, exist_ok=True)
    skip_verify = set(without_verify)
    for source in sorted(SHIPPED.glob("*.yml")):
        document: dict[str, Any] = yaml.safe_load(source.read_text())
        for step in [*document["steps"], *document.get("revert", [])]:
            if step["action"] == "wait":
                step["params"]["duration_s"] = 1
            step["timeout_s"] = STEP_LEASE_S
        analysis = document.get("verify")
        if analysis is not None and document["name"] in skip_verify:
            del document["verify"]
        elif analysis is not None:
            # The first measurement waits out the window, so it sees only post-action data.
            analysis.update(initial_delay_s=parse_duration_s(window), interval_s=1, count=3)
            if document["name"] == "scale-out":
                settle_s = SCALE_OUT_SETTLE_SIM_S / speed
                analysis.update(initial_delay_s=settle_s, count=4, failure_limit=2)
            analysis["query"] = analysis["query"].replace("[2m]", f"[{window}]")
            analysis.update((verify or {}).get(document["name"], {}))
        if document["name"] == "scale-out":
            document["parameters"]["replicas"]["default"] = 8
        document.update((overrides or {}).get(document["name"], {}))
        (folder / source.name).write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def write_targets(path: Path, base_url: str) -> Path:
    """A targets file naming the simulator's two models on its control API."""
    targets = [
        {"name": name, "kind": "http", "base_url": base_url, "timeout_s": 5}
        for name in ("llama-3-70b-instruct", "reranker-v2")
    ]
    path.write_text(yaml.safe_dump({"targets": targets}))
    return path
