"""The offline history writer's OpenMetrics, checked by the real promtool backfill."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

from bot.demo.monitoring import binary
from simulator.faults import FaultKind, FaultRequest
from simulator.history import ExporterOptions, HistoryWriter
from simulator.simulation import Simulation

START_TS = 1_700_000_000.0
LLAMA = "llama-3-70b-instruct"


def history(options: ExporterOptions, shared_nodes: bool = False) -> str:
    """Ten minutes at a 15 s scrape interval with a release and a GPU XID on the way."""
    simulation = Simulation(seed=5, shared_nodes=shared_nodes)
    writer = HistoryWriter(options, start_ts=START_TS)
    for step in range(40):
        if step == 8:
            simulation.release("reranker-v2")
        if step == 20:
            simulation.inject(FaultRequest(FaultKind.GPU_XID, LLAMA))
        simulation.advance(15)
        writer.scrape(simulation)
    writer.scrape(simulation)
    out = io.StringIO()
    writer.write(out)
    return out.getvalue()


def test_promtool_backfills_the_history(tmp_path: Path) -> None:
    """promtool tsdb create-blocks-from openmetrics accepts the written history."""
    old = ExporterOptions(dcgm_pod_mapping=False, vllm_names="old", dcgm_names="old")
    for options, shared in ((ExporterOptions(), False), (old, True)):
        path = tmp_path / f"history-{shared}.om"
        path.write_text(history(options, shared_nodes=shared))
        result = subprocess.run(
            [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics",
             str(path), str(tmp_path / f"blocks-{shared}")],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert list((tmp_path / f"blocks-{shared}").iterdir())


def test_history_groups_families_and_labels_targets() -> None:
    """Each family is one block; every sample has job, instance and a timestamp; EOF last."""
    text = history(ExporterOptions())
    lines = text.splitlines()
    assert lines[-1] == "# EOF"
    families = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    assert len(families) == len(set(families))
    jobs: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([^{]+)\{(.*)\} (\S+) (\d+\.\d{3})", line)
        assert match, line
        assert 'instance="' in match[2]
        job = re.search(r'job="([^"]+)"', match[2])
        assert job, line
        jobs.setdefault(job[1], set()).add(match[1])
    assert set(jobs) == {"vllm", "dcgm-exporter", "kube-state-metrics", "drift-monitor"}
    assert "http_requests_total" in jobs["vllm"]
    assert 'instance="ksm:8080"' in text
    assert re.search(r'job="dcgm-exporter"', text)
    assert re.search(r'instance="10\.0\.\d+\.\d+:9400"', text)
    assert re.search(r'instance="10\.244\.\d+\.\d+:8000"', text)
