"""Recorded fault scenarios: two hours of fleet history around one fault, and the alert it raised.

A scenario is a fault kind (or ``control``: no fault), a variant (dcgm-exporter pod mapping on
or off, old or new vLLM and DCGM metric names, two models per node, a harmless rollout of the
same model shortly before the fault) and a seed. ``record`` runs the simulation for `HISTORY_S`
at a `SCRAPE_INTERVAL_S` scrape interval: about 90 minutes of baseline, the fault at a seeded
moment, the alert a seeded 1-5 minutes later, and at least 10 more minutes of history. It is
written as OpenMetrics with timestamps from ``start_ts``, ready for
``promtool tsdb create-blocks-from openmetrics``. Variants that differ only in how the fleet is
exported share one simulation (`incident_key`), so they compare the same incident.

Each recording carries the alert Firebreak would receive for it (simulator/scenario_alerts.py:
the names the shipped rules raise, the group's common labels) and when triage runs, Alertmanager's
group wait after the alert starts.

    scenarios = plan(KINDS, VARIANTS.values(), seeds=range(2))
    starts = time_slots(len(scenarios), now_ts=time.time())
    recordings = record_all(scenarios, starts, folder, backfill=backfill_openmetrics)

Nothing here imports Firebreak: backfilling is passed in, so the simulator stays a stand-in.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from simulator.faults import Fault, FaultKind, FaultRequest
from simulator.history import ExporterOptions, HistoryWriter
from simulator.scenario_alerts import CONTROL, GPU_KINDS, MODELS, Alert, alert_for
from simulator.simulation import Simulation

SCRAPE_INTERVAL_S = 15.0
HISTORY_S = 7200.0
FAULT_AT_S = (90 * 60.0, 100 * 60.0)
"""The fault starts at a seeded moment in this range of the history."""
ALERT_DELAY_S = (60.0, 300.0)
"""Rule `for:`, evaluation and detection: the alert starts this long after the fault."""
DECOY_BEFORE_FAULT_S = (4 * 60.0, 15 * 60.0)
"""A harmless rollout of the same model lands this long before the fault (decoy variants)."""
GROUP_WAIT_S = 10.0
"""Alertmanager's group_wait (deploy/alertmanager): triage runs this long after the alert."""
SLOT_S = 4 * 3600.0
"""Room per scenario in one TSDB: two 2 h block ranges, so no two scenarios share a block."""

INTENSITIES = (0.5, 0.8, 0.3)
XIDS = (79, 48)
KINDS: tuple[str, ...] = (*(kind.value for kind in FaultKind), CONTROL)
EXPECTED: dict[str, str] = {
    "saturation": "capacity_saturation",
    "gpu_xid": "gpu_fault",
    "bad_deploy": "bad_deploy",
    "thermal": "thermal_throttling",
    "upstream_errors": "upstream_errors",
    CONTROL: "unknown",
}
"""The cause triage should rank first for each kind of scenario."""


Names = Literal["new", "old"]


@dataclass(frozen=True)
class Variant:
    """How the fleet is exported and what else happens around the fault."""

    name: str
    pod_mapping: bool = True
    vllm_names: Names = "new"
    dcgm_names: Names = "new"
    shared_nodes: bool = False
    decoy_rollout: bool = False

    def exporter_options(self) -> ExporterOptions:
        return ExporterOptions(
            dcgm_pod_mapping=self.pod_mapping,
            vllm_names=self.vllm_names,
            dcgm_names=self.dcgm_names,
        )


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("baseline"),
        Variant("no-pod-mapping", pod_mapping=False),
        Variant("old-vllm-names", vllm_names="old"),
        Variant("old-dcgm-names", dcgm_names="old"),
        Variant("shared-nodes", shared_nodes=True),
        Variant("shared-nodes-no-pod-mapping", shared_nodes=True, pod_mapping=False),
        Variant("decoy-rollout", decoy_rollout=True),
    )
}


@dataclass(frozen=True)
class Scenario:
    """One fault (or none) on one model, exported one way, from one seed."""

    kind: str
    variant: Variant
    seed: int
    model: str = MODELS[0]
    intensity: float = INTENSITIES[0]
    xid: int | None = None
    """For gpu_xid: the XID the GPU reports (79 fell off the bus, 48 double-bit ECC)."""

    @property
    def name(self) -> str:
        xid = f"-xid{self.xid}" if self.xid else ""
        return f"{self.kind}{xid}/{self.variant.name}/s{self.seed}"

    @property
    def expected(self) -> str:
        return EXPECTED[self.kind]


