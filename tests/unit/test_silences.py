"""Silences' pure parts: matchers from an incident's labels, coverage with Alertmanager's
semantics, durations, the card line, the Slack verbs and the root message's Silence button."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.alerts import Severity
from bot.domain.cards import IncidentCard
from bot.domain.incidents import Incident, IncidentStatus
from bot.domain.silences import (
    Silence,
    SilenceState,
    matcher,
    matchers_for,
    silence_line,
    silence_span,
)
from bot.slack_app.commands import UsageError, Verb, parse_command
from bot.slack_app.views import ActionId, incident_message

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LABELS = {"alertname": "LLMKVCacheSaturated", "model_name": "llama-3-70b", "severity": "page"}


def silence(*matchers: tuple[str, str, bool, bool], **overrides: object) -> Silence:
    values: dict[str, object] = {
        "id": "s-1",
        "matchers": tuple(matcher(*m) for m in matchers),
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=2),
        "created_by": "@alice",
        "comment": "",
    }
    values.update(overrides)
    return Silence(**values)  # type: ignore[arg-type]


def test_matchers_are_the_incidents_labels_exactly() -> None:
    """One equality matcher per label, sorted; an incident without labels has none to give."""
    assert [str(m) for m in matchers_for(LABELS)] == [
        'alertname="LLMKVCacheSaturated"',
        'model_name="llama-3-70b"',
        'severity="page"',
    ]
    with pytest.raises(ValueError, match="no labels"):
        matchers_for({})


def test_coverage_follows_alertmanager_semantics() -> None:
    """Every matcher must match: anchored regexes, negations, an absent label reads as empty."""
    model = ("model_name", "llama-3-70b", False, True)
    assert silence(model).covers(LABELS)
    assert silence(model, ("severity", "page|critical", True, True)).covers(LABELS)
    assert not silence(("model_name", "llama", True, True)).covers(LABELS)  # anchored
    assert not silence(model, ("severity", "page", False, False)).covers(LABELS)
    assert silence(model, ("pod", "", False, True)).covers(LABELS)
    assert not silence(model, ("pod", "p-1", False, True)).covers(LABELS)
    assert not silence().covers(LABELS)  # no matchers cover nothing


def test_durations_are_bounded() -> None:
    """30m, 2h, 1h30m and 1d read; below a minute, past 30 days or unreadable are refused."""
    assert silence_span("1h30m") == timedelta(minutes=90)
    assert silence_span("1D") == timedelta(days=1)
    for bad in ("30s", "31d", "soon", "2 h", "0", "99999999999999999999999d"):
        with pytest.raises(ValueError, match=r"duration|between"):
            silence_span(bad)


def test_the_card_line_names_the_last_ending_silence_in_force() -> None:
    """`Silenced until HH:MM UTC by who`, counting the others; expired or past ones are not."""
    now = T0 + timedelta(minutes=5)
    model = ("model_name", "llama-3-70b", False, True)
    later = silence(model, id="s-2", ends_at=T0 + timedelta(hours=3), created_by="bob")
    gone = silence(model, id="s-3", state=SilenceState.EXPIRED)
    assert silence_line([silence(model), later, gone], now) == (
        "Silenced until 15:00 UTC by bob (+1 more silence)"
    )
    tomorrow = silence(model, ends_at=T0 + timedelta(days=1))
    assert silence_line([tomorrow], now) == "Silenced until 2026-03-02 12:00 UTC by @alice"
    assert silence_line([gone], now) is None
    assert silence_line([silence(model)], T0 + timedelta(hours=2)) is None


def test_silence_and_unsilence_verbs_parse() -> None:
    """`silence INC-n DURATION [reason...]` keeps the reason; wrong usage says the form."""
    parsed = parse_command("silence INC-4 2h noisy canary rollout")
    assert (parsed.verb, parsed.incident_id, parsed.span) == (
        Verb.SILENCE,
        4,
        timedelta(hours=2),
    )
    assert parsed.reason == "noisy canary rollout"
    assert parse_command("unsilence inc-4").incident_id == 4
    for bad in ("silence INC-4", "silence INC-4 forever", "silence 2h INC-4", "unsilence"):
        with pytest.raises(UsageError) as refused:
            parse_command(bad)
        assert "/firebreak" in refused.value.usage


def test_the_root_message_shows_the_silence_memory_and_a_silence_button() -> None:
    """A silenced open incident says so; earlier incidents are listed under Seen before; the
    Silence 1h button carries the incident and the hour; a resolved one offers no silence."""
    incident = Incident(
        7, "r", "g", "KV cache", Severity.CRITICAL, IncidentStatus.TRIGGERED, T0, dict(LABELS)
    )
    card = IncidentCard(
        incident,
        2,
        2,
        silence="Silenced until 14:05 UTC by @alice",
        similar=("INC-3 (2 d earlier, 91% alike: same model) — scale-out verified; held",),
    )
    message = incident_message(card)
    text = json.dumps(message.blocks, ensure_ascii=False)
    assert ":no_bell: Silenced until 14:05 UTC by @alice" in text
    assert "*Seen before*\\n• INC-3 (2 d earlier" in text
    [button] = [
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ActionId.SILENCE
    ]
    assert button["text"]["text"] == "Silence 1h"
    assert json.loads(button["value"]) == {"incident_id": 7, "duration": "1h"}
    resolved = IncidentCard(
        Incident(7, "r", "g", "KV", Severity.CRITICAL, IncidentStatus.RESOLVED, T0), 1, 0
    )
    assert ActionId.SILENCE.value not in json.dumps(incident_message(resolved).blocks)
