"""Evolution of the feature pool (SynthSmith): rounds of sampling a small subtree and merging the
model's breadth and depth expansion of it. No LLM here: `expand` is given the sampled subtrees and
returns, for each, the parsed answer or the reason there is none."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from xcoder_assets.recipe.pool import FeaturePool, PoolEntry, apply_expansion
from xcoder_assets.store.ids import make_id

ExpandResult = tuple[Any, str | None, str | None]  # (parsed answer, error, llm call id)


@dataclass(frozen=True)
class EvolutionSettings:
    rounds: int = 100
    expansions_per_round: int = 4
    subtree_max_leaves: int = 6
    seed: int = 42


@dataclass
class RoundReport:
    round: int
    expansions: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)  # whole answers not taken, with the reason
    rejected_features: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)


def pool_entry_id(entry: PoolEntry) -> str:
    return make_id("pool", {"key": list(entry.key)})


def subtree_json(subtree: dict[str, Any]) -> str:
    return json.dumps(subtree, indent=2, ensure_ascii=False)


def evolve(pool: FeaturePool, settings: EvolutionSettings, start_round: int,
           expand: Callable[[Sequence[dict[str, Any]]], list[ExpandResult]],
           on_round: Callable[[RoundReport], None] | None = None) -> list[RoundReport]:
    """Run rounds start_round+1 .. settings.rounds; every round is deterministic given the pool it starts from."""
    reports = []
    for number in range(start_round + 1, settings.rounds + 1):
        rng = random.Random(f"{settings.seed}:evolve:{number}")
        samples = [pool.sample_subtree(rng, settings.subtree_max_leaves) for _ in range(settings.expansions_per_round)]
        answers = expand([subtree for subtree, _ in samples])
        report = RoundReport(number, expansions=len(samples))
        for (_, anchors), (value, error, call_id) in zip(samples, answers):
            if error is not None:
                report.rejected.append(error)
                continue
            result = apply_expansion(pool, value, anchors, number, [pool_entry_id(a) for a in anchors], call_id)
            if result.error:
                report.rejected.append(result.error)
            report.added += len(result.added)
            report.duplicates += result.duplicates
            report.rejected_features += result.rejected_items
        report.sizes = pool.size_by_category()
        reports.append(report)
        if on_round:
            on_round(report)
    return reports


def growth_chart(reports: Sequence[RoundReport], width: int = 48, height: int = 8) -> str:
    """The pool's size per round as a text chart (Dagster metadata has no plot type for one run)."""
    if not reports:
        return "(no rounds)"
    totals = [sum(r.sizes.values()) for r in reports]
    step = max(1, len(totals) // width)
    points = totals[::step][:width]
    low, high = min(points), max(points)
    rows = []
    for level in range(height, 0, -1):
        threshold = low + (high - low) * (level - 0.5) / height
        rows.append("".join("█" if value >= threshold else " " for value in points))
    return (f"pool size {low} -> {high} over rounds {reports[0].round}..{reports[-1].round}\n"
            + "\n".join(f"|{row}" for row in rows) + "\n+" + "-" * len(points))
