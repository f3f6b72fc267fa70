"""What went wrong and where we got lucky, derived from the record: a first triage that named no
cause, slow or lapsed approval, inconclusive verification, reverts, late detection, reopenings."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from bot.domain.timeline import EventKind, TimelineEvent
from bot.postmortem import build_postmortem
from bot.postmortem.model import Postmortem
from bot.postmortem.render import render
from bot.summary.dossier import IncidentDossier
from bot.summary.offline import OfflineSummariser
from tests.fakes.summary import MITIGATED, RUN_START, T0, make_dossier, make_runs


def postmortem(dossier: IncidentDossier) -> Postmortem:
    return build_postmortem(dossier, OfflineSummariser().summarise(dossier))


def triaged(at_s: float, kind: str | None) -> TimelineEvent:
    """A `triaged` event as triage records it: its top hypotheses (none when `kind` is None)."""
    hypotheses = [] if kind is None else [{"kind": kind, "confidence": 0.3, "evidence": []}]
    return TimelineEvent(
        42,
        T0 + timedelta(seconds=at_s),
        EventKind.TRIAGED,
        f"Triage: {kind}",
        {"hypotheses": hypotheses},
        actor="triage",
    )


def with_timeline(dossier: IncidentDossier, *events: TimelineEvent) -> IncidentDossier:
    kept = tuple(e for e in dossier.timeline if e.kind is not EventKind.TRIAGED)
    return dataclasses.replace(
        dossier, timeline=tuple(sorted((*kept, *events), key=lambda e: e.at))
    )


def run_with(**changes: Any) -> dict[str, Any]:
    return {**make_runs()[0], **changes}


def test_an_unknown_first_triage_goes_wrong_even_when_a_later_one_named_the_cause() -> None:
    """The latest triage names capacity saturation; the first, four minutes earlier, said
    unknown: 'what went wrong' says so with both times, never 'None recorded'."""
    dossier = with_timeline(
        make_dossier("resolved"), triaged(30, "unknown"), triaged(270, "capacity_saturation")
    )
    dossier.incident.acknowledged_at = T0 + timedelta(seconds=60)  # a quick ack: no other wrong
    pm = postmortem(dossier)
    assert pm.lessons.went_wrong == (
        "The first triage at 12:03:57 UTC could not name a likely cause; one did at "
        "12:07:57 UTC, 4 min later (Capacity saturation).",
    )
    markdown = render(pm, "md").decode()
    wrong = markdown.split("### What went wrong")[1].split("###")[0]
    assert "None recorded" not in wrong
    assert "could not name a likely cause" in wrong


def test_a_first_triage_with_no_hypotheses_counts_as_unknown() -> None:
    """A triage that ranked nothing, never followed by one that named a cause, goes wrong."""
    dossier = with_timeline(make_dossier("resolved", triage=False), triaged(30, None))
    wrong = postmortem(dossier).lessons.went_wrong
    assert "Triage at 12:03:57 UTC could not name a likely cause, nor could a later one." in wrong


def test_slow_approval_goes_wrong_and_asks_for_a_process_fix() -> None:
    """Twelve minutes between asking and approval is slow: a lesson and a P2 process item."""
    approval = {
        "asked_at": RUN_START.isoformat(),
        "decided_at": (RUN_START + timedelta(minutes=12)).isoformat(),
        "decision": "approved",
        "by": "U0ALICE",
        "waited_s": 720.0,
    }
    dossier = dataclasses.replace(
        make_dossier("resolved"), runbook_runs=(run_with(approval=approval),)
    )
    pm = postmortem(dossier)
    assert "RUN-1 scale-out waited 12 min for approval (by U0ALICE)." in pm.lessons.went_wrong
    assert any(
        a.kind == "process" and "approval took 12 min" in a.description for a in pm.action_items
    )
    assert pm.runs[0].approval_wait_s == 720.0
    assert "approval waited 12 min" in render(pm, "md").decode()


def test_quick_approval_goes_well_and_triage_approval_is_not_a_human_wait() -> None:
    """Approved by a person within two minutes went well; approval by triage is not judged."""
    quick = {"decision": "approved", "by": "U0ALICE", "waited_s": 90.0}
    by_triage = {"decision": "approved", "by": "triage", "waited_s": 900.0}
    runs = (run_with(approval=quick), run_with(ref="RUN-2", approval=by_triage))
    pm = postmortem(dataclasses.replace(make_dossier("resolved"), runbook_runs=runs))
    assert "RUN-1 scale-out was approved by U0ALICE within 90 s." in pm.lessons.went_well
    assert not any("RUN-2" in w for w in pm.lessons.went_wrong)


def test_lapsed_approval_goes_wrong_and_cleared_alerts_were_luck() -> None:
    """A run whose approval timed out never acted; the incident resolving anyway was luck."""
    approval = {"decision": "timed_out", "by": "", "waited_s": 1800.0}
    run = run_with(status="timed_out", verified=None, approval=approval, verification=None)
    pm = postmortem(dataclasses.replace(make_dossier("resolved"), runbook_runs=(run,)))
    assert (
        "RUN-1 scale-out timed out after 30 min awaiting approval; it never acted."
        in pm.lessons.went_wrong
    )
    assert "The alerts cleared although RUN-1 scale-out never got its approval." in (
        pm.lessons.got_lucky
    )


def test_inconclusive_verification_goes_wrong_and_recovery_anyway_was_luck() -> None:
    """No data during verification: recovery was never confirmed (a P1 to fix the query), and
    the alerts clearing is recorded as luck, not as success."""
    verification = {
        "action": "verify",
        "status": "inconclusive",
        "started_at": RUN_START.isoformat(),
        "finished_at": MITIGATED.isoformat(),
    }
    run = run_with(status="failed", verified=False, verification=verification)
    pm = postmortem(dataclasses.replace(make_dossier("resolved"), runbook_runs=(run,)))
    assert (
        "Verification of RUN-1 scale-out was inconclusive (no data): recovery was never confirmed."
        in pm.lessons.went_wrong
    )
    assert "The alerts cleared although RUN-1 scale-out could not verify recovery." in (
        pm.lessons.got_lucky
    )
    assert pm.action_items[0].priority == "P1"
    assert "verification query of scale-out return data" in pm.action_items[0].description


def test_a_reverted_run_goes_wrong_with_its_reason() -> None:
    """A run reverted after its verification failed did not mitigate, and says why."""
    run = run_with(status="reverted", verified=False, reason="verification failed")
    wrong = postmortem(dataclasses.replace(make_dossier("resolved"), runbook_runs=(run,)))
    assert any(
        w.startswith("RUN-1 scale-out was reverted in ")
        and w.endswith("(verification failed): it did not mitigate.")
        for w in wrong.lessons.went_wrong
    )


def test_late_detection_and_reopening_go_wrong() -> None:
    """The first signal moved well before the alert, and the incident reopened: both recorded."""
    dossier = make_dossier("resolved")
    triage = dict(dossier.triage or {})
    triage["findings"] = [
        {**triage["findings"][0], "onset": (T0 - timedelta(minutes=9)).isoformat()}
    ]
    dossier = dataclasses.replace(dossier, triage=triage)
    dossier.incident.reopened_count = 1
    wrong = postmortem(dossier).lessons.went_wrong
    assert "Alerting fired 9 min after vllm:num_requests_waiting moved." in wrong
    assert "Reopened 1 time(s) after being resolved." in wrong
