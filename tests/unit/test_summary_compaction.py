"""Compaction: the dossier fits the per-incident token budget at any number of events."""

from __future__ import annotations

import json

import pytest

from bot.summary.compaction import (
    TokenBudget,
    collapse_timeline,
    compact,
    estimate_tokens,
)
from bot.summary.prompt import build_prompt
from tests.fakes.summary import make_dossier, noisy_dossier

SIZES = [10, 100, 1_000, 10_000]


@pytest.mark.parametrize("events", SIZES)
def test_prompt_fits_the_budget_at_every_size(events: int) -> None:
    """The whole prompt (system + dossier) stays within 6,000 tokens from 10 to 10,000 events."""
    for dossier in (make_dossier(events=events), noisy_dossier(events)):
        prompt = build_prompt(dossier, TokenBudget(max_prompt_tokens=6_000))
        assert prompt.prompt_tokens <= 6_000
        assert prompt.compacted.within_budget


@pytest.mark.parametrize("budget", [2_000, 3_000, 12_000])
def test_smaller_and_larger_budgets_hold(budget: int) -> None:
    """The budget is configurable and holds at its floor as well as above the default."""
    prompt = build_prompt(noisy_dossier(10_000), TokenBudget(max_prompt_tokens=budget))
    assert prompt.prompt_tokens <= budget


def test_budget_below_the_floor_is_refused() -> None:
    """A budget too small to hold a useful dossier is a configuration error."""
    with pytest.raises(ValueError, match="at least"):
        TokenBudget(max_prompt_tokens=500)


def test_story_events_survive_and_repeats_collapse_into_counts() -> None:
    """First/last events, transitions, triage and runbook events stay; repeats become counts."""
    compacted = compact(make_dossier(events=1_000), 6_000)
    rows = compacted.payload["timeline"]
    kinds = [row.get("kind") for row in rows if "kind" in row]
    assert kinds[0] == "incident_opened"
    assert rows[-1]["kind"] == "status_changed"
    assert kinds.count("status_changed") == 3
    assert kinds.count("runbook") == 2
    assert "triaged" in kinds
    elided = [row for row in rows if "elided" in row]
    assert sum(row["counts"]["alert_firing"] for row in elided) == compacted.events_elided
    assert compacted.events_kept + compacted.events_elided == 1_000
    assert all(row["elided"].endswith("alert_firing events elided") for row in elided)


def test_elided_markers_sit_in_time_order() -> None:
    """Kept rows and elision markers appear in the order things happened."""
    rows = compact(make_dossier(events=500), 6_000).payload["timeline"]
    starts = [row.get("at") or row["from"] for row in rows]
    assert starts == sorted(starts)


def test_small_dossier_is_kept_whole() -> None:
    """With room to spare nothing is elided and the richest level is used."""
    compacted = compact(make_dossier(events=8), 6_000)
    assert compacted.level == 0
    assert compacted.events_elided == 0


def test_tokens_reported_match_the_text() -> None:
    """The reported token count is the estimate of the exact text the model reads."""
    compacted = compact(noisy_dossier(300), 4_000)
    assert compacted.tokens == estimate_tokens(compacted.text)
    assert json.loads(compacted.text) == compacted.payload


def test_token_estimate_errs_high_for_json() -> None:
    """The estimate is at least chars/4 and counts punctuation-heavy JSON generously."""
    text = json.dumps({"a": [1, 2, 3], "b": "c"})
    assert estimate_tokens(text) >= len(text) / 4
    assert estimate_tokens("") == 0


def test_collapse_timeline_keeps_every_story_event() -> None:
    """The postmortem timeline keeps all story events however many alerts repeat."""
    rows = collapse_timeline(make_dossier(events=2_000).timeline)
    assert [r["kind"] for r in rows if r.get("kind") == "status_changed"] == ["status_changed"] * 3
    assert len(rows) < 20
