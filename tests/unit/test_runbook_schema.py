"""The runbook schema: matchers as Alertmanager reads them, templates, the shipped JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.domain.label_matchers import LabelMatcher, MatcherSyntaxError, MatchOp
from bot.runbook.errors import TemplateError
from bot.runbook.schema import SCHEMA_PATH, json_schema, render_json_schema
from bot.runbook.template import render

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('model_name="llama-70b"', {"model_name": "llama-70b"}, True),
        ('model_name="llama-70b"', {"model_name": "llama-8b"}, False),
        ('model_name!="llama-70b"', {"model_name": "llama-8b"}, True),
        ('model_name!="llama-70b"', {}, True),
        ('model_name=~"llama.*"', {"model_name": "llama-70b"}, True),
        ('model_name=~"llama"', {"model_name": "llama-70b"}, False),
        ('model_name=~"70b"', {"model_name": "llama-70b"}, False),
        ('model_name!~"llama"', {"model_name": "llama-70b"}, True),
        ('model_name!~"llama.*"', {"model_name": "llama-70b"}, False),
        ('model_name=~"a|b"', {"model_name": "a"}, True),
        ('model_name=~"a|b"', {"model_name": "ab"}, False),
        ('region=""', {}, True),
        ('region=~".+"', {}, False),
        ("severity=critical", {"severity": "critical"}, True),
        ('summary="say \\"hi\\""', {"summary": 'say "hi"'}, True),
    ],
)
def test_matcher_follows_alertmanager_semantics(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    """Each operator matches as Alertmanager's does: regexes anchored, missing labels empty."""
    assert LabelMatcher.parse(text).matches(labels) is expected


def test_regex_anchor_survives_trailing_newline() -> None:
    """An anchored regex does not match a value that only differs by a trailing newline."""
    assert not LabelMatcher.parse('job=~"vllm"').matches({"job": "vllm\n"})


@pytest.mark.parametrize("text", ["model_name", 'model_name=="x"', '9model="x"', 'a=~"("'])
def test_malformed_matchers_are_refused(text: str) -> None:
    """Text that is not a matcher, or a regex that does not compile, raises MatcherSyntaxError."""
    with pytest.raises(MatcherSyntaxError):
        LabelMatcher.parse(text)


def test_matcher_round_trips_through_text() -> None:
    """A parsed matcher prints back to text that parses to the same matcher."""
    matcher = LabelMatcher.parse('alertname=~"KV\\"Cache.*"')
    assert matcher.op is MatchOp.REGEX
    assert LabelMatcher.parse(str(matcher)) == matcher


def test_template_keeps_native_types_and_fills_text() -> None:
    """A lone reference keeps its value's type; references inside text become text."""
    params = {"replicas": 6}
    labels = {"model_name": "llama"}
    assert render("{{ params.replicas }}", labels, params) == 6
    assert render("scale {{ labels.model_name }} to {{params.replicas}}", labels, params) == (
        "scale llama to 6"
    )


def test_template_refuses_unknown_names_and_expressions() -> None:
    """A missing label or anything beyond a plain reference is a TemplateError."""
    with pytest.raises(TemplateError):
        render("{{ labels.region }}", {}, {})
    with pytest.raises(TemplateError):
        render("{{ params.x | upper }}", {}, {"x": "a"})


def test_committed_json_schema_is_up_to_date() -> None:
    """runbooks/runbook.schema.json equals what the models export (re-run write_json_schema)."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_json_schema()


def test_shipped_runbooks_satisfy_the_json_schema() -> None:
    """Every shipped runbook also validates against the exported JSON Schema."""
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    files = sorted(RUNBOOKS.glob("*.yml"))
    assert {f.stem for f in files} >= {"scale-out", "failover", "rollback"}
    for file in files:
        jsonschema.validate(yaml.safe_load(file.read_text()), schema)


def test_json_schema_rejects_an_unknown_action() -> None:
    """The JSON Schema lists the actions, so editors flag a misspelt one."""
    doc = {"name": "x", "match": {"hypotheses": ["gpu_fault"]}, "steps": [{"action": "scal"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json.loads(render_json_schema()))
