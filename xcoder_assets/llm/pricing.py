"""What a model's tokens cost: litellm's local price map, or an override for self-hosted models.

An override is written `IN,OUT[,BATCH_IN,BATCH_OUT]`, in USD per million tokens (the way providers
list prices), e.g. XCODER_PRICE_SOLVE="0.55,2.19" or "0.55,2.19,0.275,1.095". Without batch figures
the batch price is the list price (an upper bound, said so in `source`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xcoder_assets.llm.limits import LLMConfigError

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per token; `source` says where the figures come from (shown by `xcoder estimate`)."""

    input: float
    output: float
    batch_input: float
    batch_output: float
    source: str
    known: bool = True  # False: no price anywhere (counted as 0, which a budget cannot cap)

    def cost(self, prompt_tokens: float, completion_tokens: float, batch: bool = False) -> float:
        if batch:
            return prompt_tokens * self.batch_input + completion_tokens * self.batch_output
        return prompt_tokens * self.input + completion_tokens * self.output

    def per_million(self, batch: bool = False) -> str:
        pin, pout = (self.batch_input, self.batch_output) if batch else (self.input, self.output)
        return f"{pin * PER_MILLION:.4g}/{pout * PER_MILLION:.4g}"


UNKNOWN = Price(0.0, 0.0, 0.0, 0.0, "no price (not in litellm's price map; set XCODER_PRICE_<ROLE>)", known=False)


def parse_price(text: str, name: str) -> Price:
    """An override from its text; LLMConfigError naming `name` when it is malformed."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (2, 4) or any(v < 0 for v in values):
        raise LLMConfigError(
            f"{name}={text!r}: expected IN,OUT or IN,OUT,BATCH_IN,BATCH_OUT in USD per million tokens "
            "(non-negative numbers), e.g. 0.55,2.19"
        )
    per_token = [v / PER_MILLION for v in values]
    if len(per_token) == 2:
        return Price(*per_token, *per_token, source=f"{name} (batch: list price)")
    return Price(*per_token, source=name)


def map_price(model: str) -> Price:
    """litellm's local price map for `model` (its batch columns where it has them); UNKNOWN when absent."""
    import litellm

    try:
        info = litellm.get_model_info(model)
    except Exception:
        return UNKNOWN
    pin, pout = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if pin is None or pout is None:
        return UNKNOWN
    bin_, bout = info.get("input_cost_per_token_batches"), info.get("output_cost_per_token_batches")
    if bin_ is None or bout is None:
        return Price(pin, pout, pin, pout, "litellm price map (no batch price: list price)")
    return Price(pin, pout, bin_, bout, "litellm price map")
