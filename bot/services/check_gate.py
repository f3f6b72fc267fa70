"""The deploy gate: may a change to a model proceed now, and if not, what holds it.

The decision (bot/domain/changes.py `decide`) reads the model's open incidents (their labels
carry `model_name`), its firing alerts, the freezes covering it and an approver's unused
exception. Checking never changes anything: an exception is used only by a recorded change
(bot/services/record_change.py).
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.changes import GateDecision, decide
from bot.domain.incidents import Incident
from bot.ports import Store, UnitOfWork

MODEL_LABEL = "model_name"


def open_incidents_on(tx: UnitOfWork, model: str) -> list[Incident]:
    """The model's open incidents, oldest first."""
    found = (tx.incidents.get(i) for i in tx.scope_watch.incident_ids(MODEL_LABEL, model, None))
    return sorted((i for i in found if i is not None and i.is_open), key=lambda i: i.id)


def gate_decision(tx: UnitOfWork, model: str, now: datetime) -> GateDecision:
    """The gate of `model` as the store holds it now."""
    return decide(
        model,
        open_incidents_on(tx, model),
        tx.scope_watch.firing_for_model(model),
        tx.freezes.covering(model, now),
        tx.deploy_exceptions.usable(model, now),
        now,
    )


def check_gate(store: Store, model: str, now: datetime) -> GateDecision:
    """May a change to `model` proceed now? Reads only."""
    with store.transaction() as tx:
        return gate_decision(tx, model, now)
