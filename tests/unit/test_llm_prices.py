"""LLM cost from configurable per-model prices (FIREBREAK_LLM_PRICES), shown in the summary
record and the postmortem; a key and a model alone configure the provider's default URL."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from bot.domain.timeline import EventKind, TimelineEvent
from bot.postmortem import build_postmortem
from bot.postmortem.render import render
from bot.settings import Settings
from bot.summary.offline import OfflineSummariser
from bot.summary.pricing import ModelPrice, PriceList
from bot.summary.summary import Summary
from tests.fakes.summary import RESOLVED, FakeSummariser, make_dossier

PRICES = {
    "gpt-4o-mini": {"input_per_mtok": 0.15, "output_per_mtok": 0.60},
    "gpt-4o": {"input_per_mtok": 2.50, "output_per_mtok": 10.0},
}


def test_prices_are_found_by_exact_name_then_by_the_longest_name_a_snapshot_extends() -> None:
    """`gpt-4o-mini-2024-07-18` is priced as gpt-4o-mini, not gpt-4o; unknown models have none."""
    prices = PriceList({k: ModelPrice.model_validate(v) for k, v in PRICES.items()})
    assert prices.price_of("gpt-4o") == ModelPrice(input_per_mtok=2.5, output_per_mtok=10.0)
    snapshot = prices.price_of("gpt-4o-mini-2024-07-18")
    assert snapshot is not None
    assert snapshot.input_per_mtok == 0.15
    assert prices.price_of("llama-3-70b", "gpt-4o") is not None  # the asked-for model
    assert prices.price_of("gpt-4", "llama") is None
    assert snapshot.cost_usd(1_000_000, 100_000) == pytest.approx(0.21)


def test_settings_read_prices_as_json_and_hand_them_to_child_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FIREBREAK_LLM_PRICES is parsed as JSON, survives as_env, and bad entries are refused."""
    monkeypatch.setenv("FIREBREAK_LLM_PRICES", json.dumps(PRICES))
    settings = Settings()
    assert settings.llm_prices["gpt-4o"].output_per_mtok == 10.0
    env = settings.as_env({})
    assert json.loads(env["FIREBREAK_LLM_PRICES"]) == PRICES
    monkeypatch.setenv("FIREBREAK_LLM_PRICES", '{"gpt-4o": {"input_per_mtok": -1, "output": 2}}')
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("env", "configured"),
    [
        ({"OPENAI_API_KEY": "sk-x", "FIREBREAK_LLM_MODEL": "gpt-4o-mini"}, True),
        ({"FIREBREAK_LLM_BASE_URL": "http://vllm:8000/v1", "FIREBREAK_LLM_MODEL": "m"}, True),
        ({"OPENAI_API_KEY": "sk-x"}, False),
        ({"FIREBREAK_LLM_MODEL": "gpt-4o-mini"}, False),
    ],
)
def test_a_key_and_a_model_configure_the_llm_without_a_base_url(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], configured: bool
) -> None:
    """A model plus either a base URL or an API key turns the LLM on; neither alone does."""
    for name in ("OPENAI_API_KEY", "FIREBREAK_LLM_API_KEY", "FIREBREAK_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FIREBREAK_LLM_MODEL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings().llm_configured is configured


def ai_summary(model: str, cost_usd: float, *, known: bool = True) -> Summary:
    return dataclasses.replace(
        FakeSummariser().answer,
        model=model,
        ai_generated=True,
        prompt_tokens=1500,
        completion_tokens=210,
        estimated_cost_usd=cost_usd,
        cost_known=known,
    )


def test_the_postmortem_adds_up_every_ai_summary_of_the_incident() -> None:
    """Two priced AI summaries and an offline one: 2 summaries, 3,420 tokens, $0.0021."""
    dossier = make_dossier("resolved")
    summaries = (ai_summary("gpt-4o-mini", 0.0012), ai_summary("gpt-4o-mini", 0.0009))
    offline = OfflineSummariser().summarise(dossier)
    events = [
        TimelineEvent(42, RESOLVED, EventKind.SUMMARY, "Summary", {"summary": s.to_dict()})
        for s in (*summaries, offline)
    ]
    dossier = dataclasses.replace(dossier, timeline=(*dossier.timeline, *events))
    pm = build_postmortem(dossier, summaries[-1])
    usage = pm.to_dict()["summary_source"]["llm_usage"]
    assert usage == {"summaries": 2, "tokens": 3420, "cost_usd": 0.0021, "cost_known": True}
    markdown = render(pm, "md").decode()
    assert "LLM use for this incident: 2 AI summaries, 3,420 tokens, $0.0021." in markdown
    assert "1,710 tokens, $0.0009" in markdown  # the latest summary's own provenance
    assert "$0.0021" in render(pm, "html").decode()


def test_an_unpriced_summary_makes_the_incident_cost_unknown() -> None:
    """One summary from a model without a price: the total says its cost is unknown."""
    dossier = make_dossier("resolved")
    unpriced = ai_summary("llama-3-70b", 0.0, known=False)
    event = TimelineEvent(
        42, RESOLVED, EventKind.SUMMARY, "Summary", {"summary": unpriced.to_dict()}
    )
    dossier = dataclasses.replace(dossier, timeline=(*dossier.timeline, event))
    pm = build_postmortem(dossier, unpriced)
    assert pm.to_dict()["summary_source"]["llm_usage"]["cost_known"] is False
    assert "cost unknown (model not in FIREBREAK_LLM_PRICES)" in render(pm, "md").decode()
