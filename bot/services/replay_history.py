"""Replay past alerts: what Firebreak would have done over a stretch of history, acting on nothing.

`HistoryReplay.run(start, end)` reads every alert's firings from the AlertHistory port
(Prometheus's `ALERTS`), rebuilds the notifications Alertmanager would have sent for them
(bot/domain/alert_history.py, grouped by the routing tree), and for each one, in order:

1. triages it as the triage task would have, *at the time it was sent*: the real correlation
   engine on the incident's labels and alert names, every query a range ending at the
   notification's time, so nothing after it is seen (`parallel` incidents at once);
2. judges the runbooks as planning after triage would (bot/runbook/verdict.py), with guards
   that count only the runs this replay would have started, on a clock set to the incident's
   time; no target is read or changed;
3. looks past the notification to say whether the metrics recovered on their own
   (bot/correlation/recovery.py): the alerts ended and the top evidence signal came back to
   its baseline within `recovery_window_s`.

It writes nothing: recording replayed incidents is bot/services/record_replay.py's, on request.
It never calls chat or a model. `progress(done, total)` hears after each incident.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from bot.correlation.catalogue import Catalogue, default_catalogue
from bot.correlation.engine import correlate
from bot.correlation.facts import evidence_facts
from bot.correlation.recovery import (
    Recovery,
    RecoveryVerdict,
    alerts_verdict,
    judge_recovery,
    lead_finding,
)
from bot.domain.alert_history import Notification, rebuild_notifications
from bot.domain.alert_routing import RoutingTree
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError, TriageReport
from bot.ports import AlertHistory, MetricsSource
from bot.runbook.consent import ranked_hypotheses
from bot.runbook.guards import Guards
from bot.runbook.planner import Planner
from bot.runbook.schema import Runbook
from bot.runbook.verdict import Decision, RunbookVerdict, decide_runbooks
from bot.services.triage_incident import TriageWindows

log = structlog.get_logger(__name__)

DEFAULT_RECOVERY_WINDOW_S = 900.0
DEFAULT_PARALLEL = 2
"""Incidents triaged at once (each also queries in parallel): runbook verdicts stay in order."""
NODE_LABELS = ("Hostname", "node", "kubernetes_node")
Progress = Callable[[int, int], None]


class ReplayClock:
    """The moment a replay has reached; the guards read it as their clock."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime.fromtimestamp(0, UTC)

    def __call__(self) -> datetime:
        return self.moment


@dataclass(frozen=True)
class IncidentReplay:
    """One rebuilt notification: the incident it would have opened, what triage said then,
    the runbooks' verdicts, and whether the metrics recovered on their own."""

    notification: Notification
    report: TriageReport
    runbooks: tuple[RunbookVerdict, ...]
    recovery: Recovery
    incident_id: int | None = None

    @property
    def labels(self) -> dict[str, str]:
        return self.notification.common_labels

    @property
    def scope(self) -> dict[str, str]:
        """Model, namespace and node, from the alert labels, else what triage resolved."""
        labels, topology = self.labels, self.report.topology
        node = next((labels[n] for n in NODE_LABELS if labels.get(n)), "")
        facts = evidence_facts(self.report.to_dict())
        nodes = list(topology.get("nodes") or [])
        return {
            "model": labels.get("model_name") or ",".join(topology.get("models") or []),
            "namespace": labels.get("namespace") or ",".join(topology.get("namespaces") or []),
            "node": node or facts.get("node", "") or (nodes[0] if len(nodes) == 1 else ""),
        }

    @property
    def runbook(self) -> RunbookVerdict:
        """The verdict that decides the incident: the first runbook that would have run, else
        the best match's."""
        return next(
            (v for v in self.runbooks if v.decision is Decision.WOULD_RUN), self.runbooks[0]
        )

    def to_dict(self) -> dict[str, Any]:
        n = self.notification
        return {
            "incident_id": self.incident_id,
            "receiver": n.receiver,
            "group_key": n.group_key,
            "started_at": n.started_at.isoformat(),
            "notified_at": n.notify_at.isoformat(),
            "triaged_until": self.report.window_end.isoformat(),
            "ended_at": None if n.ended_at is None else n.ended_at.isoformat(),
            "alert_names": n.all_alert_names,
            "labels": self.labels,
            "scope": self.scope,
            "hypotheses": [h.to_dict() for h in self.report.hypotheses],
            "evidence": [f.describe() for f in self.report.findings if f.moved],
            "missing": list(self.report.missing),
            "unavailable": dict(self.report.unavailable),
            "runbooks": [v.to_dict() for v in self.runbooks],
            "recovery": self.recovery.to_dict(),
        }


@dataclass(frozen=True)
class ReplayReport:
    """A whole replay: the range, how alerts were read and grouped, and every incident."""

    start: datetime
    end: datetime
    interval_s: float
    alerts: int
    incidents: list[IncidentReplay]
    suppressed: int = 0
    already_firing: int = 0
    inhibited: int = 0
    duration_s: float = 0.0

    @property
    def rate_per_s(self) -> float:
        return len(self.incidents) / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "evaluation_interval_s": self.interval_s,
            "firings": self.alerts,
            "suppressed_before_group_wait": self.suppressed,
            "already_firing_at_start": self.already_firing,
            "inhibited_alerts": self.inhibited,
            "duration_s": round(self.duration_s, 3),
            "incidents_per_s": round(self.rate_per_s, 3),
            "incidents": [i.to_dict() for i in self.incidents],
        }


