"""Per-role model settings: which model each stage role uses and its generation parameters.

Defaults are the SynthSmith recipe's (the X-Coder paper's generation settings). No model configured means the
offline provider, which is deterministic and needs no key. This module takes values and never
reads the environment: the variables are read once, in defs/resources.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xcoder_assets.llm.pricing import Price, map_price, parse_price

OFFLINE_MODEL = "xcoder-offline/synthsmith-sim-1"

ROLES = ("extract", "evolve", "compose", "solve", "test_write")


@dataclass(frozen=True)
class GenerationParams:
    temperature: float
    top_p: float
    max_tokens: int
    top_k: int | None = None

    def as_dict(self) -> dict[str, Any]:
        values = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.top_k is not None:
            values["top_k"] = self.top_k
        return values


# The recipe's generation parameters per role.
RECIPE_PARAMS: dict[str, GenerationParams] = {
    "extract": GenerationParams(temperature=0.7, top_p=0.95, max_tokens=4096),
    "evolve": GenerationParams(temperature=0.7, top_p=0.95, max_tokens=4096),
    "compose": GenerationParams(temperature=0.7, top_p=0.8, top_k=20, max_tokens=32768),
    "solve": GenerationParams(temperature=0.6, top_p=0.95, max_tokens=32768),
    "test_write": GenerationParams(temperature=0.6, top_p=0.95, max_tokens=32768),
}


@dataclass(frozen=True)
class RoleSettings:
    role: str
    model: str
    params: GenerationParams
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    price_override: Price | None = None  # XCODER_PRICE_<ROLE>: for self-hosted models or negotiated prices
    batch: bool = False  # send through the provider's batch API (cheaper, answers within 24 h)

    @property
    def is_offline(self) -> bool:
        return self.model.startswith("xcoder-offline/")

    def price(self) -> Price:
        """The override, else litellm's price map; the offline simulator costs nothing."""
        if self.price_override is not None:
            return self.price_override
        if self.is_offline:
            return Price(0.0, 0.0, 0.0, 0.0, "offline simulator (free)")
        return map_price(self.model)


def role_settings(
    role: str,
    model: str | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    price: str | Price | None = None,
    batch: bool = False,
) -> RoleSettings:
    """Settings for one role: the given model (the offline model when none) and the recipe's parameters.
    `price` as an override's text (see pricing.py) or a Price."""
    if role not in ROLES:
        raise ValueError(f"unknown LLM role {role!r}; roles are {', '.join(ROLES)}")
    if isinstance(price, str):
        price = parse_price(price, f"XCODER_PRICE_{role.upper()}") if price.strip() else None
    return RoleSettings(
        role=role,
        model=model or OFFLINE_MODEL,
        params=RECIPE_PARAMS[role],
        api_base=api_base or None,
        api_key=api_key or None,
        price_override=price,
        batch=bool(batch),
    )
