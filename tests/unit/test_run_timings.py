"""Runs record when each step really started and finished, and summaries and postmortems tell
those times (not the run's start for every step)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.runbooks import FINAL_VERIFY_KEY, Run, RunState
from bot.postmortem import build_postmortem
from bot.postmortem.model import Postmortem
from bot.postmortem.render import render
from bot.runbook.executor import RunbookExecutor
from bot.runbook.guards import Guards
from bot.runbook.loader import load_directory
from bot.runbook.planner import Planner
from bot.runbook.targets import BoundTarget, TargetRegistry
from bot.services.run_views import run_story
from bot.summary.offline import OfflineSummariser, run_sentence
from tests.fakes.runbooks import (
    FakeClock,
    FakeGuardStore,
    FakeRunJournal,
    FakeRunStore,
    FakeTarget,
    FakeVerifyMetrics,
)
from tests.fakes.summary import make_dossier

RUNBOOKS = load_directory(Path(__file__).resolve().parents[2] / "runbooks")
MODEL = "llama-3-8b"
LABELS = {"alertname": "LLMKVCacheSaturated", "model_name": MODEL}
SCALE_S = 7.0


@dataclass
class SlowTarget(FakeTarget):
    """A target whose scale call takes SCALE_S on the clock, as a real control plane does."""

    clock: FakeClock | None = None

    def set_replicas(self, model: str, pool: str, replicas: int) -> None:
        assert self.clock is not None
        self.clock.advance(SCALE_S)
        super().set_replicas(model, pool, replicas)


def scale_out(clock: FakeClock, metrics: FakeVerifyMetrics) -> tuple[Run, FakeRunStore]:
    """Drive the shipped scale-out runbook to its end on a fake clock."""
    target = SlowTarget(clock=clock)
    runs, guards = FakeRunStore(), Guards(FakeGuardStore(), clock)
    registry = TargetRegistry([BoundTarget(MODEL, MODEL, target)])
    runbook = RUNBOOKS.get("scale-out")
    assert runbook is not None
    plan = Planner(registry, guards).plan(runbook, LABELS, {})
    executor = RunbookExecutor(runs, registry, guards, metrics, FakeRunJournal(), clock)
    run = executor.create(plan, incident_id=7)
    return executor.drive(run.id or 0, sleep=clock.sleep), runs


def test_each_step_records_its_own_start_and_end() -> None:
    """Scale takes 7 s, the wait 60 s, verification 60 s delay plus four 30 s intervals: the run
    records each, in order, and they survive the store's JSON round trip."""
    clock = FakeClock()
    began = clock()
    run, runs = scale_out(clock, FakeVerifyMetrics([1.2]))
    assert run.state is RunState.SUCCEEDED
    stored = runs.load(run.id or 0)
    assert stored is not None
    by_key = {t.key: t for t in stored.timings}
    assert [t.action for t in stored.timings] == ["annotate", "scale", "wait", "notify", "verify"]
    assert by_key["forward:0"].started_at == began
    assert by_key["forward:1"].duration_s == SCALE_S
    assert by_key["forward:2"].duration_s == 60.0
    assert by_key["forward:3"].started_at == by_key["forward:2"].finished_at
    verification = by_key[FINAL_VERIFY_KEY]
    assert (verification.outcome, verification.duration_s) == ("successful", 60.0 + 4 * 30.0)
    assert all(t.outcome for t in stored.timings)


def test_the_story_tells_real_step_times_not_the_run_start() -> None:
    """The run story, its sentence and the postmortem give each step its own time and the
    verification its real length; nothing reads 'verified in 0 s'."""
    clock = FakeClock()
    run, _ = scale_out(clock, FakeVerifyMetrics([1.2]))
    story = run_story(run)
    starts = [s["started_at"] for s in story["steps"]]
    assert len(set(starts)) == 3  # annotate and scale start together, then wait, then notify
    assert [s["duration_s"] for s in story["steps"]] == [0.0, SCALE_S, 60.0, 0.0]
    assert story["verification"]["status"] == "successful"
    assert story["verification"]["duration_s"] == 180.0
    sentence = run_sentence(story)
    assert "scale (done, 7 s)" in sentence
    assert "wait (done, 60 s)" in sentence
    assert "verification successful in 3 min" in sentence
    assert "(4 min)" in sentence  # 7 s + 60 s + 180 s from first step to verification
    pm = postmortem_of(story)
    assert "Automated scale-out succeeded and was verified in 4 min." in pm.lessons.went_well
    rows = pm.runs[0].steps
    assert [(r.phase, r.action, r.duration_s) for r in rows][-2:] == [
        ("step", "notify", 0.0),
        ("verify", "verify", 180.0),
    ]
    markdown = render(pm, "md").decode()
    assert "## Runbook runs" in markdown
    assert "| step | scale | done |" in markdown
    assert "| 7 s |" in markdown
    assert "verified in 0 s" not in markdown


def test_a_reverted_run_records_its_revert_steps() -> None:
    """Verification fails: the story carries the failed verification and the revert step
    that followed, each with its own time."""
    clock = FakeClock()
    run, _ = scale_out(clock, FakeVerifyMetrics([9.0]))
    assert run.state is RunState.REVERTED
    story = run_story(run)
    assert story["verification"]["status"] == "failed"
    assert [(s["action"], s["status"]) for s in story["revert_steps"]] == [("notify", "done")]
    revert_at = story["revert_steps"][0]["started_at"]
    assert revert_at >= story["verification"]["finished_at"]


def test_approval_wait_is_told_from_the_run_history() -> None:
    """A run asked for approval at 12:00 and approved at 12:09 waited 9 minutes, by its
    approver's name."""
    clock = FakeClock()
    target = FakeTarget()
    runs, guards = FakeRunStore(), Guards(FakeGuardStore(), clock)
    registry = TargetRegistry([BoundTarget(MODEL, MODEL, target)])
    runbook = RUNBOOKS.get("rollback")
    assert runbook is not None
    labels = {"alertname": "LLMErrorRatioAfterDeploy", "model_name": MODEL}
    plan = Planner(registry, guards).plan(runbook, labels, {})
    executor = RunbookExecutor(
        runs, registry, guards, FakeVerifyMetrics([0.0]), FakeRunJournal(), clock
    )
    run = executor.create(plan, incident_id=7)
    clock.advance(9 * 60)
    executor.approve(run.id or 0, approver="alice")
    story = run_story(runs.load(run.id or 0) or run)
    assert story["approval"]["waited_s"] == 540.0
    assert (story["approval"]["decision"], story["approval"]["by"]) == ("approved", "alice")


def postmortem_of(story: dict[str, Any]) -> Postmortem:
    dossier = dataclasses.replace(make_dossier("resolved"), runbook_runs=(story,))
    return build_postmortem(dossier, OfflineSummariser().summarise(dossier))
