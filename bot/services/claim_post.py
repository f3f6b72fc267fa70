"""Leased ledger claims for chat posts whose outcome can be unknown.

A chat post is claimed in the ledger (incident, step) before it is made, so two tasks never both
post. A post can fail without an answer and still have landed (a lost HTTP answer, a worker
killed between posting and completing the claim), so a claim is a lease, not a lock:

- a post that failed for any reason but a rate limit releases its claim and marks the step
  uncertain (`<step>:uncertain`) in the same transaction;
- a claim left open longer than its lease (its holder was killed) is taken over, uncertain too;
- whoever holds an uncertain step looks for the post in the chat first and adopts what it finds,
  and posts only when nothing is there.

So a post is made once and never lost: a rate limit (Slack did not post) is simply retried, and
every other failure is resolved by looking before posting again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.domain.errors import RateLimitedError, StepInFlightError
from bot.ports import Store

T = TypeVar("T")


@dataclass(frozen=True)
class PostClaim:
    """The caller's hold on a post step: `held` (post, or adopt), `uncertain` (look first)."""

    held: bool
    uncertain: bool = False


def uncertain_step(step: str) -> str:
    """The ledger step that marks `step`'s last attempt as of unknown outcome."""
    return f"{step}:uncertain"


def claim_post(store: Store, incident_id: int, step: str, lease_s: float, what: str) -> PostClaim:
    """Claim `step`, or take it over once its holder's lease ran out.

    Not held when the step is completed already. Raises StepInFlightError while another task
    holds a claim younger than `lease_s`, asking to come back when it may have run out.
    """
    with store.transaction() as tx:
        claimed = tx.ledger.claim(incident_id, step)
        taken_over = not claimed and tx.ledger_leases.take_over(incident_id, step, lease_s)
        held_for_s = (
            None if claimed or taken_over else tx.ledger_leases.claim_age_s(incident_id, step)
        )
        uncertain = taken_over or (
            claimed and tx.ledger.state(incident_id, uncertain_step(step)) is not None
        )
    if held_for_s is not None:
        raise StepInFlightError(
            f"INC-{incident_id}'s {what} is being posted by another task",
            retry_after_s=max(1.0, lease_s - held_for_s),
        )
    return PostClaim(held=claimed or taken_over, uncertain=uncertain)


def settle_post(
    store: Store,
    incident_id: int,
    step: str,
    claim: PostClaim,
    find: Callable[[], T | None],
    post: Callable[[], T],
) -> tuple[T, bool]:
    """Make a held post: after an uncertain attempt, adopt what `find` answers, else `post`.
    Answers the message and whether it was posted now. On failure the claim is released; a
    failure other than a rate limit may have posted, so the step is marked uncertain with it."""
    try:
        found = find() if claim.uncertain else None
        if found is not None:
            return found, False
        return post(), True
    except RateLimitedError:
        release_post(store, incident_id, step, uncertain=False)
        raise
    except Exception:
        release_post(store, incident_id, step, uncertain=True)
        raise


def release_post(store: Store, incident_id: int, step: str, *, uncertain: bool) -> None:
    """Forget an open claim; with `uncertain`, the next holder looks before it posts."""
    with store.transaction() as tx:
        tx.ledger.release(incident_id, step)
        marker = uncertain_step(step)
        if uncertain and tx.ledger.claim(incident_id, marker):
            tx.ledger.complete(incident_id, marker)
