"""Time compression of the shipped rules for the demo's one-second evaluations."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.demo.monitoring import PROMETHEUS_RULES, compress_rules
from bot.domain.durations import parse_duration_s


def rules_of(path: Path) -> list[dict[str, object]]:
    document = yaml.safe_load(path.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_for_shrinks_by_the_factor_and_nothing_else_changes(tmp_path: Path) -> None:
    """`for: 30s` at 15 s evaluations becomes `for: 2s` at 1 s; expressions stay as shipped."""
    shipped = rules_of(PROMETHEUS_RULES)
    compressed = rules_of(compress_rules(PROMETHEUS_RULES, tmp_path, 1 / 15))
    assert len(compressed) == len(shipped)
    assert any("for" in rule for rule in shipped)
    for before, after in zip(shipped, compressed, strict=True):
        assert after["expr"] == before["expr"]
        if "for" in before:
            assert parse_duration_s(str(after["for"])) == pytest.approx(
                parse_duration_s(str(before["for"])) / 15
            )
        else:
            assert "for" not in after


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25)]
)
def test_prometheus_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "1.5m", "m5"])
def test_other_text_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration_s(text)
