"""Spending caps: a run's (and a day's, a generation batch's) LLM spending never passes its budget.

Before a request is sent the gateway reserves its worst case (its prompt tokens, estimated with a
margin, plus max_tokens, at the role's price) in every scope at once, in the cache database, so the
processes of one Dagster run share one budget; when it comes back the reservation becomes what it
really cost. When the next request's worst case would pass a budget, nothing more is sent: the
requests already answered are cached, and the stage stops with BudgetExceeded (one message: spent,
budget, requests left, how to continue). A rerun with a higher budget sends only the requests left.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from xcoder_assets.llm.limits import LLMConfigError


class LLMRunStopped(Exception):
    """A stage's LLM calls stopped short on purpose (budget reached, provider batch still pending):
    one message for the user, no stack trace. The Dagster resource turns it into a dg.Failure."""


@dataclass(frozen=True)
class BudgetLimit:
    scope: str  # the reservations' key: run:<run id>, day:<YYYY-MM-DD>, batch:<generation batch>
    limit_usd: float
    label: str  # how the message names it: "run", "day 2026-12-06", "batch b1"
    setting: str  # what to raise to continue


def budget_limits(
    run_id: str | None,
    run_usd: float | None = None,
    day_usd: float | None = None,
    batch_usd: float | None = None,
    batch_key: str | None = None,
    now: float | None = None,
) -> list[BudgetLimit]:
    """The budgets that apply to one stage's calls (unset ones left out); LLMConfigError for a negative one."""
    out = []
    for name, value in (("run", run_usd), ("day", day_usd), ("batch", batch_usd)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise LLMConfigError(f"the LLM {name} budget must be a non-negative number of USD, not {value!r}")
    if run_usd is not None:
        out.append(BudgetLimit(f"run:{run_id}", run_usd, "run", "XCODER_BUDGET_USD (the llm resource's budget_usd)"))
    if day_usd is not None:
        day = time.strftime("%Y-%m-%d", time.gmtime(now if now is not None else time.time()))
        out.append(
            BudgetLimit(
                f"day:{day}",
                day_usd,
                f"day {day} (UTC)",
                "XCODER_BUDGET_USD_PER_DAY (budget_usd_per_day), or wait for the next day",
            )
        )
    if batch_usd is not None and batch_key:
        out.append(
            BudgetLimit(
                f"batch:{batch_key}",
                batch_usd,
                f"generation batch {batch_key}",
                "XCODER_BUDGET_USD_PER_BATCH (budget_usd_per_batch)",
            )
        )
    return out


def worst_case_prompt_tokens(model: str, messages: list[dict[str, Any]]) -> int:
    """An upper estimate of the prompt's tokens: litellm's count (its tokenizer for the model, else
    tiktoken's) or a third of the characters, whichever is larger, plus 10% and 16 for the chat
    format, because the provider's own tokenizer may differ."""
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    try:
        import litellm

        counted = int(litellm.token_counter(model=model, messages=messages))
    except Exception:  # no tokenizer for this model: the character bound alone
        counted = 0
    return int(max(counted, math.ceil(chars / 3)) * 1.1) + 16


class BudgetExceeded(LLMRunStopped):
    def __init__(
        self,
        asset: str | None,
        limit: BudgetLimit,
        spent: float,
        reserved: float,
        requests_left: int,
        answered: int,
    ):
        self.asset, self.limit, self.spent, self.reserved = asset, limit, spent, reserved
        self.requests_left, self.answered = requests_left, answered
        elsewhere = f" (and ${reserved:.4f} reserved by requests in flight elsewhere)" if reserved > 1e-9 else ""
        super().__init__(
            f"{asset or 'LLM calls'}: LLM budget reached: the {limit.label} budget is ${limit.limit_usd:.4f} and "
            f"${spent:.4f} is spent{elsewhere}; {requests_left} request(s) not sent ({answered} answered by this "
            f"stage are cached). To continue, rerun with a higher budget ({limit.setting}): only the requests "
            f"left are sent."
        )
