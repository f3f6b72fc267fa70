"""Request parameters and bodies the API routes share, each bound to what the store holds.

Ids are 64-bit in both databases: an id past 2^63 - 1 is refused with a 422 naming it rather
than overflowing the driver. Actors are refused when they cannot be stored exactly
(bot.domain.text); reasons are free text, sanitised.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field, field_validator

from bot.domain.silences import silence_span
from bot.domain.text import Actor, FreeText

MAX_ID = 2**63 - 1

IncidentId = Annotated[int, Path(ge=1, le=MAX_ID, description="The incident's number (INC-n)")]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="The runbook run's number (RUN-n)")]


class ActorBody(BaseModel):
    """Who asks: a name of 1-255 characters without NUL or lone surrogates."""

    actor: Actor = "api"


class SilenceBody(BaseModel):
    """A silence of an incident's alerts: how long (`30m`, `2h`, `1d`; 1 minute to 30 days),
    who asks (its author in Alertmanager) and why."""

    duration: Annotated[str, Field(max_length=32, examples=["2h"])] = "1h"
    actor: Actor = "api"
    reason: Annotated[FreeText, Field(max_length=500)] = ""

    @field_validator("duration")
    @classmethod
    def _span(cls, value: str) -> str:
        silence_span(value)
        return value

    @property
    def span(self) -> timedelta:
        return silence_span(self.duration)


class DecisionBody(BaseModel):
    """An approval or denial: who decides, and optionally why."""

    actor: Actor
    reason: Annotated[FreeText, Field(max_length=500)] = ""
