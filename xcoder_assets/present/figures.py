"""Figures that add up: what a stage's LLM calls and sandbox runs were, each term named.

LLM requests = calls made + answered from the cache + not sent (an identical request of the same
batch failed first). Sandbox runs = executed + from the run cache + skipped after a time limit +
not started (the program did not compile) + lost to a broken sandbox.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence


class _Call(Protocol):
    cache_hit: bool
    attempts: int
    error: str | None
    truncated: bool
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class LLMFigures:
    requests: int = 0
    made: int = 0  # sent to the model in this run
    from_cache: int = 0  # answered from the response cache, no call made
    not_sent: int = 0  # an identical request of the same batch failed first
    failed: int = 0  # made but no answer (after every retry)
    truncated: int = 0  # answers cut off at max_tokens (made or cached)
    retries: int = 0
    prompt_tokens_spent: int = 0  # by the calls made in this run
    completion_tokens_spent: int = 0
    prompt_tokens_cached: int = 0  # what the cached answers cost when they were made
    completion_tokens_cached: int = 0
    cost_usd: float = 0.0  # of the calls made in this run

    @classmethod
    def of(cls, calls: Iterable[_Call]) -> "LLMFigures":
        counts: Counter = Counter()
        cost = 0.0
        for call in calls:
            counts["requests"] += 1
            counts["truncated"] += bool(call.truncated)
            counts["retries"] += max(0, call.attempts - 1)
            if call.cache_hit:
                counts["from_cache"] += 1
                counts["prompt_tokens_cached"] += call.prompt_tokens
                counts["completion_tokens_cached"] += call.completion_tokens
            elif call.attempts:
                counts["made"] += 1
                counts["failed"] += call.error is not None
                counts["prompt_tokens_spent"] += call.prompt_tokens
                counts["completion_tokens_spent"] += call.completion_tokens
                cost += call.cost_usd
            else:
                counts["not_sent"] += 1
        return cls(**counts, cost_usd=cost)

    @classmethod
    def of_stats(cls, stats: Any) -> "LLMFigures":
        """From a gateway's running totals (GatewayStats), for a caller that kept no results: no cached tokens."""
        return cls(
            requests=stats.requests,
            made=stats.llm_calls,
            from_cache=stats.cache_hits,
            not_sent=stats.requests - stats.llm_calls - stats.cache_hits,
            failed=stats.errors,
            truncated=stats.truncated,
            retries=stats.retries,
            prompt_tokens_spent=stats.prompt_tokens,
            completion_tokens_spent=stats.completion_tokens,
            cost_usd=stats.cost_usd,
        )

    def __add__(self, other: "LLMFigures") -> "LLMFigures":
        return LLMFigures(**{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__})

    def metadata(self) -> dict[str, Any]:
        return {
            "llm_requests": self.requests,
            "llm_calls_made": self.made,
            "llm_cache_hits": self.from_cache,
            "llm_requests_not_sent": self.not_sent,
            "llm_requests_sum": (
                f"{self.requests} requests = {self.made} calls made + {self.from_cache} from the cache"
                f" + {self.not_sent} not sent (an identical request failed)"
            ),
            "llm_calls_failed": self.failed,
            "llm_answers_truncated": self.truncated,
            "llm_retries": self.retries,
            "llm_prompt_tokens_spent": self.prompt_tokens_spent,
            "llm_completion_tokens_spent": self.completion_tokens_spent,
            "llm_prompt_tokens_cached": self.prompt_tokens_cached,
            "llm_completion_tokens_cached": self.completion_tokens_cached,
            "llm_cost_usd_spent": round(self.cost_usd, 6),
        }


@dataclass(frozen=True)
class SandboxFigures:
    runs: int = 0  # program x input pairs asked for
    executed: int = 0  # run in a sandbox now
    cached: int = 0  # taken from the run cache
    skipped: int = 0  # not run: the program had already hit its time limit
    not_compiled: int = 0  # not run: the program did not compile
    sandbox_failures: int = 0  # lost to a broken sandbox (run again next time)
    unexplained: int = 0  # what none of the above accounts for: a bug in the counting (the tests want 0)
    seconds: float = 0.0

    @classmethod
    def of(cls, stats: Any, outcomes: Sequence[Sequence[Any]]) -> "SandboxFigures":
        """From run_matrix's stats and outcomes. Skipped and broken runs are never cached, so they are
        counted from the outcomes; a program that does not compile is not run on any input, and the
        runs it stands for are what remains."""
        statuses = Counter(outcome.status for row in outcomes for outcome in row)
        skipped, broken = statuses.get("abandoned", 0), statuses.get("sandbox_failure", 0)
        rest = stats.runs - stats.executed - stats.cached - skipped - broken
        not_compiled = rest if 0 <= rest <= statuses.get("compile_error", 0) else 0
        return cls(
            stats.runs, stats.executed, stats.cached, skipped, not_compiled, broken, rest - not_compiled, stats.seconds
        )

    def __add__(self, other: "SandboxFigures") -> "SandboxFigures":
        return SandboxFigures(
            **{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__}
        )

    @property
    def executed_per_s(self) -> float:
        return self.executed / self.seconds if self.seconds else 0.0

    def metadata(self, prefix: str = "sandbox_runs") -> dict[str, Any]:
        return {
            prefix: self.runs,
            f"{prefix}_executed": self.executed,
            f"{prefix}_cached": self.cached,
            f"{prefix}_skipped_after_time_limit": self.skipped,
            f"{prefix}_not_compiled": self.not_compiled,
            f"{prefix}_sandbox_failures": self.sandbox_failures,
            f"{prefix}_unexplained": self.unexplained,
            f"{prefix}_sum": (
                f"{self.runs} runs = {self.executed} executed + {self.cached} from the run cache + "
                f"{self.skipped} skipped after a time limit + {self.not_compiled} not run (no compile) + "
                f"{self.sandbox_failures} lost to a broken sandbox"
                + (f" + {self.unexplained} unexplained" if self.unexplained else "")
            ),
            f"{prefix}_per_s": round(self.executed_per_s, 1),
        }
