"""What an LLM summary cost: per-model prices in US dollars per million tokens.

Prices come from FIREBREAK_LLM_PRICES, a JSON object keyed by model name:
`{"gpt-4o-mini": {"input_per_mtok": 0.15, "output_per_mtok": 0.60}}`. A call is priced by
the model that answered, else the model asked for; a dated snapshot
(`gpt-4o-mini-2024-07-18`) takes the price of the longest configured name it extends with a
`-`. A model with no price has no known cost: the summary says so rather than claim $0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

MILLION = 1_000_000


class ModelPrice(BaseModel):
    """One model's list price: dollars per million prompt (input) and completion (output)
    tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0.0)
    output_per_mtok: float = Field(ge=0.0)

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of one call's usage, to a millionth of a dollar."""
        spent = prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        return round(spent / MILLION, 6)


@dataclass(frozen=True)
class PriceList:
    """The configured prices, looked up by model name."""

    prices: Mapping[str, ModelPrice] = field(default_factory=dict)

    def price_of(self, *models: str) -> ModelPrice | None:
        """The price of the first of `models` that has one (exact name, then the longest
        configured name it extends with `-`); None when none is priced."""
        for model in (m for m in models if m):
            if model in self.prices:
                return self.prices[model]
            extended = [name for name in self.prices if model.startswith(f"{name}-")]
            if extended:
                return self.prices[max(extended, key=len)]
        return None
