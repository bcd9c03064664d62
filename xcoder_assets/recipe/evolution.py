"""Evolution of the feature pool (SynthSmith): rounds of sampling a small subtree and merging the
model's breadth and depth expansion of it. No LLM here: `expand` is given the sampled subtrees and
returns, for each, the parsed answer or the typed failure that says why there is none."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from xcoder_assets.llm.answers import extract_json
from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.pool import FeaturePool, PoolEntry, apply_expansion
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.store.checkpoints import JsonlCheckpoint
from xcoder_assets.store.ids import content_hash, make_id
from xcoder_assets.present.progress import LLM_COUNTS, ProgressMeter

ExpandResult = tuple[Any, Failure | None, str | None]  # (parsed answer, why there is none, llm call id)


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
    rejected: list[Failure] = field(default_factory=list)  # whole answers not taken, with the reason
    rejected_features: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)


def pool_entry_id(entry: PoolEntry) -> str:
    return make_id("pool", {"key": list(entry.key)})


def subtree_json(subtree: dict[str, Any]) -> str:
    return json.dumps(subtree, indent=2, ensure_ascii=False)


def evolve(
    pool: FeaturePool,
    settings: EvolutionSettings,
    start_round: int,
    expand: Callable[[Sequence[dict[str, Any]]], list[ExpandResult]],
    on_round: Callable[[RoundReport], None] | None = None,
) -> list[RoundReport]:
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


def parse_expansion(result: Any) -> ExpandResult:
    """An evolve call's answer -> (the JSON object, None, call id), or (None, why not, call id)."""
    if failure := result.failure():
        return None, Failure(*failure), result.call_id
    parsed = extract_json(result.content, dict)
    if parsed.error:
        return None, Failure("unparseable", parsed.error), result.call_id
    return parsed.value, None, result.call_id


def checkpoint_fingerprint(tree_node_ids: Sequence[str], settings: EvolutionSettings, template: str, model: str) -> str:
    """What a checkpoint belongs to: the input tree, the sampling settings, template and model (not the rounds,
    so raising them continues the same evolution)."""
    return content_hash(
        {
            "format": 2,
            "tree": sorted(tree_node_ids),
            "expansions": settings.expansions_per_round,
            "leaves": settings.subtree_max_leaves,
            "seed": settings.seed,
            "template": template,
            "model": model,
        },
        32,
    )


