"""`firebreak signals check|validate`: see what triage sees for a model, and check a catalogue
override file before deploying it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.correlation.catalogue import CatalogueError, load_catalogue
from bot.settings import Settings, mask_url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `signals` subcommand and its verbs."""
    signals = sub.add_parser("signals", help="the signal catalogue against your Prometheus")
    verbs = signals.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check", help="topology and every signal's data for one model")
    check.add_argument("--model", required=True, help="the model label's value")
    check.add_argument("--namespace", default="", help="narrow to one namespace")
    check.add_argument("--window", type=float, default=3600.0, help="seconds to look back")
    validate = verbs.add_parser("validate", help="check a catalogue override file")
    validate.add_argument("path", nargs="?", default=None, help="file (FIREBREAK_SIGNALS_FILE)")
    signals.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.verb == "validate":
        path = Path(args.path) if args.path else settings.signals_file
        try:
            catalogue = load_catalogue(path)
        except CatalogueError as exc:
            print(f"firebreak signals: {exc}", file=sys.stderr)
            return 1
        print(f"ok: {len(catalogue.signals)} signals" + (f" with {path}" if path else ""))
        return 0
    return check(settings, args.model, args.namespace, args.window)


def check(settings: Settings, model: str, namespace: str, window_s: float) -> int:
    """Print the resolved topology and each signal's query, series count and data; exit 1
    when Prometheus is not configured or nothing answered for the model."""
    from bot.bootstrap import Container
    from bot.services.check_signals import check_signals

    if not settings.prometheus_url:
        print("firebreak signals check: set FIREBREAK_PROMETHEUS_URL", file=sys.stderr)
        return 1
    container = Container(settings)
    catalogue = container.signals
    labels = {catalogue.labels.model: model}
    if namespace:
        labels["namespace"] = namespace
    topology, probes = check_signals(
        container.metrics, catalogue, labels, container.clock(), window_s=window_s
    )
    print(f"model {model} over the last {window_s:g}s at {mask_url(settings.prometheus_url)}")
    print(f"  pods ({len(topology.pods)}):")
    for pod in topology.pods:
        where = f"node {pod.node or '?'}, replicaset {pod.replicaset or '?'}"
        state = ", ".join(s for s in ("not ready" if pod.not_ready else "", pod.image) if s)
        print(f"    {pod.namespace}/{pod.name}  {where}" + (f"  {state}" if state else ""))
    print(f"  nodes: {', '.join(topology.nodes) or '-'}")
    print(f"  GPUs ({len(topology.gpus)}, mapped by {topology.gpu_mapping}):")
    if topology.gpu_mapping == "node":
        for node in topology.nodes:
            indexes = ", ".join(g.gpu for g in topology.gpus_on(node))
            print(f"    {node}: gpu {indexes or '-'}")
    for gpu in topology.gpus if topology.gpu_mapping == "pod" else ():
        print(f"    {gpu.host} gpu {gpu.gpu} {gpu.uuid} pod {gpu.pod or '-'}")
    images = sorted({p.image for p in topology.pods if p.image})
    print(f"  images: {', '.join(images) or '-'}")
    for note in topology.missing:
        print(f"  cannot see: {note}")
    print()
    print(f"  {'signal':<24}{'backend':<9}{'series':>7}  data  query")
    for probe in probes:
        data = "yes" if probe.has_data else "no"
        detail = probe.promql or probe.problem
        if probe.problem and probe.promql:
            detail += f"  ({probe.problem})"
        print(f"  {probe.name:<24}{probe.backend:<9}{probe.series:>7}  {data:<4}  {detail}")
    return 0 if topology.pods or any(p.has_data for p in probes) else 1
