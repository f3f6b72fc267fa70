"""The shipped dashboard and alert rules for Firebreak itself: the dashboard's shape, every
query parsed by promtool, every metric they name exported by /metrics, every stage on the
dashboard; the rules checked and unit-tested by promtool, and routed away from Firebreak."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.demo.monitoring import ALERTMANAGER_CONFIG, binary
from bot.domain.telemetry import CATALOGUE, STAGES, exported_sample_names

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "firebreak.json"
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "firebreak.yml"
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
FIREBREAK_NAME = re.compile(r"\bfirebreak_[A-Za-z0-9_:]+")
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$job": "firebreak"}


class Target(BaseModel):
    model_config = ConfigDict(extra="allow")

    expr: str = Field(min_length=1)
    refId: str = Field(min_length=1)
    datasource: dict[str, str]


class GridPos(BaseModel):
    h: int = Field(gt=0)
    w: int = Field(gt=0, le=24)
    x: int = Field(ge=0, lt=24)
    y: int = Field(ge=0)


class Panel(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    type: str
    title: str = Field(min_length=1)
    gridPos: GridPos
    datasource: dict[str, str] | None = None
    targets: list[Target] = []


class Variable(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    type: str
    query: Any = None


class Templating(BaseModel):
    list: list[Variable]


class Dashboard(BaseModel):
    """The part of Grafana's dashboard model a provisioned dashboard needs."""

    model_config = ConfigDict(extra="allow")

    title: str
    uid: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    schemaVersion: int = Field(ge=36)
    templating: Templating
    panels: list[Panel] = Field(min_length=1)


def dashboard() -> Dashboard:
    return Dashboard.model_validate(json.loads(DASHBOARD.read_text()))


def dashboard_queries() -> list[str]:
    board = dashboard()
    queries = [target.expr for panel in board.panels for target in panel.targets]
    for variable in board.templating.list:
        if isinstance(variable.query, dict) and variable.type == "query":
            queries.append(str(variable.query["query"]))
    return queries


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text())
    return [str(rule["expr"]) for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Firebreak's metric names an expression reads (label values and strings left out)."""
    return set(FIREBREAK_NAME.findall(QUOTED.sub('""', expr)))


def run_tool(*command: str, cwd: Path = PROMETHEUS) -> str:
    completed = subprocess.run(
        [binary(command[0]), *command[1:]], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def test_dashboard_has_the_shape_grafana_loads() -> None:
    """Unique panel ids, every non-row panel on the datasource variable with at least one
    PromQL target, and a Prometheus datasource variable."""
    board = dashboard()
    ids = [panel.id for panel in board.panels]
    assert len(ids) == len(set(ids))
    variables = {v.name: v for v in board.templating.list}
    assert variables["datasource"].type == "datasource"
    assert variables["datasource"].query == "prometheus"
    graphs = [panel for panel in board.panels if panel.type != "row"]
    assert len(graphs) >= 10
    for panel in graphs:
        assert panel.datasource == {"type": "prometheus", "uid": "${datasource}"}, panel.title
        assert panel.targets, panel.title
        assert all(t.datasource == panel.datasource for t in panel.targets)
        assert len({t.refId for t in panel.targets}) == len(panel.targets)


def test_dashboard_and_rules_read_only_metrics_firebreak_exports() -> None:
    """Every firebreak_* name a dashboard query or an alert reads is one /metrics serves."""
    exported = exported_sample_names()
    read = {
        name for expr in dashboard_queries() + rule_expressions() for name in metric_names(expr)
    }
    assert read
    assert read - exported == set()


def test_the_name_check_sees_names_not_label_values() -> None:
    """A misspelt metric is caught; a label value or a string mentioning firebreak_ is not."""
    assert metric_names('rate(firebreak_taks_total{job="firebreak_x", q=~"firebreak_y"}[5m])') == {
        "firebreak_taks_total"
    }


def test_dashboard_shows_every_stage() -> None:
    """Each stage of the pipeline has at least one panel reading one of its metrics."""
    read = {name for expr in dashboard_queries() for name in metric_names(expr)}
    for stage in STAGES:
        names = {n for spec in CATALOGUE if spec.stage == stage for n in spec.sample_names()}
        assert read & names, f"no panel reads the {stage} stage"


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """promtool parses every dashboard query (Grafana's variables filled in) as a rule."""
    rules = []
    for n, expr in enumerate(q for q in dashboard_queries() if not q.startswith("label_values")):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    path = tmp_path / "dashboard.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    output = run_tool("promtool", "check", "rules", str(path))
    assert f"SUCCESS: {len(rules)} rules found" in output


def test_firebreak_rules_are_valid() -> None:
    """promtool accepts rules/firebreak.yml."""
    output = run_tool("promtool", "check", "rules", str(RULES))
    assert "SUCCESS: 7 rules found" in output


def test_firebreak_rule_unit_tests_pass() -> None:
    """promtool's unit tests of every Firebreak alert pass, firing and quiet cases alike."""
    output = run_tool("promtool", "test", "rules", "tests/firebreak_test.yml")
    assert "SUCCESS" in output


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=FirebreakOutboxBacklog", "service=firebreak"], "firebreak-operators"),
        (["alertname=LLMModelDrift", "service=llm-serving"], "firebreak"),
    ],
)
def test_firebreak_alerts_go_to_operators_not_to_firebreak(
    labels: list[str], receiver: str
) -> None:
    """Alertmanager sends Firebreak's own alerts to its operators' receiver, the fleet's to
    Firebreak."""
    config, verify = f"--config.file={ALERTMANAGER_CONFIG}", f"--verify.receivers={receiver}"
    output = run_tool("amtool", "config", "routes", "test", config, verify, *labels)
    assert output.splitlines()[0] == receiver
