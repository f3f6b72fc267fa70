"""Loading runbook files: shipped ones load; every mistake names its file, line and reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.runbook.errors import RunbookError
from bot.runbook.loader import load_directory, load_file, validate_path

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"

GOOD = """\
name: scale-test
match:
  matchers:
    - alertname="KVCacheSaturation"
parameters:
  replicas: {default: 4}
steps:
  - action: scale
    params:
      pool: primary
      replicas: "{{ params.replicas }}"
      max_replicas: 8
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(text: str, name: str = "rb.yml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def test_shipped_runbooks_validate() -> None:
    """scale-out, failover and rollback in runbooks/ load without errors."""
    assert validate_path(RUNBOOKS) == []
    catalog = load_directory(RUNBOOKS)
    assert {"scale-out", "failover", "rollback"} <= {rb.name for rb in catalog}
    assert catalog.get("failover") is not None
    assert catalog.get("failover").approval.required  # type: ignore[union-attr]
    assert not catalog.get("scale-out").approval.required  # type: ignore[union-attr]


def test_good_runbook_loads(write: Callable[[str], Path]) -> None:
    """A correct file loads, its parameter defaults kept."""
    runbook = load_file(write(GOOD))
    assert runbook.defaults() == {"replicas": 4}
    assert runbook.steps[0].action == "scale"


def test_unknown_action_names_file_and_line(write: Callable[[str], Path]) -> None:
    """An action no module provides is reported at the line of its `action:` key."""
    path = write(GOOD.replace("action: scale", "action: scael"))
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    assert caught.value.path == path
    assert caught.value.line == 8
    assert "unknown action 'scael'" in caught.value.reason
    assert str(caught.value).startswith(f"{path}:8: ")


def test_params_out_of_bounds_names_the_param_line(write: Callable[[str], Path]) -> None:
    """A replicas default above max_replicas fails at the templated param's line."""
    path = write(GOOD.replace("replicas: {default: 4}", "replicas: {default: 40}"))
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    assert caught.value.line == 9
    assert "replicas 40 outside [1, 8]" in caught.value.reason


def test_param_above_hard_limit_points_at_its_key(write: Callable[[str], Path]) -> None:
    """A literal max_replicas above the action's hard limit is reported at that key."""
    path = write(GOOD.replace("max_replicas: 8", "max_replicas: 5000"))
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    assert caught.value.line == 12
    assert "max_replicas" in caught.value.reason


def test_unknown_param_is_refused(write: Callable[[str], Path]) -> None:
    """A param the action does not declare is an error at its line."""
    path = write(GOOD + "      surge: 3\n")
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    assert caught.value.line == 13
    assert "surge" in caught.value.reason


def test_malformed_matcher_names_its_line(write: Callable[[str], Path]) -> None:
    """A matcher with an unknown operator is reported at its list item."""
    path = write(GOOD.replace('alertname="KVCacheSaturation"', 'alertname=="KV"'))
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    assert caught.value.line == 4
    assert "not a label matcher" in caught.value.reason


def test_bad_regex_names_its_line(write: Callable[[str], Path]) -> None:
    """A matcher whose regex does not compile is an error with the line and the regex error."""
    path = write(GOOD.replace('alertname="KVCacheSaturation"', 'alertname=~"(KV"'))
    with pytest.raises(RunbookError) as caught:
        load_file(path)
    assert caught.value.line == 4
    assert "bad regex" in caught.value.reason


def test_undeclared_parameter_is_refused(write: Callable[[str], Path]) -> None:
    """A step using {{ params.x }} that the runbook does not declare fails to load."""
    path = write(GOOD.replace("{{ params.replicas }}", "{{ params.count }}"))
    with pytest.raises(RunbookError, match="undeclared parameter 'count'"):
        load_file(path)


def test_unknown_top_level_key_and_bad_yaml(write: Callable[[str, str], Path]) -> None:
    """A misspelt section and broken YAML are both reported with a line."""
    with pytest.raises(RunbookError) as caught:
        load_file(write(GOOD + "gaurds: {}\n", "a.yml"))
    assert caught.value.line == 13
    with pytest.raises(RunbookError) as caught:
        load_file(write("name: x\nsteps: [\n", "b.yml"))
    assert "not valid YAML" in caught.value.reason
    assert caught.value.line > 0


def test_validate_path_collects_every_error(write: Callable[[str, str], Path]) -> None:
    """validate_path reports each bad file, and duplicate names, rather than stopping."""
    write(GOOD, "one.yml")
    write(GOOD, "two.yml")
    write(GOOD.replace("action: scale", "action: nope"), "three.yml")
    errors = validate_path(write(GOOD, "one.yml").parent)
    reasons = sorted(e.reason for e in errors)
    assert len(errors) == 2
    assert any("already used" in r for r in reasons)
    assert any("unknown action 'nope'" in r for r in reasons)
    with pytest.raises(RunbookError):
        load_directory(write(GOOD, "one.yml").parent)
