"""Alertmanager routing and grouping as replay rebuilds it: routes, group keys, inhibition,
group_wait, episodes, and firings read back from `ALERTS` sample times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from bot.demo.monitoring import ALERTMANAGER_CONFIG
from bot.domain.alert_history import (
    FiringInterval,
    alert_fingerprint,
    firing_intervals,
    rebuild_notifications,
    webhook_payload,
)
from bot.domain.alert_routing import RoutingConfigError, RoutingTree
from bot.domain.alerts import AlertGroup

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 20s
  group_interval: 2m
  routes:
    - matchers: ['severity="critical"', 'service=~"llm-.*"']
      receiver: pager
      group_by: [alertname, model_name]
      continue: true
      routes:
        - match: {team: gpu}
          receiver: gpu-oncall
          group_wait: 5s
    - match_re: {alertname: "LLM.*"}
      receiver: firebreak
      group_by: ['...']
    - matchers: ['{alertname="Never", model_name!="x"}']
      receiver: unreachable
inhibit_rules:
  - source_matchers: ['alertname="LLMErrorRatioAfterDeploy"']
    target_matchers: ['alertname="LLMServerErrors"']
    equal: [model_name]
"""


def tree() -> RoutingTree:
    return RoutingTree.from_config(yaml.safe_load(CONFIG))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def firing(labels: dict[str, str], start: float, end: float | None) -> FiringInterval:
    return FiringInterval(labels, at(start), None if end is None else at(end))


def test_routes_follow_matchers_continue_and_inheritance() -> None:
    """An alert takes the first matching child, siblings only after `continue`, the deepest
    match within; children inherit what they do not set."""
    routes = tree().routes_for(
        {"alertname": "LLMKVCacheSaturated", "severity": "critical", "service": "llm-serving"}
    )
    assert [r.receiver for r in routes] == ["pager", "firebreak"]
    pager, firebreak = routes
    assert (pager.group_wait_s, pager.group_interval_s) == (20.0, 120.0)
    assert firebreak.group_by_all

    gpu = tree().routes_for(
        {
            "alertname": "GPUXidError",
            "severity": "critical",
            "service": "llm-serving",
            "team": "gpu",
        }
    )
    assert [(r.receiver, r.group_wait_s, r.group_by) for r in gpu] == [
        ("gpu-oncall", 5.0, ("alertname", "model_name"))
    ]
    assert [r.receiver for r in tree().routes_for({"alertname": "Disk"})] == ["default"]


def test_group_keys_are_alertmanagers() -> None:
    """groupKey is the route's key (sorted matchers, parent first) and the group labels;
    `'...'` groups by every label, and a group_by label the alert lacks is left out."""
    labels = {
        "alertname": "LLMModelDrift",
        "severity": "critical",
        "service": "llm-serving",
        "model_name": "m",
    }
    pager, firebreak = tree().routes_for(labels)
    assert pager.group_key(labels) == (
        '{}/{service=~"llm-.*",severity="critical"}:{alertname="LLMModelDrift", model_name="m"}'
    )
    assert firebreak.group_key(labels) == (
        '{}/{alertname=~"LLM.*"}:{alertname="LLMModelDrift", model_name="m", '
        'service="llm-serving", severity="critical"}'
    )
    assert pager.group_labels({"alertname": "X"}) == {"alertname": "X"}


