"""Signal templates and the catalogue as data: scoping, escaping, overrides, validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.correlation.catalogue import CatalogueError, default_catalogue, load_catalogue
from bot.correlation.templates import (
    Scope,
    ScopeError,
    Signal,
    escape_label_value,
    matcher,
    regex_matcher,
    render,
)
from bot.domain.findings import Direction, HypothesisKind

SCOPES = {
    Scope.MODEL: 'model_name="llama"',
    Scope.PODS: 'namespace="genai", pod=~"a|b"',
    Scope.GPUS: 'Hostname="gpu-node-01", UUID="GPU-1"',
}
CONTRACT_METRICS = re.compile(
    r"^(vllm:[a-z0-9_]+|http_requests_total|DCGM_FI_DEV_[A-Z_]+|kube_[a-z_]+|llm_drift_score)$"
)


def test_label_values_are_escaped_for_promql() -> None:
    """Quotes, backslashes and newlines in a value cannot break out of the string."""
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert matcher("model_name", 'we"ird') == 'model_name="we\\"ird"'


def test_regex_matcher_matches_exactly_the_values() -> None:
    """Pod names with regex metacharacters are escaped; one value is an equality matcher."""
    assert regex_matcher("pod", ["a.b", "c"]) == 'pod=~"a\\\\.b|c"'
    assert regex_matcher("pod", ["only"]) == 'pod="only"'


def test_invalid_label_names_are_refused() -> None:
    """A label name PromQL cannot parse never reaches a query."""
    with pytest.raises(ScopeError):
        matcher("bad-name", "x")


def test_a_signal_needs_its_scope_resolved() -> None:
    """A per-pod signal without pods is refused instead of matching the whole fleet."""
    signal = default_catalogue().signal("error_ratio")
    with pytest.raises(ScopeError, match="pods"):
        render(signal, {Scope.MODEL: 'model_name="llama"'})


def test_rate_step_and_scopes_are_filled() -> None:
    """Every placeholder is replaced; none is left for Prometheus to reject."""
    for signal in default_catalogue().signals:
        promql = render(signal, SCOPES, rate_window_s=120, step_s=30)
        assert "$" not in promql, signal.name
        assert promql.count("(") == promql.count(")"), signal.name
        assert promql.count("{") == promql.count("}"), signal.name


def test_shipped_catalogue_reads_only_the_exporter_contract() -> None:
    """Every metric the defaults read is vLLM, its API server, DCGM, kube-state or drift."""
    catalogue = default_catalogue()
    texts = [s.template for s in catalogue.signals] + list(catalogue.topology.model_dump().values())
    for text in texts:
        names = set(re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\{", text))
        names |= {n for group in re.findall(r'__name__=~"([^"]+)"', text) for n in group.split("|")}
        names = {n.removesuffix("_bucket") for n in names} - {"__name__"}
        assert all(CONTRACT_METRICS.match(n) for n in names), (text, names)
        assert "model_name" not in text or "DCGM" not in text


def test_catalogue_covers_every_cause_and_names_are_unique() -> None:
    """Each cause has evidence and declared telemetry; signal names are unique."""
    catalogue = default_catalogue()
    names = [s.name for s in catalogue.signals]
    assert len(names) == len(set(names))
    supported = {s.kind for signal in catalogue.signals for s in signal.supports if s.weight > 0}
    causes = set(HypothesisKind) - {HypothesisKind.UNKNOWN}
    assert supported == causes
    assert set(catalogue.causes) == causes


def test_an_override_changes_labels_replaces_and_drops_entries(tmp_path: Path) -> None:
    """A user file renames the model label, rewrites one query, adds one and drops one."""
    override = tmp_path / "signals.yml"
    override.write_text(
        """
labels: {model: model}
signals:
  - name: queue_waiting
    query: sum(tgi_queue_size{$pods})
  - name: drift_psi
    enabled: false
  - name: triton_pending
    backend: vllm
    query: sum(nv_inference_pending_request_count{$model})
    expected: up
    supports: [capacity_saturation up 0.6]
"""
    )
    catalogue = load_catalogue(override)
    assert catalogue.labels.model == "model"
    assert catalogue.signal("queue_waiting").template == "sum(tgi_queue_size{$pods})"
    assert catalogue.signal("queue_waiting").unit == "requests"  # untouched fields kept
    assert "drift_psi" not in {s.name for s in catalogue.signals}
    assert catalogue.signal("triton_pending").supports[0].weight == 0.6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("signals: [{name: x, backend: v, query: 'up', expected: up}]", "no \\$model"),
        (
            "signals: [{name: x, backend: v, query: 'up{$model}', expected: sideways}]",
            "signal x: expected",
        ),
        (
            "signals: [{name: queue_waiting, supports: [capacity up 1]}]",
            "unknown cause",
        ),
        ("colours: {}", "unknown top-level key"),
        ("signals: [{query: 'x{$model}'}]", "needs a name"),
        ("[1, 2", "not YAML"),
    ],
)
def test_a_bad_override_fails_with_the_entry_and_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    """A broken override names what is wrong instead of failing mid-incident."""
    override = tmp_path / "signals.yml"
    override.write_text(text)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(override)


def test_scopes_are_read_from_the_template() -> None:
    """A signal knows which placeholders it needs."""
    signal = Signal("s", "dcgm", "max(x{$gpus}) + y{$model}", Direction.UP)
    assert signal.scopes == {Scope.GPUS, Scope.MODEL}