@dataclass(frozen=True)
class Recording:
    """A recorded scenario: where its history sits in time, and the alert it raised."""

    scenario: Scenario
    start_ts: float
    fault_ts: float | None
    alert: Alert
    end_ts: float
    triage_ts: float
    """When triage runs: the alert's start plus Alertmanager's group wait."""
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recording:
        scenario = dict(data["scenario"])
        scenario["variant"] = Variant(**scenario["variant"])
        alert = dict(data["alert"])
        alert["names"] = tuple(alert["names"])
        return cls(
            scenario=Scenario(**scenario),
            start_ts=data["start_ts"],
            fault_ts=data["fault_ts"],
            alert=Alert(**alert),
            end_ts=data["end_ts"],
            triage_ts=data["triage_ts"],
            notes=tuple(data.get("notes", ())),
        )


def plan(kinds: Iterable[str], variants: Iterable[Variant], seeds: Iterable[int]) -> list[Scenario]:
    """Every kind under every variant for every seed; model, intensity and XID vary by seed.

    Variants that differ only in how the fleet is exported get the same incident (model,
    intensity, XID, timing), so they share one simulation and compare like with like.
    """
    scenarios = []
    kinds, variants = list(kinds), list(variants)
    for seed in seeds:
        for variant in variants:
            twist = int(variant.shared_nodes) + 2 * int(variant.decoy_rollout)
            for k_index, kind in enumerate(kinds):
                if kind not in EXPECTED:
                    raise ValueError(f"unknown scenario kind {kind!r}; known: {', '.join(KINDS)}")
                scenarios.append(
                    Scenario(
                        kind=kind,
                        variant=variant,
                        seed=seed,
                        model=MODELS[(seed + k_index + twist) % len(MODELS)],
                        intensity=INTENSITIES[(seed + twist) % len(INTENSITIES)],
                        xid=XIDS[(seed + twist) % len(XIDS)] if kind == "gpu_xid" else None,
                    )
                )
    return scenarios


def time_slots(count: int, now_ts: float) -> list[float]:
    """Start times for `count` histories, one `SLOT_S` apart, the newest ending before now."""
    newest = math.floor(now_ts / 7200.0) * 7200.0 - SLOT_S
    return [newest - i * SLOT_S for i in range(count)]


def incident_key(scenario: Scenario) -> tuple[object, ...]:
    """What makes a scenario's simulation: everything but how the fleet is exported."""
    variant = scenario.variant
    return (
        scenario.kind, scenario.seed, scenario.model, scenario.intensity, scenario.xid,
        variant.shared_nodes, variant.decoy_rollout,
    )  # fmt: skip


def record(scenario: Scenario, start_ts: float, path: Path) -> Recording:
    """Run the scenario's simulation and write its history to `path` as OpenMetrics."""
    return record_together([scenario], [start_ts], [path])[0]


