"""The live ``/metrics`` text of the fleet (Prometheus text format 0.0.4).

Renders the families described in ``simulator.series`` the way prometheus_client writes them
(counters as ``<name>_total`` in HELP, TYPE and samples; histograms as ``_bucket``,
``_count``, ``_sum``), without ``job``/``instance``: Prometheus adds those when it scrapes.
``sample_lines`` is shared with the OpenMetrics history writer.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.utils import floatToGoString

from simulator.series import ExporterOptions, Family, Labels, Series, collect
from simulator.simulation import Simulation

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(simulation: Simulation, options: ExporterOptions | None = None) -> bytes:
    """The whole fleet's current state as Prometheus text exposition format 0.0.4."""
    lines: list[str] = []
    for family in collect(simulation, options or ExporterOptions()):
        name = f"{family.name}_total" if family.kind == "counter" else family.name
        lines.append(f"# HELP {name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {name} {family.kind}")
        for series in family.series:
            lines.extend(sample_lines(family, series, series.labels))
    return ("\n".join(lines) + "\n").encode()


def sample_lines(family: Family, series: Series, labels: Labels) -> Iterator[str]:
    """The sample lines (without timestamp) of one series, written with ``labels``."""
    if family.kind == "counter":
        yield f"{family.name}_total{format_labels(labels)} {format_value(series.value)}"
        return
    if family.kind == "gauge":
        yield f"{family.name}{format_labels(labels)} {format_value(series.value)}"
        return
    for le, count in series.buckets:
        bucket_labels = format_labels((*labels, ("le", le)))
        yield f"{family.name}_bucket{bucket_labels} {format_value(count)}"
    count = series.buckets[-1][1]
    yield f"{family.name}_count{format_labels(labels)} {format_value(count)}"
    yield f"{family.name}_sum{format_labels(labels)} {format_value(series.sum)}"


def format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{_escape_label(value)}"' for name, value in labels)
    return "{" + inner + "}"


def format_value(value: float) -> str:
    """A sample value as Go (and so Prometheus) writes it: "1.0", "+Inf", "1e+06"."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")