def round_record(report: RoundReport, pool: FeaturePool, calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One finished round as a checkpoint record: its report, its calls and the entries it added."""
    return {
        "report": {**asdict(report), "rejected": [[f.status, f.reason] for f in report.rejected]},
        "calls": list(calls),
        "entries": [
            {
                "category": e.category,
                "path": list(e.path),
                "feature": e.feature,
                "origin_round": e.origin_round,
                "parent_ids": e.parents,
                "llm_call_id": e.llm_call_id,
            }
            for e in pool.entries_of_round(report.round)
        ],
    }


def replay_rounds(
    pool: FeaturePool, records: Sequence[dict[str, Any]], max_round: int
) -> tuple[int, list[RoundReport], list[dict[str, Any]]]:
    """Re-add the checkpointed rounds up to max_round: (last round replayed, their reports, their calls)."""
    done, reports, calls = 0, [], []
    for record in records:
        report = record["report"]
        if report["round"] > max_round:
            break
        for e in record["entries"]:
            pool.add(
                e["category"], tuple(e["path"]), e["feature"], e["origin_round"], e["parent_ids"], e["llm_call_id"]
            )
        reports.append(RoundReport(**{**report, "rejected": [Failure(*f) for f in report["rejected"]]}))
        calls.extend(record["calls"])
        done = report["round"]
    return done, reports, calls


def pool_rows(pool: FeaturePool, run_id: str) -> list[dict[str, Any]]:
    return [
        {
            "pool_id": pool_entry_id(e),
            "category": e.category,
            "path": list(e.path),
            "feature": e.feature,
            "origin_round": e.origin_round,
            "parent_ids": e.parents,
            "llm_call_id": e.llm_call_id,
            "run_id": run_id,
        }
        for e in pool.entries
    ]


@dataclass(frozen=True)
class EvolutionSummary:
    expansions: int
    rejected: int
    rejected_by_status: list[tuple[str, int]]
    rejected_features_by_reason: list[tuple[str, int]]
    growth: list[tuple[int, int]]  # (round, pool size after it)
    per_round: list[list[Any]]  # round, added, merged duplicates, rejected, size per category (at most ~20 rows)
    categories: list[str]

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.expansions if self.expansions else 0.0


def summarize(reports: Sequence[RoundReport], categories: Sequence[str], rows: int = 20) -> EvolutionSummary:
    rejected = [f for r in reports for f in r.rejected]
    # a feature's reason names its kind before the colon ("deeper than 8 levels: a / b")
    feature_reasons = Counter(reason.split(":")[0] for r in reports for reason in r.rejected_features)
    every = max(1, len(reports) // rows)
    categories = sorted(categories)
    return EvolutionSummary(
        expansions=sum(r.expansions for r in reports),
        rejected=len(rejected),
        rejected_by_status=Counter(f.status for f in rejected).most_common(),
        rejected_features_by_reason=feature_reasons.most_common(10),
        growth=[(r.round, sum(r.sizes.values())) for r in reports],
        per_round=[
            [r.round, r.added, r.duplicates, len(r.rejected), *[r.sizes.get(c, 0) for c in categories]]
            for r in reports[::every]
        ],
        categories=categories,
    )


# ---- the stage: evolved_pool ------------------------------------------------------------------------


@dataclass
class GrownPool:
    """What one evolved_pool run leaves: the pool, every round's report and LLM call row (the checkpointed
    rounds' too), and this run's own results (the replayed rounds' calls were made by an earlier run)."""

    pool: FeaturePool
    reports: list[RoundReport]
    calls: list[dict[str, Any]]
    results: list[LLMResult]
    resumed_after: int  # the last round replayed from the checkpoint (0: a fresh start)
    replayed_calls: int


def grow_pool(
    tree: Iterable[dict[str, Any]],
    settings: EvolutionSettings,
    template: PromptTemplate,
    model: str,
    checkpoint_path: Path,
    complete: Callable[[list[LLMRequest]], list[LLMResult]],
    log: Callable[[str], Any],
) -> GrownPool:
    """Evolve the pool seeded by the feature tree's rows for settings.rounds rounds, each finished round
    appended to the checkpoint at `checkpoint_path`. A checkpoint continues only the same evolution (same
    input tree, sampling settings, template and model), so a rerun redoes no finished round."""
    pool = FeaturePool()
    node_ids = []
    for row in tree:
        pool.add(row["category"], tuple(row["path"]), row["feature"], 0, [row["node_id"]])
        node_ids.append(row["node_id"])
    checkpoint = JsonlCheckpoint(checkpoint_path, checkpoint_fingerprint(node_ids, settings, template.id, model))
    start, reports, calls = replay_rounds(pool, checkpoint.records(), settings.rounds)
    grown = GrownPool(pool, reports, calls, [], start, len(calls))
    if start:
        log(f"resuming evolution after round {start} ({len(pool)} features)")
    else:
        checkpoint.start()
    meter = ProgressMeter("evolved_pool: LLM calls", log, **LLM_COUNTS)
    asked = (settings.rounds - start) * settings.expansions_per_round

    def expand(subtrees: Sequence[dict[str, Any]]) -> list[ExpandResult]:
        requests = [LLMRequest.of("evolve", template.render(subtree=subtree_json(s)), template.id) for s in subtrees]
        answers = complete(requests)
        grown.results.extend(answers)
        grown.calls.extend(r.as_row() for r in answers)
        return [parse_expansion(r) for r in answers]

    cache_hits = [0]  # counted as answers come: summing all results each round was quadratic in rounds

    def save(report: RoundReport) -> None:
        grown.reports.append(report)
        checkpoint.append(round_record(report, pool, grown.calls[len(grown.calls) - report.expansions :]))
        cache_hits[0] += sum(r.cache_hit for r in grown.results[len(grown.results) - report.expansions :])
        meter.update(len(grown.results), asked, cache_hits[0])

    evolve(pool, settings, start, expand, save)
    done = len(grown.results)
    meter.finish(done, done, cache_hits[0])
    return grown
