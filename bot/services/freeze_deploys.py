"""Freeze and unfreeze deploys of a model (or of every model), and let one change through.

Each takes effect in the transaction that audits it, so the gate answers differently the moment
the person is told. Freezing a scope again replaces its freeze; unfreezing one that is not
frozen changes nothing. An exception (`allow_deploy`) lets the next change recorded for the
model through once, until it expires; granting another replaces an unused one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.changes import EXCEPTION_TTL, DeployException, Freeze, GateDecision
from bot.ports import Store
from bot.services.check_gate import gate_decision


def freeze_deploys(
    store: Store, scope: str, duration_s: float, reason: str, actor: str, now: datetime
) -> Freeze:
    """Hold every change to `scope` (a model, or ALL_MODELS) for `duration_s`."""
    freeze = Freeze(scope, now + timedelta(seconds=duration_s), actor, now, reason)
    with store.transaction() as tx:
        tx.freezes.put(freeze)
        detail = {"scope": scope, "until": freeze.until.isoformat(), "reason": reason}
        tx.audit.record(actor, "deploys_frozen", None, detail)
    return freeze


def unfreeze_deploys(store: Store, scope: str, actor: str) -> Freeze | None:
    """Lift the freeze of `scope`; answer it, or None when it was not frozen."""
    with store.transaction() as tx:
        lifted = tx.freezes.lift(scope)
        if lifted is not None:
            detail = {"scope": scope, "until": lifted.until.isoformat(), "by": lifted.frozen_by}
            tx.audit.record(actor, "deploys_unfrozen", None, detail)
    return lifted


def allow_deploy(
    store: Store,
    model: str,
    reason: str,
    actor: str,
    now: datetime,
    ttl: timedelta = EXCEPTION_TTL,
) -> tuple[DeployException, GateDecision]:
    """Grant a single-use exception for `model`; answer it and the gate it now opens (audited
    on the model's first open incident, where on-call will look for it)."""
    with store.transaction() as tx:
        granted = tx.deploy_exceptions.grant(DeployException(model, actor, now, now + ttl, reason))
        decision = gate_decision(tx, model, now)
        held_by = decision.incident_ids[0] if decision.incident_ids else None
        detail = {
            "model": model,
            "exception_id": granted.id,
            "expires_at": granted.expires_at.isoformat(),
            "reason": reason,
            "gate": list(decision.reasons),
        }
        tx.audit.record(actor, "deploy_exception_granted", held_by, detail)
    return granted, decision
