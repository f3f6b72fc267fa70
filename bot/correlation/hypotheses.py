"""Ranking causes from evidence: hard rules, weighted moved signals, onset order, alert priors.

Each moved finding adds `weight x strength` to the hypotheses its signal supports in the
direction it moved (strength grows with |z|, capped at 1; a localized support also shrinks as
more of the signal's series move together); a negative weight argues against a hypothesis
and scales it down. The hypotheses backed by the signal that moved first get a
lead bonus. Movement on a GPU with a new hardware XID counts only towards `gpu_fault`.
Hard-rule verdicts add their boost; alert names add a weak prior. A score
becomes a confidence as `1 - exp(-score)`, then honesty about blind spots: a cause whose own
telemetry is partly missing keeps less of it, and every competing cause that could not be
observed at all shrinks it again (it cannot be ruled out). `unknown` ranks by
`1 - best confidence`, scaled by the share of causes observed, so it leads when nothing (or only
a symptom such as TTFT) moved, and no telemetry at all is inconclusive, not a confident answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.correlation.rules import RuleVerdict, is_application_xid
from bot.correlation.templates import Evaluator, Signal
from bot.domain.findings import Finding, FindingStatus, Hypothesis, HypothesisKind

Z_FOR_FULL_STRENGTH = 8.0
LEAD_BONUS = 0.25
LEAD_MIN_WEIGHT = 0.3
ALERT_PRIOR = 0.15
MIN_CONFIDENCE = 0.05
ONSET_TIE = timedelta(seconds=30)
BLIND_COMPETITOR_FACTOR = 0.85
OWN_TELEMETRY_FLOOR = 0.6


@dataclass(frozen=True)
class Coverage:
    """Which backends answered, and which backends each cause needs to be judged."""

    seen: frozenset[str]
    causes: Mapping[HypothesisKind, Sequence[str]]

    def fraction(self, kind: HypothesisKind) -> float:
        needed = self.causes.get(kind, ())
        return 1.0 if not needed else sum(1 for b in needed if b in self.seen) / len(needed)

    def blind(self) -> list[HypothesisKind]:
        """Causes none of whose telemetry answered."""
        return [k for k in self.causes if self.fraction(k) == 0.0]

    def observed_share(self) -> float:
        return 1.0 if not self.causes else 1.0 - len(self.blind()) / len(self.causes)

    def adjust(self, kind: HypothesisKind, confidence: float) -> float:
        own = OWN_TELEMETRY_FLOOR + (1.0 - OWN_TELEMETRY_FLOOR) * self.fraction(kind)
        competitors = sum(1 for k in self.blind() if k is not kind)
        return confidence * own * BLIND_COMPETITOR_FACTOR**competitors


# Substrings of alert names (lower-cased) and the cause each one hints at.
ALERT_HINTS: tuple[tuple[str, HypothesisKind], ...] = (
    ("kvcache", HypothesisKind.CAPACITY_SATURATION),
    ("queue", HypothesisKind.CAPACITY_SATURATION),
    ("saturat", HypothesisKind.CAPACITY_SATURATION),
    ("xid", HypothesisKind.GPU_FAULT),
    ("gpufault", HypothesisKind.GPU_FAULT),
    ("thermal", HypothesisKind.THERMAL_THROTTLING),
    ("drift", HypothesisKind.BAD_DEPLOY),
    ("deploy", HypothesisKind.BAD_DEPLOY),
    ("upstream", HypothesisKind.UPSTREAM_ERRORS),
)


@dataclass
class _Tally:
    score: float = 0.0
    penalty: float = 1.0
    parts: list[tuple[float, str, str]] = field(default_factory=list)  # (weight, signal, text)


def strength(finding: Finding) -> float:
    """How strongly a moved finding counts, 0..1; rule-evaluated findings count fully."""
    if finding.z is None:
        return 1.0
    return min(1.0, abs(finding.z) / Z_FOR_FULL_STRENGTH)


def locality(finding: Finding) -> float:
    """1 when one of many series moved, falling to 0 when all of them moved together."""
    if finding.series_count <= 1:
        return 1.0
    return 1.0 - (finding.moved_series_count - 1) / (finding.series_count - 1)


def _gpu_of(finding: Finding) -> tuple[str, str] | None:
    labels = finding.series_labels
    host = labels.get("Hostname") or labels.get("hostname")
    return None if host is None or "gpu" not in labels else (host, labels["gpu"])


def xid_gpu(findings: Sequence[Finding], signals: Mapping[str, Signal]) -> tuple[str, str] | None:
    """The GPU with a new hardware XID, whose other symptoms that XID already explains."""
    for finding in findings:
        signal = signals.get(finding.signal)
        if (
            signal is not None
            and signal.evaluator is Evaluator.XID
            and finding.moved
            and finding.peak is not None
            and not is_application_xid(int(finding.peak))
        ):
            return _gpu_of(finding)
    return None


def alert_priors(alert_names: Sequence[str]) -> dict[HypothesisKind, list[str]]:
    """Which causes the firing alerts' names hint at (a weak prior, never proof)."""
    hints: dict[HypothesisKind, list[str]] = {}
    for name in alert_names:
        flat = name.lower().replace("_", "").replace("-", "")
        for needle, kind in ALERT_HINTS:
            if needle in flat and name not in hints.get(kind, []):
                hints.setdefault(kind, []).append(name)
    return hints


def leaders(findings: Sequence[Finding], signals: Mapping[str, Signal]) -> list[Finding]:
    """The cause signals that moved first (within `ONSET_TIE` of the earliest onset)."""
    timed = [
        f
        for f in findings
        if f.moved
        and f.onset_at is not None
        and f.signal in signals
        and not signals[f.signal].symptom
    ]
    if not timed:
        return []
    first = min(f.onset_at for f in timed if f.onset_at is not None)
    return [f for f in timed if f.onset_at is not None and f.onset_at - first <= ONSET_TIE]