def record_together(
    scenarios: Sequence[Scenario], starts: Sequence[float], paths: Sequence[Path]
) -> list[Recording]:
    """Record scenarios with one `incident_key` from one simulation, each exported its way."""
    first = scenarios[0]
    if any(incident_key(s) != incident_key(first) for s in scenarios):
        raise ValueError("scenarios recorded together must share their incident_key")
    rng = random.Random("scenario|" + "|".join(map(str, incident_key(first))))
    fault_at_s = rng.uniform(*FAULT_AT_S)
    alert_at_s = fault_at_s + rng.uniform(*ALERT_DELAY_S)
    decoy_at_s = fault_at_s - rng.uniform(*DECOY_BEFORE_FAULT_S)

    simulation = Simulation(first.seed, shared_nodes=first.variant.shared_nodes)
    writers = [
        HistoryWriter(s.variant.exporter_options(), start)
        for s, start in zip(scenarios, starts, strict=True)
    ]
    faults: list[Fault] = []

    def inject() -> None:
        nodes = simulation.fleet.nodes_of(first.model)
        request = FaultRequest(
            kind=FaultKind(first.kind),
            model=first.model,
            intensity=first.intensity,
            node=rng.choice(nodes) if first.kind in GPU_KINDS else None,
            xid=first.xid,
        )
        faults.append(simulation.inject(request))

    events: list[tuple[float, Callable[[], object]]] = []
    if first.variant.decoy_rollout:
        events.append((decoy_at_s, lambda: simulation.release(first.model)))
    if first.kind != CONTROL:
        events.append((fault_at_s, inject))
    events.sort(key=lambda event: event[0])

    for writer in writers:
        writer.scrape(simulation)
    while simulation.clock_s < HISTORY_S - 1e-6:
        next_scrape_s = min(HISTORY_S, simulation.clock_s + SCRAPE_INTERVAL_S)
        while events and events[0][0] <= next_scrape_s:
            at_s, act = events.pop(0)
            simulation.advance(at_s - simulation.clock_s)
            act()
        simulation.advance(next_scrape_s - simulation.clock_s)
        for writer in writers:
            writer.scrape(simulation)

    recordings = []
    for scenario, start_ts, writer, path in zip(scenarios, starts, writers, paths, strict=True):
        with path.open("w") as out:
            writer.write(out)
        alert_ts = start_ts + alert_at_s
        fault = faults[0] if faults else None
        alert, notes = alert_for(
            scenario.kind,
            scenario.model,
            fault,
            path,
            alert_ts,
            rolled_out_recently=first.variant.decoy_rollout,  # 5-20 min before the alert
        )
        recordings.append(
            Recording(
                scenario=scenario,
                start_ts=start_ts,
                fault_ts=None if fault is None else start_ts + fault_at_s,
                alert=alert,
                end_ts=start_ts + HISTORY_S,
                triage_ts=alert_ts + GROUP_WAIT_S,
                notes=tuple(notes),
            )
        )
    return recordings


def _record_and_backfill(
    scenarios: Sequence[Scenario],
    starts: Sequence[float],
    folders: Sequence[Path],
    backfill: Callable[[Path, Path], None],
    keep_openmetrics: bool,
) -> list[Recording]:
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    histories = [folder / "history.om" for folder in folders]
    recordings = record_together(scenarios, starts, histories)
    for folder, history in zip(folders, histories, strict=True):
        backfill(history, folder / "blocks")
        if not keep_openmetrics:
            history.unlink()
    return recordings


def record_all(
    scenarios: Sequence[Scenario],
    starts: Sequence[float],
    folder: Path,
    backfill: Callable[[Path, Path], None],
    *,
    workers: int = 2,
    keep_openmetrics: bool = False,
) -> list[Recording]:
    """Record each scenario at its start, backfill it, and gather every block in folder/data.

    Scenarios sharing an `incident_key` are simulated once. `backfill(openmetrics_file,
    blocks_dir)` writes TSDB blocks (promtool); with `workers` > 1 it runs in worker processes,
    so it must be a module-level function. The recordings are also saved in the folder
    (`load_recordings`), in the order of `scenarios`.
    """
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    folders = [folder / "scenarios" / f"{i:03d}" for i in range(len(scenarios))]
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, scenario in enumerate(scenarios):
        groups.setdefault(incident_key(scenario), []).append(i)
    work = [
        (
            [scenarios[i] for i in members],
            [starts[i] for i in members],
            [folders[i] for i in members],
            backfill,
            keep_openmetrics,
        )
        for members in groups.values()
    ]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(_record_and_backfill, *zip(*work, strict=True)))
    else:
        done = [_record_and_backfill(*args) for args in work]
    by_index: dict[int, Recording] = {}
    for members, recordings in zip(groups.values(), done, strict=True):
        by_index.update(zip(members, recordings, strict=True))
    for scenario_folder in folders:
        for block in sorted((scenario_folder / "blocks").iterdir()):
            block.rename(data / block.name)
        shutil.rmtree(scenario_folder / "blocks")
    recordings = [by_index[i] for i in range(len(scenarios))]
    (folder / "recordings.json").write_text(json.dumps([r.to_json() for r in recordings], indent=1))
    return recordings


def load_recordings(folder: Path) -> list[Recording]:
    """The recordings `record_all` wrote to `folder`."""
    data = json.loads((folder / "recordings.json").read_text())
    return [Recording.from_json(item) for item in data]
