"""The postmortem JSON Schema is generated from the document's pydantic models and holds the
JSON export to its shape."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.postmortem import build_postmortem, json_schema, render
from bot.postmortem.document import SCHEMA_PATH, render_json_schema
from bot.summary.offline import OfflineSummariser
from tests.fakes.summary import T0, make_dossier, tiny_png

EARLIER = {
    "ref": "INC-7",
    "title": "KV cache full on llama-3-70b-instruct",
    "triggered_at": (T0 - timedelta(days=3)).isoformat(),
    "score": 0.84,
    "reasons": ["same model", "queue depth moved up"],
    "outcome": {
        "runbook": "scale-out",
        "verified": True,
        "time_to_mitigate_s": 300.0,
        "held": "held",
        "text": "scale-out verified; held",
    },
}


@pytest.fixture
def document(tmp_path: Path) -> dict[str, Any]:
    """The JSON export of a resolved incident with a run, a chart, lessons and a match."""
    chart = tmp_path / "queue_depth.png"
    chart.write_bytes(tiny_png())
    dossier = make_dossier("resolved", chart_paths=[str(chart)])
    summary = OfflineSummariser().summarise(dossier)
    pm = build_postmortem(dossier, summary, similar=[EARLIER], prometheus_url="http://prom:9090")
    loaded: dict[str, Any] = json.loads(render(pm, "json"))
    return loaded


def test_committed_schema_file_is_the_generated_one() -> None:
    """postmortem.schema.json equals what the models generate (write_json_schema rewrites it)."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_json_schema()
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == json_schema()


def test_a_full_export_validates_against_the_generated_schema(document: dict[str, Any]) -> None:
    """A postmortem with runs, charts, lessons and a similar incident is valid 2020-12 JSON."""
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert document["runbook_runs"][0]["steps"]
    assert document["supporting"]["charts"]
    assert document["lessons"]["went_well"]
    assert document["similar_incidents"][0]["outcome"]["held"] == "held"
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(document)) == []


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        (("impact", "duration_s"), "41 min"),
        (("runbook_runs", 0, "verified"), "yes"),
        (("supporting", "charts", 0, "path"), 7),
        (("action_items", 0, "priority"), "urgent"),
        (("similar_incidents", 0, "incident"), "42"),
        (("summary_source", "llm_usage", "tokens"), -1),
    ],
)
def test_a_wrong_field_fails_validation(
    document: dict[str, Any], path: tuple[str | int, ...], wrong: object
) -> None:
    """A field of the wrong type or outside its vocabulary makes the document invalid."""
    parent: Any = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = wrong
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json_schema())


def test_an_unknown_field_fails_validation(document: dict[str, Any]) -> None:
    """The schema is closed: a field the export never writes is refused."""
    document["impact"]["blast_radius"] = "large"
    with pytest.raises(jsonschema.ValidationError, match="blast_radius"):
        jsonschema.validate(document, json_schema())
