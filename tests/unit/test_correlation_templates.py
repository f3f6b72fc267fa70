"""The signal catalogue and how its PromQL templates are scoped to an incident."""

from __future__ import annotations

import re

import pytest

from bot.correlation.signals import CATALOGUE, by_name
from bot.correlation.templates import ScopeError, Signal, escape_label_value, matcher, render
from bot.domain.findings import HypothesisKind

GPU_INCIDENT = {
    "alertname": "GPUXidError",
    "model_name": "llama-3-70b",
    "Hostname": "gpu-node-7",
    "service": "llm-serving",
}


def test_label_values_are_escaped_for_promql() -> None:
    """Quotes, backslashes and newlines in a label value cannot break out of the string."""
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert matcher("model_name", 'x"} or vector(1) #') == 'model_name="x\\"} or vector(1) #"'


def test_invalid_label_names_are_refused() -> None:
    """A label name PromQL cannot parse is refused rather than spliced into a query."""
    with pytest.raises(ScopeError):
        matcher("model-name", "x")


def test_vllm_signal_falls_back_to_the_model_scope() -> None:
    """A vLLM series has no Hostname label, so a GPU incident scopes it by model only."""
    promql = render(by_name("queue_waiting"), GPU_INCIDENT)
    assert promql == 'sum(vllm:num_requests_waiting{model_name="llama-3-70b"})'


def test_dcgm_signal_is_scoped_to_the_host() -> None:
    """A DCGM signal on a GPU incident is scoped to the model and the Hostname."""
    promql = render(by_name("gpu_temp"), GPU_INCIDENT)
    assert 'DCGM_FI_DEV_GPU_TEMP{model_name="llama-3-70b",Hostname="gpu-node-7"}' in promql
    assert promql.startswith("max by (Hostname, gpu) (")


def test_lowercase_hostname_label_scopes_dcgm_too() -> None:
    """An incident labelled `hostname` (lower case) scopes the DCGM `Hostname` label."""
    promql = render(by_name("gpu_util"), {"hostname": "gpu-node-2"})
    assert 'Hostname="gpu-node-2"' in promql


def test_triton_scopes_its_model_label() -> None:
    """Triton's model label is `model`, filled from the incident's `model_name`."""
    promql = render(by_name("triton_pending_requests"), {"model_name": "m"})
    assert 'nv_inference_pending_request_count{model="m"}' in promql


def test_fixed_matchers_are_kept_with_the_scope() -> None:
    """The drift score is always the PSI series, within the model scope."""
    promql = render(by_name("drift_psi"), {"model_name": "m"})
    assert promql == 'max(llm_drift_score{metric="psi",model_name="m"})'


def test_rate_window_and_every_selector_are_filled() -> None:
    """Numerator and denominator of the error ratio carry the same scope and rate window."""
    promql = render(by_name("error_ratio"), {"model_name": "m"}, rate_window_s=120)
    assert promql.count('{model_name="m"}[120s]') == 2


def test_unscoped_incident_queries_without_matchers() -> None:
    """An incident without scoping labels queries the metric without a selector block."""
    assert render(by_name("kv_cache_usage"), {"alertname": "X"}) == (
        "max(vllm:kv_cache_usage_perc)"
    )


def test_signal_that_requires_scope_refuses_the_whole_fleet() -> None:
    """Pod restarts are only queried when the incident names a namespace or pod."""
    with pytest.raises(ScopeError):
        render(by_name("container_restarts"), GPU_INCIDENT)
    assert 'namespace="serving"' in render(by_name("container_restarts"), {"namespace": "serving"})


@pytest.mark.parametrize("signal", CATALOGUE, ids=lambda s: s.name)
def test_every_template_renders_to_balanced_promql(signal: Signal) -> None:
    """Every catalogue template renders with no placeholder left and balanced brackets."""
    promql = render(signal, {"model_name": "m", "namespace": "n", "Hostname": "h"})
    assert "{scope}" not in promql
    assert "{rate}" not in promql
    for open_, close in ("()", "{}", "[]"):
        assert promql.count(open_) == promql.count(close)
    assert re.search(r"[a-zA-Z_:]", promql)


def test_catalogue_covers_every_hypothesis_and_names_are_unique() -> None:
    """The catalogue has the core signals, unique names, and evidence for every cause."""
    names = [s.name for s in CATALOGUE]
    assert len(names) == len(set(names))
    assert len(names) >= 15
    supported = {support.kind for s in CATALOGUE for support in s.supports if support.weight > 0}
    assert supported >= set(HypothesisKind) - {HypothesisKind.UNKNOWN}
