"""build_postmortem: every section, durations from transitions, lessons from the data."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.postmortem import build_postmortem
from bot.summary.dossier import IncidentDossier
from bot.summary.offline import OfflineSummariser
from bot.summary.summary import Summary
from tests.fakes.summary import ACK, MITIGATED, RESOLVED, T0, FakeSummariser, make_dossier


def offline(dossier: IncidentDossier) -> Summary:
    return OfflineSummariser().summarise(dossier)


def test_durations_come_from_the_transition_timestamps() -> None:
    """TTA, TTM, TTR and duration are the gaps between the incident's recorded transitions."""
    dossier = make_dossier("resolved")
    impact = build_postmortem(dossier, offline(dossier)).impact
    assert impact.time_to_acknowledge_s == (ACK - T0).total_seconds() == 720
    assert impact.time_to_mitigate_s == (MITIGATED - T0).total_seconds()
    assert impact.time_to_resolve_s == (RESOLVED - T0).total_seconds() == 2460
    assert impact.duration_s == 2460
    assert impact.ended_at == RESOLVED


def test_changed_transitions_change_the_durations() -> None:
    """Moving the acknowledgement time moves TTA: nothing is typed in."""
    dossier = make_dossier("resolved")
    dossier.incident.acknowledged_at = T0 + timedelta(seconds=90)
    pm = build_postmortem(dossier, offline(dossier))
    assert pm.impact.time_to_acknowledge_s == 90
    assert "Acknowledged within 90 s." in pm.lessons.went_well


def test_open_incident_has_no_end_and_runs_to_as_of() -> None:
    """An unresolved incident has no end time and its duration runs to the dossier's as_of."""
    dossier = make_dossier("acknowledged")
    pm = build_postmortem(dossier, offline(dossier))
    assert pm.impact.ended_at is None
    assert pm.impact.time_to_resolve_s is None
    assert pm.impact.duration_s == (RESOLVED - T0).total_seconds()
    assert "Not resolved yet" in pm.resolution


def test_timeline_is_in_time_order_with_repeats_collapsed() -> None:
    """Rows are sorted by time, story events kept, alert repeats folded into elided counts."""
    dossier = make_dossier("resolved", events=3_000)
    rows = build_postmortem(dossier, offline(dossier)).timeline
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    kinds = [r.kind for r in rows]
    assert kinds.count("status_changed") == 3
    assert "elided" in kinds
    assert len(rows) < 25


def test_transitions_missing_from_the_timeline_are_added() -> None:
    """Lifecycle transitions appear even when no status event recorded them."""
    dossier = dataclasses.replace(make_dossier("resolved"), timeline=())
    rows = build_postmortem(dossier, offline(dossier)).timeline
    assert [(r.kind, r.message) for r in rows] == [
        ("status_changed", "triggered"),
        ("status_changed", "acknowledged"),
        ("status_changed", "mitigated"),
        ("status_changed", "resolved"),
    ]


def test_lessons_are_derived_from_the_data() -> None:
    """A verified runbook went well with its time; a 12-minute acknowledgement went wrong."""
    dossier = make_dossier("resolved")
    lessons = build_postmortem(dossier, offline(dossier)).lessons
    assert "Automated scale-out succeeded and was verified in 94 s." in lessons.went_well
    assert "No acknowledgement for 12 min." in lessons.went_wrong


def test_failed_runbook_becomes_a_p1_action_item() -> None:
    """A failed, unverified runbook goes wrong and yields a first-priority fix."""
    dossier = make_dossier("mitigated", run_status="failed", run_verified=False)
    pm = build_postmortem(dossier, offline(dossier))
    assert any("scale-out ended failed" in w for w in pm.lessons.went_wrong)
    assert pm.action_items[0].priority == "P1"
    assert pm.action_items[0].kind == "mitigate"


def test_resolved_without_mitigation_counts_as_luck() -> None:
    """Alerts that cleared with no runbook are recorded under got lucky."""
    dossier = dataclasses.replace(make_dossier("resolved"), runbook_runs=())
    pm = build_postmortem(dossier, offline(dossier))
    assert "The alerts cleared without any automated mitigation." in pm.lessons.got_lucky


def test_promql_links_point_at_prometheus_when_configured() -> None:
    """Each finding's PromQL gets a /graph?g0.expr= link on the given Prometheus URL."""
    dossier = make_dossier()
    pm = build_postmortem(dossier, offline(dossier), prometheus_url="http://prom:9090/")
    assert pm.queries[0].link is not None
    assert pm.queries[0].link.startswith("http://prom:9090/graph?g0.expr=sum%28vllm")
    bare = build_postmortem(dossier, offline(dossier))
    assert bare.queries[0].link is None


def test_secrets_in_summary_and_dossier_are_redacted() -> None:
    """Secrets from alerts or a summary never reach the postmortem model."""
    dossier = make_dossier(description="password=hunter2x failing")
    leaky: Summary = dataclasses.replace(
        FakeSummariser().answer, what_happened="used xoxb-123456789012-abcdefghijkl"
    )
    pm = build_postmortem(dossier, leaky)
    text = repr(pm)
    assert "hunter2x" not in text
    assert "xoxb-123456789012" not in text
