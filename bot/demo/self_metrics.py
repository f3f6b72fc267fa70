"""The demo's last look at Firebreak itself: its /metrics page saved beside the postmortems,
and, per stage, the samples that counted something."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from bot.domain.telemetry import CATALOGUE, STAGES

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})?\s+(\S+)")
_STAGE_OF = {name: spec.stage for spec in CATALOGUE for name in spec.sample_names()}


def stage_totals(page: str) -> dict[str, dict[str, float]]:
    """Per stage, each sample name's total over its label sets (histogram buckets left out),
    from a Prometheus text exposition."""
    totals: dict[str, dict[str, float]] = {stage: {} for stage in STAGES}
    for line in page.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match[1].endswith("_bucket") or match[1] not in _STAGE_OF:
            continue
        by_name = totals[_STAGE_OF[match[1]]]
        by_name[match[1]] = by_name.get(match[1], 0.0) + float(match[2])
    return totals


def save_metrics(api_url: str, path: Path, idle: dict[str, str] | None = None) -> list[str]:
    """Save the API's /metrics to `path`; answer one line per stage naming what it counted, or
    why nothing (`idle`: a stage's reason, such as no model being configured)."""
    page = httpx.get(f"{api_url}/metrics", timeout=10).raise_for_status().text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    lines = []
    for stage, by_name in stage_totals(page).items():
        counted = [f"{name} {value:g}" for name, value in by_name.items() if value]
        empty = "nothing counted" + (f" ({idle[stage]})" if idle and stage in idle else "")
        lines.append(f"  {stage:<11} {', '.join(counted) or empty}")
    return lines