def _explain(tally: _Tally, lead: Sequence[str], priors: Sequence[str]) -> str:
    texts = [text for _, _, text in sorted(tally.parts, key=lambda p: -p[0])[:4]]
    if lead:
        texts.append("moved first: " + ", ".join(lead))
    if priors:
        texts.append("alert " + ", ".join(priors))
    return "; ".join(texts)


def _unknown(
    findings: Sequence[Finding],
    signals: Mapping[str, Signal],
    unavailable: Mapping[str, str],
    missing: Sequence[str],
    nothing_seen: bool,
) -> str:
    symptoms = [
        f for f in findings if f.moved and f.signal in signals and signals[f.signal].symptom
    ]
    parts = ["inconclusive: no telemetry answered for this incident"] if nothing_seen else []
    if symptoms:
        parts.append("symptoms moved: " + "; ".join(f.describe() for f in symptoms[:2]))
    if not nothing_seen:
        parts.append("no cause signal moved clearly from its baseline")
    if unavailable:
        parts.append("unavailable: " + "; ".join(f"{k}: {v}" for k, v in unavailable.items()))
    parts.extend(missing)
    scored = sum(1 for f in findings if f.status in (FindingStatus.MOVED, FindingStatus.STEADY))
    parts.append(f"{scored} of {len(findings)} signals scored")
    return "; ".join(parts)


def rank(
    findings: Sequence[Finding],
    signals: Mapping[str, Signal],
    verdicts: Sequence[RuleVerdict] = (),
    alert_names: Sequence[str] = (),
    unavailable: Mapping[str, str] | None = None,
    coverage: Coverage | None = None,
    missing: Sequence[str] = (),
) -> list[Hypothesis]:
    """Hypotheses best first, each with its confidence, evidence and a numeric explanation."""
    tallies: dict[HypothesisKind, _Tally] = {}
    broken_gpu = xid_gpu(findings, signals)
    for finding in findings:
        signal = signals.get(finding.signal)
        if signal is None or not finding.moved or finding.direction is None:
            continue
        on_broken_gpu = broken_gpu is not None and _gpu_of(finding) == broken_gpu
        for support in signal.supports:
            if support.direction is not finding.direction:
                continue
            if on_broken_gpu and support.kind is not HypothesisKind.GPU_FAULT:
                continue  # a GPU off the bus also stops clocking; that is not throttling
            tally = tallies.setdefault(support.kind, _Tally())
            if support.weight >= 0:
                weight = support.weight * strength(finding)
                weight *= locality(finding) if support.localized else 1.0
                tally.score += weight
                tally.parts.append((weight, finding.signal, finding.describe()))
            else:
                tally.penalty *= 1.0 - min(1.0, -support.weight * strength(finding))

    lead = leaders(findings, signals)
    lead_by_kind: dict[HypothesisKind, list[str]] = {}
    for finding in lead:
        on_broken_gpu = broken_gpu is not None and _gpu_of(finding) == broken_gpu
        for support in signals[finding.signal].supports:
            if on_broken_gpu and support.kind is not HypothesisKind.GPU_FAULT:
                continue
            if support.direction is finding.direction and support.weight >= LEAD_MIN_WEIGHT:
                lead_by_kind.setdefault(support.kind, []).append(finding.signal)
    lead_names = {f.signal for f in lead}
    for verdict in verdicts:
        if verdict.boost <= 0:
            continue
        if verdict.evidence in lead_names and verdict.evidence not in lead_by_kind.get(
            verdict.kind, []
        ):
            lead_by_kind.setdefault(verdict.kind, []).insert(0, verdict.evidence)
    for kind in lead_by_kind:
        tallies.setdefault(kind, _Tally()).score += LEAD_BONUS

    for verdict in verdicts:
        tally = tallies.setdefault(verdict.kind, _Tally())
        if verdict.boost < 0:
            tally.penalty *= max(0.0, 1.0 + verdict.boost)
            continue
        tally.score += verdict.boost
        tally.parts.append((verdict.boost, verdict.evidence, verdict.explanation))

    nothing_seen = coverage is not None and not coverage.seen
    priors = {} if nothing_seen else alert_priors(alert_names)
    for kind in priors:
        tallies.setdefault(kind, _Tally()).score += ALERT_PRIOR

    ranked: list[Hypothesis] = []
    for kind, tally in tallies.items():
        confidence = (1.0 - math.exp(-tally.score)) * tally.penalty
        if coverage is not None:
            confidence = coverage.adjust(kind, confidence)
        confidence = round(confidence, 3)
        if confidence < MIN_CONFIDENCE:
            continue
        evidence = tuple(
            dict.fromkeys(name for _, name, _ in sorted(tally.parts, key=lambda p: -p[0]))
        )
        explanation = _explain(tally, lead_by_kind.get(kind, []), priors.get(kind, []))
        ranked.append(Hypothesis(kind, confidence, evidence, explanation))

    unknown = 1.0 - max((h.confidence for h in ranked), default=0.0)
    unknown = round(unknown * (coverage.observed_share() if coverage else 1.0), 3)
    if unknown >= MIN_CONFIDENCE or not ranked:
        explanation = _unknown(findings, signals, unavailable or {}, missing, nothing_seen)
        ranked.append(Hypothesis(HypothesisKind.UNKNOWN, unknown, (), explanation))
    order = list(HypothesisKind)
    ranked.sort(key=lambda h: (-h.confidence, order.index(h.kind)))
    return ranked
