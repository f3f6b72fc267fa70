"""FakeMetricsSource: canned answers for engine mechanics (scoping, failures, parallelism).

The fake answers a PromQL query from the entry whose key is the longest substring of the
query: a list of Series, a callable building them for the asked range, or an exception to
raise. Unmatched queries answer [] (no data). `delay_s` / `slow` make answers slow.
Triage accuracy is measured on recorded histories served by a real Prometheus
(tests/integration/test_triage_real_labels.py), never on this fake.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.domain.signals import Series

RangeBuilder = Callable[[datetime, datetime, float], list[Series]]
Answer = list[Series] | RangeBuilder | BaseException


@dataclass(frozen=True)
class Call:
    promql: str
    start: datetime | None
    end: datetime | None
    step_s: float | None


class FakeMetricsSource:
    """MetricsSource answering from canned or generated series keyed by PromQL substring."""

    def __init__(
        self,
        answers: Mapping[str, Answer] | None = None,
        *,
        delay_s: float = 0.0,
        slow: Mapping[str, float] | None = None,
    ) -> None:
        self.answers: dict[str, Answer] = dict(answers or {})
        self.delay_s = delay_s
        self.slow = dict(slow or {})
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def _match(self, promql: str, table: Mapping[str, object]) -> str | None:
        keys = [k for k in table if k in promql]
        return max(keys, key=len) if keys else None

    def _answer(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[Series]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            slow_key = self._match(promql, self.slow)
            pause = self.slow[slow_key] if slow_key is not None else self.delay_s
            if pause:
                time.sleep(pause)
            key = self._match(promql, self.answers)
            if key is None:
                return []
            answer = self.answers[key]
            if isinstance(answer, BaseException):
                raise answer
            if callable(answer):
                return answer(start, end, step_s)
            return list(answer)
        finally:
            with self._lock:
                self.in_flight -= 1

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        with self._lock:
            self.calls.append(Call(promql, start, end, step_s))
        return self._answer(promql, start, end, step_s)

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        with self._lock:
            self.calls.append(Call(promql, at, at, None))
        moment = at or datetime.now().astimezone()
        series = self._answer(promql, moment, moment, 1.0)
        return [Series(s.labels, s.points[-1:]) for s in series if s.points]


def stepped(labels: dict[str, str], before: float, after: float, onset: datetime) -> RangeBuilder:
    """A series at `before` until `onset`, then `after`, at whatever range and step asked."""

    def build(start: datetime, end: datetime, step_s: float) -> list[Series]:
        points = []
        ts = start.timestamp()
        while ts <= end.timestamp():
            points.append((ts, after if ts >= onset.timestamp() else before))
            ts += step_s
        return [Series(dict(labels), points)]

    return build