class HistoryReplay:
    """Triage and runbook planning over past alerts, at the times they happened."""

    def __init__(
        self,
        history: AlertHistory,
        metrics: MetricsSource,
        tree: RoutingTree,
        runbooks: Sequence[Runbook],
        planner: Planner,
        guards: Guards,
        clock: ReplayClock,
        *,
        catalogue: Catalogue | None = None,
        windows: TriageWindows | None = None,
        recovery_window_s: float = DEFAULT_RECOVERY_WINDOW_S,
        progress: Progress | None = None,
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        self._history = history
        self._metrics = metrics
        self._tree = tree
        self._runbooks = list(runbooks)
        self._planner = planner
        self._guards = guards
        self._clock = clock
        self._catalogue = catalogue or default_catalogue()
        self._windows = windows or TriageWindows()
        self._recovery_window = timedelta(seconds=recovery_window_s)
        self._progress = progress
        self._parallel = max(1, parallel)

    def run(self, start: datetime, end: datetime) -> ReplayReport:
        """Replay every notification first sent between `start` and `end` whose group began
        in the range (one already firing at `start` was notified before it)."""
        began = time.perf_counter()
        interval_s = self._history.evaluation_interval_s()
        firings = self._history.firing(start, end)
        rebuilt = rebuild_notifications(firings, self._tree)
        # A group already firing when the range starts was notified before it: not replayed.
        earlier = sum(1 for n in rebuilt.notifications if n.started_at < start)
        notifications = [
            n for n in rebuilt.notifications if n.started_at >= start and n.notify_at <= end
        ]
        log.info("replay_started", firings=len(firings), notifications=len(notifications))
        incidents: list[IncidentReplay] = []
        with ThreadPoolExecutor(max_workers=self._parallel) as pool:
            triaged = pool.map(self._triage, notifications)
            for notification, (report, recovery) in zip(notifications, triaged, strict=True):
                verdicts = self._decide(notification, report)
                incidents.append(IncidentReplay(notification, report, verdicts, recovery))
                if self._progress is not None:
                    self._progress(len(incidents), len(notifications))
        duration_s = time.perf_counter() - began
        log.info("replay_finished", incidents=len(incidents), duration_s=round(duration_s, 3))
        return ReplayReport(
            start=start,
            end=end,
            interval_s=interval_s,
            alerts=len(firings),
            incidents=incidents,
            suppressed=rebuilt.suppressed,
            already_firing=earlier,
            inhibited=rebuilt.inhibited,
            duration_s=duration_s,
        )

    def _triage(self, notification: Notification) -> tuple[TriageReport, Recovery]:
        """Triage at the notification's time, and recovery after it: needs no other incident."""
        windows = self._windows
        started_at = min(a.start for a in notification.first_alerts)
        report = correlate(
            self._metrics,
            notification.common_labels,
            notification.alert_names,
            started_at,
            notification.notify_at,
            baseline_s=windows.baseline_s,
            lead_s=windows.lead_s,
            step_s=windows.step_s,
            rate_window_s=windows.rate_window_s,
            catalogue=self._catalogue,
        )
        return report, self._recovery(notification, report)

    def _decide(
        self, notification: Notification, report: TriageReport
    ) -> tuple[RunbookVerdict, ...]:
        """The runbooks' verdicts, in notification order: guards count earlier incidents' runs."""
        document = report.to_dict()
        self._clock.moment = notification.notify_at
        verdicts = decide_runbooks(
            self._runbooks,
            self._planner,
            self._guards,
            notification.common_labels,
            ranked_hypotheses(document),
            evidence_facts(document),
        )
        return tuple(verdicts)

    def _recovery(self, notification: Notification, report: TriageReport) -> Recovery:
        window = self._recovery_window
        ended_at = notification.ended_at
        late = alerts_verdict(notification.notify_at, ended_at, window)
        if late is not None or ended_at is None:
            return late or Recovery(RecoveryVerdict.NOT_RECOVERED, "the alerts were still firing")
        finding = lead_finding(report)
        if finding is None:
            top = report.top.kind.value if report.top else "no hypothesis"
            reason = f"the alerts ended, but {top} has no signal scored against a baseline"
            return Recovery(RecoveryVerdict.INCONCLUSIVE, reason)
        signal = next((s for s in self._catalogue.signals if s.name == finding.signal), None)
        try:
            series = self._metrics.query_range(
                finding.promql, report.baseline_start, ended_at + window, report.step_s
            )
        except (UpstreamUnavailableError, BadQueryError) as exc:
            reason = f"{finding.signal} could not be read after the alerts ended: {exc}"
            return Recovery(RecoveryVerdict.INCONCLUSIVE, reason, finding.signal)
        return judge_recovery(
            finding,
            series,
            report.window_start,
            ended_at,
            window,
            floor_abs=0.0 if signal is None else signal.floor_abs,
        )
