"""OfflineSummariser: a deterministic, useful summary without a model."""

from __future__ import annotations

from bot.summary.offline import OfflineSummariser
from bot.summary.summary import OFFLINE_MODEL
from tests.fakes.summary import make_dossier


def test_offline_summary_is_deterministic() -> None:
    """The same dossier yields the identical summary on every call."""
    summariser = OfflineSummariser()
    first = summariser.summarise(make_dossier(events=300))
    assert all(summariser.summarise(make_dossier(events=300)) == first for _ in range(3))


def test_offline_summary_states_durations_cause_and_actions() -> None:
    """A resolved incident reads with its duration, top hypothesis numbers and runbook outcome."""
    summary = OfflineSummariser().summarise(make_dossier("resolved"))
    assert "Lasted 41 min" in summary.impact
    assert "peaked at 148" in summary.impact
    assert summary.suspected_cause.kind == "capacity_saturation"
    assert summary.suspected_cause.confidence == 0.91
    assert any(
        "scale-out: succeeded, verified" in a and "(94 s)" in a for a in summary.actions_taken
    )
    assert any("Acknowledged by alice" in a and "12 min after" in a for a in summary.actions_taken)
    assert summary.current_state.startswith("Resolved at 12:44:27 UTC by bob")
    assert summary.next_steps == ("Write the postmortem: /firebreak postmortem INC-42.",)
    assert not summary.ai_generated
    assert summary.model == OFFLINE_MODEL


def test_next_steps_follow_the_state() -> None:
    """Unacknowledged asks for an ack; mitigated asks to watch and resolve; failures to dig."""
    triggered = OfflineSummariser().summarise(make_dossier("triggered"))
    assert triggered.next_steps[0] == "Acknowledge it: /firebreak ack INC-42."
    assert "unacknowledged for 41 min" in triggered.current_state
    mitigated = OfflineSummariser().summarise(make_dossier("mitigated"))
    assert any("/firebreak resolve INC-42" in s for s in mitigated.next_steps)
    failed = OfflineSummariser().summarise(
        make_dossier("mitigated", run_status="failed", run_verified=False)
    )
    assert any("scale-out ended failed (step verify)" in s for s in failed.next_steps)


def test_without_triage_the_cause_is_unknown() -> None:
    """No triage report means an unknown cause with no confidence, said plainly."""
    summary = OfflineSummariser().summarise(make_dossier("acknowledged", triage=False))
    assert summary.suspected_cause.kind == "unknown"
    assert summary.suspected_cause.confidence is None
    assert "no triage report yet" in summary.suspected_cause.text


def test_fallback_reason_is_carried_and_secrets_are_redacted() -> None:
    """A stand-in summary names why, and never repeats a secret from the alerts."""
    dossier = make_dossier(description="token=abc123secret failing")
    summary = OfflineSummariser().summarise(dossier, fallback_reason="timeout")
    assert summary.fallback_reason == "timeout"
    assert "LLM unavailable: timeout" in summary.provenance
    assert "abc123secret" not in summary.as_text()