def test_default_and_shipped_configs_group_by_alertname_and_model() -> None:
    """Without a file, one group per (alertname, model_name) with a 30 s wait; the shipped
    alertmanager.yml reads the same way, with its 10 s wait and both inhibit rules."""
    labels = {"alertname": "A", "model_name": "m", "pod": "p"}
    default = RoutingTree.default()
    assert default.root.group_key(labels) == '{}:{alertname="A", model_name="m"}'
    assert default.root.group_wait_s == 30.0
    shipped = RoutingTree.from_config(yaml.safe_load(ALERTMANAGER_CONFIG.read_text()))
    assert shipped.root.group_key(labels) == default.root.group_key(labels)
    assert (shipped.root.receiver, shipped.root.group_wait_s) == ("firebreak", 10.0)
    assert len(shipped.inhibit_rules) == 2


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "no `route`"),
        ({"route": {"group_by": ["a"]}}, "needs a receiver"),
        ({"route": {"receiver": "r", "matchers": ['a="b"']}}, "must not have matchers"),
        ({"route": {"receiver": "r", "group_wait": "soon"}}, "route.group_wait"),
        ({"route": {"receiver": "r", "routes": [{"matchers": ["a=~("]}]}}, "routes[0].matchers"),
        ({"route": {"receiver": "r", "group_by": ["...", "a"]}}, "must be the only entry"),
    ],
)
def test_bad_configurations_say_where(document: dict[str, object], message: str) -> None:
    """A configuration replay cannot read is refused with the place and the reason."""
    with pytest.raises(RoutingConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        RoutingTree.from_config(document)


def test_first_notification_waits_group_wait_and_carries_what_fires_then() -> None:
    """A group's first notification goes group_wait after its first alert, with every alert
    firing then; a later alert of the group joins the same episode."""
    m = {"model_name": "m", "severity": "warning"}
    rebuilt = rebuild_notifications(
        [
            firing({"alertname": "A", **m, "pod": "p1"}, 0, 10),
            firing({"alertname": "A", **m, "pod": "p2"}, 0.1, None),
            firing({"alertname": "A", **m, "pod": "p3"}, 5, 6),
        ],
        RoutingTree.default(),
    )
    [notification] = rebuilt.notifications
    assert notification.notify_at == at(0.5)
    assert [a.labels["pod"] for a in notification.first_alerts] == ["p1", "p2"]
    assert len(notification.alerts) == 3
    assert notification.common_labels == {"alertname": "A", **m}
    assert notification.ended_at is None


def test_a_blip_shorter_than_group_wait_sends_nothing_and_a_gap_opens_a_new_episode() -> None:
    """Alerts that all stopped before the first flush are suppressed; an alert after the flush
    that found the group resolved opens a new group; one before it rejoins the old group."""
    labels = {"alertname": "A", "model_name": "m"}
    rebuilt = rebuild_notifications(
        [
            firing(labels, 0, 0.25),  # group flushed at 0.5 with nothing firing: removed
            firing(labels, 3, 4),  # new group: sent at 3.5; resolved, removed at the 8.5 flush
            firing(labels, 6, 7),  # joins that group before its 8.5 flush (never notified)
            firing(labels, 20, 25),
        ],
        RoutingTree.default(),
    )
    assert rebuilt.suppressed == 1
    assert [(n.started_at, n.notify_at, n.ended_at) for n in rebuilt.notifications] == [
        (at(3), at(3.5), at(7)),
        (at(20), at(20.5), at(25)),
    ]
    assert len(rebuilt.notifications[0].alerts) == 2


def test_inhibited_alerts_are_muted_only_while_their_source_fires() -> None:
    """An inhibit rule mutes its target while a source with the same `equal` labels fires; the
    target notifies once the source stopped, and another model's target is never muted."""
    rebuilt = rebuild_notifications(
        [
            firing({"alertname": "LLMErrorRatioAfterDeploy", "model_name": "m"}, 0, 30),
            firing({"alertname": "LLMServerErrors", "model_name": "m"}, 1, 40),
            firing({"alertname": "LLMServerErrors", "model_name": "other"}, 1, 40),
        ],
        tree(),
    )
    sent = {
        (n.first_alerts[0].name, n.first_alerts[0].labels["model_name"]): n
        for n in rebuilt.notifications
    }
    assert sent[("LLMServerErrors", "other")].started_at == at(1)
    assert sent[("LLMServerErrors", "m")].started_at == at(30)
    assert rebuilt.inhibited == 0  # muted for a while, never wholly


def test_firing_intervals_from_alerts_sample_times() -> None:
    """Sample times one evaluation apart are one firing (a missed evaluation too), ending one
    interval after its last sample; one near the range end is still firing."""
    base = T0.timestamp()
    times = [base + 15 * i for i in range(8)] + [base + 15 * 9]  # one evaluation missed
    times += [base + 600 + 15 * i for i in range(4)]  # again, 10 min later
    times += [base + 1200]
    end = datetime.fromtimestamp(base + 1210, UTC)
    labels = {"alertname": "A", "alertstate": "firing", "model_name": "m"}
    found = firing_intervals(labels, times + times[:3], 15.0, end)
    assert [(f.start, f.end) for f in found] == [
        (T0, T0 + timedelta(seconds=150)),
        (T0 + timedelta(seconds=600), T0 + timedelta(seconds=660)),
        (T0 + timedelta(seconds=1200), None),
    ]
    assert found[0].labels == {"alertname": "A", "model_name": "m"}


def test_fingerprints_and_webhook_bodies_are_alertmanagers() -> None:
    """Fingerprints match Alertmanager's own (FNV-1a over sorted labels), and the rebuilt
    notification is a valid webhook v4 body, firing first and resolved at the end."""
    labels = {
        "alertname": "LLMKVCacheSaturated",
        "model_name": "llama-3-70b-instruct",
        "namespace": "genai",
        "severity": "warning",
    }
    assert alert_fingerprint(labels) == "a22aaa50190ec73e"  # as a real Alertmanager answered
    [notification] = rebuild_notifications(
        [firing(labels, 0, 10)], RoutingTree.default()
    ).notifications
    first = AlertGroup.model_validate(webhook_payload(notification))
    last = AlertGroup.model_validate(webhook_payload(notification, resolved=True))
    assert (first.status.value, last.status.value) == ("firing", "resolved")
    assert first.alerts[0].fingerprint == "a22aaa50190ec73e"
    assert first.alerts[0].ends_at is None
    assert last.alerts[0].ends_at == at(10)
    assert (
        first.group_key == '{}:{alertname="LLMKVCacheSaturated", model_name="llama-3-70b-instruct"}'
    )
