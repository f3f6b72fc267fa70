"""A replay report as a text table (stdout), JSON, or one self-contained HTML page.

The HTML page is `templates/report.html.j2` rendered by Jinja2 with autoescaping on: every
label, alert name and explanation is escaped, whatever the alerts carried. Times are UTC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.correlation.recovery import RecoveryVerdict
from bot.runbook.verdict import Decision, RunbookVerdict
from bot.services.replay_history import IncidentReplay, ReplayReport

TOP_CAUSES = 3
TEXT_WIDTH = 110
_DECISIONS = {
    Decision.WOULD_RUN: "would run",
    Decision.AWAITING_APPROVAL: "awaiting approval",
    Decision.BLOCKED_BY_GUARD: "blocked by guard",
    Decision.UNPLANNABLE: "cannot be planned",
    Decision.NO_MATCH: "none",
}
_RECOVERY = {
    RecoveryVerdict.RECOVERED: "yes, on its own",
    RecoveryVerdict.NOT_RECOVERED: "no",
    RecoveryVerdict.INCONCLUSIVE: "inconclusive",
}


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def runbook_cell(verdict: RunbookVerdict) -> str:
    """`scale-out: would run`, or `none` when nothing matched."""
    decision = _DECISIONS[verdict.decision]
    return f"{verdict.runbook}: {decision}" if verdict.runbook else decision


def cause_cell(incident: IncidentReplay) -> str:
    top = incident.report.top
    return "-" if top is None else f"{top.kind.value} {top.confidence:.0%}"


def scope_cell(incident: IncidentReplay) -> str:
    scope = incident.scope
    parts = [scope["model"] or "-", scope["namespace"] or "-"]
    if scope["node"]:
        parts.append(scope["node"])
    return " / ".join(parts)


def rows(report: ReplayReport) -> list[dict[str, Any]]:
    """What the table and the page show per incident."""
    out = []
    for number, incident in enumerate(report.incidents, start=1):
        n, triage = incident.notification, incident.report
        evidence = {f.signal: f for f in triage.findings}
        causes = []
        for hypothesis in triage.hypotheses[:TOP_CAUSES]:
            found = [evidence[name] for name in hypothesis.evidence if name in evidence]
            causes.append(
                {
                    "kind": hypothesis.kind.value,
                    "confidence": f"{hypothesis.confidence:.0%}",
                    "explanation": hypothesis.explanation,
                    "evidence": [f.describe() for f in found if f.moved],
                }
            )
        out.append(
            {
                "number": number,
                "ref": f"INC-{incident.incident_id}" if incident.incident_id else f"#{number}",
                "started": when(n.started_at),
                "notified": when(n.notify_at),
                "ended": when(n.ended_at) if n.ended_at else "still firing",
                "alerts": ", ".join(n.all_alert_names),
                "receiver": n.receiver,
                "group_key": n.group_key,
                "scope": scope_cell(incident),
                "cause": cause_cell(incident),
                "causes": causes,
                "missing": list(triage.missing),
                "runbook": runbook_cell(incident.runbook),
                "runbooks": [
                    {
                        "cell": runbook_cell(v),
                        "reason": v.reason,
                        "target": v.target,
                        "steps": list(v.steps),
                    }
                    for v in incident.runbooks
                ],
                "recovered": _RECOVERY[incident.recovery.verdict],
                "recovery": incident.recovery.reason,
            }
        )
    return out


def summary(report: ReplayReport) -> dict[str, Any]:
    """Counts for the header: incidents, what runbooks would have done, what recovered."""
    decisions = [i.runbook.decision for i in report.incidents]
    return {
        "from": when(report.start),
        "to": when(report.end),
        "incidents": len(report.incidents),
        "firings": report.alerts,
        "suppressed": report.suppressed,
        "inhibited": report.inhibited,
        "already_firing": report.already_firing,
        "would_run": decisions.count(Decision.WOULD_RUN),
        "awaiting_approval": decisions.count(Decision.AWAITING_APPROVAL),
        "blocked": decisions.count(Decision.BLOCKED_BY_GUARD),
        "no_runbook": decisions.count(Decision.NO_MATCH) + decisions.count(Decision.UNPLANNABLE),
        "recovered": sum(1 for i in report.incidents if i.recovery.on_its_own),
        "interval_s": f"{report.interval_s:g}",
        "duration_s": f"{report.duration_s:.1f}",
        "rate": f"{report.rate_per_s:.2f}",
    }


def _table(header: Sequence[str], lines: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip(), *(fmt.format(*r).rstrip() for r in lines)]


def to_text(report: ReplayReport) -> str:
    """A table of incidents, then each incident's causes, runbook and recovery."""
    s = summary(report)
    out = [
        f"Replay {s['from']} → {s['to']} UTC: {s['incidents']} incident(s) from "
        f"{s['firings']} firing(s) read at {s['interval_s']} s "
        f"({s['suppressed']} ended before group_wait, {s['inhibited']} alert(s) inhibited, "
        f"{s['already_firing']} already firing at the start)",
        f"Runbooks: {s['would_run']} would run, {s['awaiting_approval']} awaiting approval, "
        f"{s['blocked']} blocked by guards, {s['no_runbook']} none. "
        f"Recovered on their own: {s['recovered']}. "
        f"Replayed in {s['duration_s']} s ({s['rate']} incidents/s); nothing was acted on.",
        "",
    ]
    table = rows(report)
    if not table:
        return "\n".join([*out, "No alert fired in this range."]) + "\n"
    header = ("#", "notified (UTC)", "alerts", "scope", "cause", "runbook", "recovered")
    cells = [
        (r["ref"], r["notified"], r["alerts"], r["scope"], r["cause"], r["runbook"], r["recovered"])
        for r in table
    ]
    out += _table(header, cells)
    for r in table:
        out += ["", f"{r['ref']}  {r['alerts']}  [{r['group_key']}]"]
        out.append(f"  started {r['started']}, notified {r['notified']}, ended {r['ended']}")
        for cause in r["causes"]:
            if cause["evidence"]:
                out.append(f"  cause {cause['kind']} {cause['confidence']}")
                out += [f"    - {_clip(line)}" for line in cause["evidence"]]
            else:
                out.append(f"  cause {cause['kind']} {cause['confidence']}: {cause['explanation']}")
        out += [f"  cannot see: {line}" for line in r["missing"]]
        for verdict in r["runbooks"]:
            target = f" on {verdict['target']}" if verdict["target"] else ""
            out.append(f"  runbook {verdict['cell']}{target}: {verdict['reason']}")
            steps = enumerate(verdict["steps"], start=1)
            out += [f"    {i}. {_clip(step)}" for i, step in steps]
        out.append(f"  recovered: {r['recovered']}: {r['recovery']}")
    return "\n".join(out) + "\n"


def _clip(text: str, width: int = TEXT_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def to_json(report: ReplayReport) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


_ENVIRONMENT = Environment(
    loader=PackageLoader("bot.replay", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_html(report: ReplayReport) -> str:
    """The report as one HTML page (inline CSS, no scripts)."""
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(summary=summary(report), rows=rows(report))
