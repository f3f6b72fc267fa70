"""Grounding: a model's sentence survives only if its specifics are in the evidence."""

from __future__ import annotations

import pytest

from bot.domain.grounding import Evidence, ground, split_sentences, unsupported

EVIDENCE = Evidence(
    '{"ref":"INC-3","triggered_at":"2024-05-01T12:03:27+00:00","confidence":0.9712,'
    '"model":"llama-3-70b-instruct","version":"v1.4.2","pod":"vllm-0","peak":8.23,'
    '"gpu_util":"97%","tta_s":720,"time_to_acknowledge":"12 min",'
    '"signal":"gpu_cache_usage_perc","elided":"… 412 alert_firing events elided"}'
)


@pytest.mark.parametrize(
    "sentence",
    [
        "INC-3 started at 12:03 UTC on 2024-05-01.",
        "Confidence was 0.97, i.e. 0.970.",
        "GPU utilisation hit 97%, or 0.97.",
        "The peak was 8.2 s on vllm-0.",
        "Model llama-3-70b-instruct v1.4.2 (1.4.2) was serving.",
        "Acknowledgement took 12 min (720 s).",
        "gpu_cache_usage_perc was high and 412 alert_firing events were elided.",
        "A scale-out was the first action.",
    ],
)
def test_grounded_sentences_pass(sentence: str) -> None:
    """Numbers, times, versions and names found in the evidence are accepted."""
    assert unsupported(sentence, EVIDENCE) == []


@pytest.mark.parametrize(
    ("sentence", "culprit"),
    [
        ("INC-33 started.", "INC-33"),
        ("It took 13 minutes.", "13"),
        ("Version v1.4.3 rolled out.", "v1.4.3"),
        ("vllm-7 crashed.", "vllm-7"),
        ("It began at 12:04.", "12:04"),
        ("Latency rose 5x.", "5x"),
        ("The cause was kv_cache_evictions.", "kv_cache_evictions"),
        ("Confidence was 0.64.", "0.64"),
    ],
)
def test_invented_specifics_are_reported(sentence: str, culprit: str) -> None:
    """A number, time, version or name absent from the evidence is reported as unsupported."""
    assert culprit in unsupported(sentence, EVIDENCE)


def test_ground_drops_only_failing_sentences_and_counts_them() -> None:
    """ground() keeps the grounded sentences in order and counts each dropped one."""
    result = ground("INC-3 fired at 12:03. It lasted 99 min. Peak was 8.23.", EVIDENCE)
    assert result.text == "INC-3 fired at 12:03. Peak was 8.23."
    assert result.dropped_count == 1
    assert result.dropped[0][1] == ("99",)


def test_sentence_split_keeps_decimals_and_versions() -> None:
    """Decimal points and version dots are not sentence ends."""
    assert split_sentences("Peak 8.23 on v1.4.2. Then 0.97. Done") == [
        "Peak 8.23 on v1.4.2.",
        "Then 0.97.",
        "Done",
    ]


def test_dates_in_the_evidence_do_not_ground_small_numbers() -> None:
    """Digits inside evidence timestamps are not counted as numbers the model may cite."""
    evidence = Evidence('{"at":"2024-05-01T12:03:27+00:00"}')
    assert unsupported("27 pods failed.", evidence) == ["27"]
