"""The targets file: the shipped example loads, and mistakes are reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runbook.errors import RunbookError
from bot.runbook.targets import (
    HttpTargetConfig,
    KubernetesTargetConfig,
    TargetRegistry,
    load_targets,
    model_of,
)
from tests.fakes.runbooks import FakeTarget

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "targets.yml"


def test_shipped_example_loads(tmp_path: Path) -> None:
    """deploy/targets.yml loads, and its commented Kubernetes example is valid when enabled."""
    targets = load_targets(EXAMPLE)
    assert [t.name for t in targets] == ["llama-3-70b-instruct", "reranker-v2"]
    assert all(isinstance(t, HttpTargetConfig) for t in targets)
    lines = EXAMPLE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "- name: mistral-7b-instruct" in line)
    enabled = "\n".join(line.replace("#", "", 1) for line in lines[start:])
    assert isinstance(targets[0], HttpTargetConfig)
    enabled_path = tmp_path / "targets.yml"
    enabled_path.write_text("targets:\n" + enabled + "\n")
    kube = load_targets(enabled_path)
    assert isinstance(kube[0], KubernetesTargetConfig)
    assert kube[0].pools["secondary"].deployment == "mistral-7b-us-west"


def test_bad_entries_name_file_and_line(tmp_path: Path) -> None:
    """A Kubernetes target without pools, or a KServe rollback without a service, is refused
    with the line of the entry."""
    path = tmp_path / "targets.yml"
    path.write_text(
        "targets:\n"
        "  - name: a\n"
        "    kind: http\n"
        "    base_url: http://127.0.0.1:9400\n"
        "  - name: b\n"
        "    kind: kubernetes\n"
        "    rollback: kserve\n"
        "    pools: {primary: {deployment: b}}\n"
    )
    with pytest.raises(RunbookError) as caught:
        load_targets(path)
    assert caught.value.line == 5
    assert "inference_service" in caught.value.reason
    path.write_text("targets:\n  - name: a\n    kind: ftp\n")
    with pytest.raises(RunbookError) as caught:
        load_targets(path)
    assert caught.value.line == 2


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    """Two targets with one name cannot both be addressed, so the file is refused."""
    path = tmp_path / "targets.yml"
    entry = "  - name: a\n    kind: http\n    base_url: http://h\n"
    path.write_text("targets:\n" + entry + entry)
    with pytest.raises(RunbookError, match="used twice") as caught:
        load_targets(path)
    assert caught.value.line == 5


def test_registry_binds_names_to_models() -> None:
    """The registry resolves a target name to its model and the Target the factory built."""
    configs = load_targets(EXAMPLE)
    fake = FakeTarget()
    registry = TargetRegistry.build(configs, lambda config: fake)
    bound = registry.get("reranker-v2")
    assert bound is not None
    assert (bound.model, bound.target) == ("reranker-v2", fake)
    assert registry.get("nope") is None
    assert model_of(HttpTargetConfig(kind="http", name="n", model="m", base_url="http://h")) == "m"
