"""evolved_pool, feature_configs and problems: SynthSmith's task synthesis (wiring; the logic is in
recipe/evolution.py, recipe/sampling.py and recipe/composition.py).

Every setting is run config with the recipe's values as defaults; the settings a table was made
with are written next to it in settings/<asset>.json (run config apart from resource settings).
"""

from collections import Counter

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.operations import LLM_POOL
from xcoder_assets.defs.partitions import batch_folder, batch_partitions, seed_for_batch
from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import (
    LLM_COUNTS,
    OWNERS,
    LLMGatewayResource,
    StorageResource,
    asset_tags,
    complete,
    llm_metadata,
)
from xcoder_assets.llm.gateway import LLMRequest
from xcoder_assets.recipe import composition
from xcoder_assets.recipe.evolution import (
    EvolutionSettings,
    RoundReport,
    checkpoint_fingerprint,
    evolve,
    parse_expansion,
    pool_rows,
    replay_rounds,
    round_record,
    subtree_json,
    summarize,
)
from xcoder_assets.recipe.pool import FeaturePool
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.sampling import RECIPE_SHAPES, PoolItem, config_rows, coverage, pool_items_of, sample_configs
from xcoder_assets.store.checkpoints import JsonlCheckpoint
from xcoder_assets.store.parquet import read_parquet
from xcoder_assets.store.progress import ProgressMeter
from xcoder_assets.store.render import frame_markdown, problem_markdown
from xcoder_assets.store.tables import EVOLVED_POOL, FEATURE_CONFIGS, FEATURE_TREE, PROBLEMS
from xcoder_assets.store.ui import line_chart, markdown_image, table_or_none

EVOLVE_TEMPLATE = "evolve_features"
SCENARIO_TEMPLATE = "compose_scenario"
STATEMENT_TEMPLATE = "compose_problem"

EVOLVED_POOL_GREW = "grew"
EVOLVED_POOL_REJECTIONS = "rejected_share"
FEATURE_CONFIGS_COUNT = "count"
FEATURE_CONFIGS_COVERAGE = "coverage"
PROBLEMS_STYLE_MIX = "style_mix"
PROBLEMS_LEAK_SHARE = "leak_share"
PROBLEMS_DUPLICATE_SHARE = "duplicate_share"
PROBLEMS_FEATURE_COVERAGE = "feature_coverage"


# ---- evolved_pool ------------------------------------------------------------------------------


class EvolutionConfig(dg.Config):
    rounds: int = Field(default=100, description="Rounds of evolution (the recipe's default is 100).")
    expansions_per_round: int = Field(default=4, description="Subtrees sampled and expanded in parallel per round.")
    subtree_max_leaves: int = Field(default=6, description="Features in a sampled subtree.")
    seed: int = Field(default=42, description="Seed of the subtree sampling.")
    max_rejection_share: float = Field(default=0.3, description="Warn when more expansions than this are rejected.")


@dg.asset(
    pool=LLM_POOL,
    group_name="synthesis",
    deps=["feature_tree"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
    tags=asset_tags("synthesis"),
    description=EVOLVED_POOL.description + " Role: evolve. Resumable: finished rounds are checkpointed.",
    check_specs=[
        dg.AssetCheckSpec(EVOLVED_POOL_GREW, asset="evolved_pool", description="Evolution added features to the pool."),
        dg.AssetCheckSpec(
            EVOLVED_POOL_REJECTIONS,
            asset="evolved_pool",
            description="Share of rejected expansions stays under max_rejection_share.",
        ),
    ],
)
def evolved_pool(
    context: dg.AssetExecutionContext, config: EvolutionConfig, storage: StorageResource, llm: LLMGatewayResource
) -> dg.MaterializeResult:
    settings = EvolutionSettings(config.rounds, config.expansions_per_round, config.subtree_max_leaves, config.seed)
    tree = read_parquet(FEATURE_TREE.path(storage.root))
    if tree.height == 0:
        raise dg.Failure(
            description="evolved_pool: feature_tree is empty (every feature extraction failed?): nothing to evolve",
            allow_retries=False,
        )
    template = load_template(EVOLVE_TEMPLATE)
    model = llm.settings("evolve").model
    run_id = context.run.run_id
    # A checkpoint continues only the same evolution: same input tree, sampling settings, template, model.
    checkpoint = JsonlCheckpoint(
        storage.root / "checkpoints" / "evolved_pool.jsonl",
        checkpoint_fingerprint(tree["node_id"].to_list(), settings, template.id, model),
    )
    pool = FeaturePool()
    for row in tree.iter_rows(named=True):
        pool.add(row["category"], tuple(row["path"]), row["feature"], 0, [row["node_id"]])
    start, reports, calls = replay_rounds(pool, checkpoint.records(), config.rounds)
    replayed_calls = len(calls)
    if start:
        context.log.info(f"resuming evolution after round {start} ({len(pool)} features)")
    else:
        checkpoint.start()
    gateway = llm.gateway(storage, ("evolve",), run_id, "evolved_pool")
    results = []  # this run's calls (the replayed rounds' calls were made by an earlier run)
    meter = ProgressMeter("evolved_pool: LLM calls", context.log.info, **LLM_COUNTS)

    def expand(subtrees):
        requests = [LLMRequest.of("evolve", template.render(subtree=subtree_json(s)), template.id) for s in subtrees]
        answers = gateway.complete(requests)
        results.extend(answers)
        calls.extend(r.as_row() for r in answers)
        return [parse_expansion(r) for r in answers]

    def save(report: RoundReport) -> None:
        reports.append(report)
        checkpoint.append(round_record(report, pool, calls[len(calls) - report.expansions :]))
        meter.update(
            len(results), (config.rounds - start) * config.expansions_per_round, sum(r.cache_hit for r in results)
        )

    evolve(pool, settings, start, expand, save)
    meter.finish(len(results), len(results), sum(r.cache_hit for r in results))
    frame = pl.DataFrame(pool_rows(pool, run_id), schema=EVOLVED_POOL.schema)
    storage.write_llm_calls_rows("evolved_pool", calls, run_id)
    metadata = storage.write_table(EVOLVED_POOL, frame)
    storage.record_settings("evolved_pool", config, {"llm": llm.settings_record(("evolve",))}, template=template.id)
    storage.refresh_warehouse(context.log)

    summary = summarize(reports, pool.size_by_category())
    seed_size = tree.height
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **llm_metadata(results, llm.role_models(("evolve",)), llm_calls_from_checkpoint=replayed_calls),
            "seed_tree_features": seed_size,
            "rounds_done": len(reports),
            "resumed_after_round": start,
            "added_per_category": dg.MetadataValue.json(pool.size_by_category()),
            "growth_curve": dg.MetadataValue.md(
                markdown_image(
                    line_chart("pool size per round", summary.growth, "round", "features in the pool"),
                    f"pool size per round: {seed_size} -> {frame.height}",
                )
                if summary.growth
                else "_no rounds_"
            ),
            # the sizes per category in one cell, which wraps: a column per category made the table
            # wider than the UI's metadata column, clipping every value on its right
            "pool_size_per_round": dg.MetadataValue.md(
                table_or_none(
                    [
                        (*row[:4], ", ".join(f"{c} {n}" for c, n in zip(summary.categories, row[4:])))
                        for row in summary.per_round
                    ],
                    ["round", "added", "merged duplicates", "rejected", "pool size per category"],
                    "no rounds",
                )
            ),
            "rejected_expansions": dg.MetadataValue.md(
                table_or_none(summary.rejected_by_status, ["reason", "expansions"], "no expansion rejected")
            ),
            "rejected_features": dg.MetadataValue.md(
                table_or_none(summary.rejected_features_by_reason, ["reason", "features"], "no feature rejected")
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=EVOLVED_POOL_GREW,
                passed=frame.height > seed_size or not reports,
                metadata={"seed": seed_size, "pool": frame.height},
            ),
            share_check(EVOLVED_POOL_REJECTIONS, "rejected_share", summary.rejected_share, config.max_rejection_share),
        ],
    )


# ---- feature_configs ---------------------------------------------------------------------------


class FeatureConfigsConfig(dg.Config):
    count: int = Field(default=48, description="Number of configurations (one problem each).")
    seed: int = Field(
        default=42,
        description="Base seed of the sampling (the recipe uses 42); each batch samples with this seed plus "
        "its own offset, so batches never repeat one another.",
    )
    shapes: list[list[int]] = Field(
        default=[list(s) for s in RECIPE_SHAPES],
        description="Features per level: the recipe's (3,3,1), (3,3,2), (4,3,2).",
    )
    max_depth: int = Field(default=8, description="Deepest pool level a feature may come from.")
    min_leaves: int = Field(default=6, description="Configurations with fewer leaves are skipped.")
    min_coverage_share: float = Field(default=0.05, description="Warn when less of the pool than this is used.")


def pool_items(storage: StorageResource) -> list[PoolItem]:
    return pool_items_of(read_parquet(EVOLVED_POOL.path(storage.root)).iter_rows(named=True))


@dg.asset(
    group_name="synthesis",
    partitions_def=batch_partitions,
    deps=["evolved_pool"],
    kinds={"parquet", "python"},
    owners=OWNERS,
    tags=asset_tags("synthesis"),
    description=FEATURE_CONFIGS.description,
    check_specs=[
        dg.AssetCheckSpec(
            FEATURE_CONFIGS_COUNT, asset="feature_configs", description="As many configurations as asked."
        ),
        dg.AssetCheckSpec(
            FEATURE_CONFIGS_COVERAGE,
            asset="feature_configs",
            description="The configurations use at least min_coverage_share of the pool.",
        ),
    ],
)
def feature_configs(
    context: dg.AssetExecutionContext, config: FeatureConfigsConfig, storage: StorageResource
) -> dg.MaterializeResult:
    files = batch_folder(context, storage)
    seed = seed_for_batch(context, config.seed)
    items = pool_items(storage)
    try:
        configs = sample_configs(
            items, config.count, seed, [tuple(s) for s in config.shapes], config.max_depth, config.min_leaves
        )
    except ValueError as exc:
        raise dg.Failure(description=f"feature_configs: {exc}", allow_retries=False) from None
    frame = pl.DataFrame(config_rows(configs, seed, context.run.run_id), schema=FEATURE_CONFIGS.schema)
    metadata = files.write_table(FEATURE_CONFIGS, frame)
    files.record_settings("feature_configs", config, batch_seed=seed)
    files.refresh_warehouse(context.log)
    report = coverage(items, configs)
    shapes = Counter("x".join(map(str, c.shape)) for c in configs)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "shapes": dg.MetadataValue.json(dict(shapes)),
            "pool_leaves": report["pool_leaves"],
            "leaves_used": report["leaves_used"],
            "leaf_coverage_share": report["share_used"],
            "features_used": report["features_used"],
            "most_used_features": dg.MetadataValue.md(
                table_or_none(report["most_used"], ["feature", "configurations"], "no configuration")
            ),
            "mean_leaves": round(frame["leaf_count"].mean() or 0, 2),
            "batch_seed": seed,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=FEATURE_CONFIGS_COUNT,
                passed=frame.height == config.count,
                metadata={"asked": config.count, "sampled": frame.height},
            ),
            share_check(
                FEATURE_CONFIGS_COVERAGE,
                "leaf_share_used",
                report["share_used"],
                config.min_coverage_share,
                at_most=False,
            ),
        ],
    )


# ---- problems ----------------------------------------------------------------------------------


class ProblemsConfig(dg.Config):
    seed: int = Field(default=42, description="Seed of the style draw.")
    style_probabilities: dict[str, float] = Field(
        default=dict(composition.RECIPE_STYLE_PROBABILITIES),
        description="Codeforces 0.70, LeetCode 0.15, AtCoder 0.15 in the recipe.",
    )
    near_duplicate_threshold: float = Field(
        default=0.8, description="Jaccard similarity (word 3-shingles) of a near-duplicate."
    )
    style_tolerance: float = Field(
        default=0.15, description="Allowed gap between each style's share and its probability."
    )
    max_leak_share: float = Field(default=0.10, description="Warn when more statements than this name the method.")
    max_duplicate_share: float = Field(default=0.25, description="Warn when more problems than this are duplicates.")
    min_feature_coverage: float = Field(default=0.02, description="Warn when the kept problems use less of the pool.")


@dg.asset(
    pool=LLM_POOL,
    group_name="synthesis",
    partitions_def=batch_partitions,
    deps=["feature_configs"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
    tags=asset_tags("synthesis"),
    description=PROBLEMS.description + " Role: compose (temperature 0.7, top_p 0.8, top_k 20).",
    check_specs=[
        dg.AssetCheckSpec(
            PROBLEMS_STYLE_MIX,
            asset="problems",
            description="Each style's share is within style_tolerance of its probability.",
        ),
        dg.AssetCheckSpec(
            PROBLEMS_LEAK_SHARE, asset="problems", description="Share of statements that name the algorithm."
        ),
        dg.AssetCheckSpec(
            PROBLEMS_DUPLICATE_SHARE, asset="problems", description="Share of exact and near-duplicate problems."
        ),
        dg.AssetCheckSpec(
            PROBLEMS_FEATURE_COVERAGE, asset="problems", description="Share of the pool the kept problems use."
        ),
    ],
)
def problems(
    context: dg.AssetExecutionContext, config: ProblemsConfig, storage: StorageResource, llm: LLMGatewayResource
) -> dg.MaterializeResult:
    files = batch_folder(context, storage)
    configs = read_parquet(FEATURE_CONFIGS.path(files.root))
    items = pool_items(storage)
    by_id = {item.entry_id: item for item in items}
    scenario_template, statement_template = load_template(SCENARIO_TEMPLATE), load_template(STATEMENT_TEMPLATE)
    run_id = context.run.run_id
    try:
        styles = {
            row["config_id"]: composition.draw_style(config.style_probabilities, config.seed, row["config_id"])
            for row in configs.iter_rows(named=True)
        }
    except ValueError as exc:
        raise dg.Failure(description=f"problems: {exc}", allow_retries=False) from None
    gateway = llm.gateway(storage, ("compose",), run_id, "problems")
    rows_in = list(configs.iter_rows(named=True))
    offered = {row["config_id"]: composition.offered_features(row["feature_ids"], by_id) for row in rows_in}
    step1 = complete(
        gateway,
        [
            LLMRequest.of(
                "compose",
                scenario_template.render(features=composition.features_prompt(offered[row["config_id"]])),
                scenario_template.id,
                row["config_id"],
            )
            for row in rows_in
        ],
        context.log.info,
        "problems: scenario calls",
    )
    scenarios = {
        row["config_id"]: composition.parse_answer(
            result, lambda text, o=offered[row["config_id"]]: composition.parse_scenario(text, [f.name for f in o])
        )
        for row, result in zip(rows_in, step1)
    }
    ready = [row for row in rows_in if isinstance(scenarios[row["config_id"]], composition.Scenario)]
    step2 = complete(
        gateway,
        [
            LLMRequest.of(
                "compose",
                statement_template.render(
                    style=styles[row["config_id"]],
                    style_guide=composition.STYLE_GUIDES[styles[row["config_id"]]],
                    selected=", ".join(scenarios[row["config_id"]].selected),
                    strategy=scenarios[row["config_id"]].integration_strategy,
                    scenario=scenarios[row["config_id"]].scenario,
                ),
                statement_template.id,
                row["config_id"],
            )
            for row in ready
        ],
        context.log.info,
        "problems: statement calls",
    )
    statements = {
        row["config_id"]: (
            result,
            composition.parse_answer(
                result, lambda text, s=styles[row["config_id"]]: composition.parse_statement(text, s)
            ),
        )
        for row, result in zip(ready, step2)
    }

    composer = composition.ProblemComposer(config.near_duplicate_threshold, PROBLEMS.schema.names())
    model = llm.settings("compose").model
    categories = {i.entry_id: i.category for i in items}
    names = {i.entry_id: i.feature for i in items}
    out_rows = []
    for row, first in zip(rows_in, step1):
        config_id = row["config_id"]
        result, statement = statements.get(config_id, (None, None))
        out_rows.append(
            composer.record(
                config_id=config_id,
                style=styles[config_id],
                offered=offered[config_id],
                scenario=scenarios[config_id],
                statement=statement,
                scenario_call_id=first.call_id,
                statement_call_id=result.call_id if result else None,
                categories=categories,
                features=names,
                model=model,
                templates=[scenario_template.id, statement_template.id],
                run_id=run_id,
            )
        )
    frame = pl.DataFrame(out_rows, schema=PROBLEMS.schema)
    files.write_llm_calls("problems", step1 + step2, run_id)
    metadata = files.write_table(PROBLEMS, frame)
    files.record_settings(
        "problems",
        config,
        {"llm": llm.settings_record(("compose",))},
        templates=[scenario_template.id, statement_template.id],
    )
    files.refresh_warehouse(context.log)
    shares = composition.problem_shares(out_rows, config.style_probabilities, [i.category for i in items])
    return dg.MaterializeResult(
        metadata={**metadata, **llm_metadata(step1 + step2, llm.role_models(("compose",))), **_problem_metadata(frame)},
        check_results=_problem_checks(shares, config, frame),
    )


def _problem_metadata(frame: pl.DataFrame) -> dict:
    kept = frame.filter(pl.col("status") == "ok")
    sample = kept.head(1).to_dicts()
    rendered = problem_markdown(composition.statement_of_row(sample[0])) if sample else "_no problem kept_"
    return {
        "problems_kept": kept.height,
        "status_counts": dg.MetadataValue.json(dict(Counter(frame["status"]))),
        "style_counts": dg.MetadataValue.json(dict(Counter(kept["style"]))),
        "kept_problems": dg.MetadataValue.md(
            frame_markdown(kept.select("problem_id", "style", "title"), 15) if kept.height else "_no problem kept_"
        ),
        "sample_problem": dg.MetadataValue.md(rendered),
    }


def _problem_checks(
    shares: composition.ProblemShares, config: ProblemsConfig, frame: pl.DataFrame
) -> list[dg.AssetCheckResult]:
    def ids(status: str) -> list[str]:
        return frame.filter(pl.col("status") == status)["problem_id"].to_list()

    return [
        dg.AssetCheckResult(
            check_name=PROBLEMS_STYLE_MIX,
            passed=all(g <= config.style_tolerance for g in shares.style_gaps.values()),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "shares": dg.MetadataValue.json(shares.style_shares),
                "gaps": dg.MetadataValue.json(shares.style_gaps),
                "tolerance": config.style_tolerance,
                "composed_problems": shares.composed,
            },
        ),
        share_check(
            PROBLEMS_LEAK_SHARE,
            "leak_share",
            shares.leak_share,
            config.max_leak_share,
            **row_findings("leaked_problems", ids("leak")),
        ),
        share_check(
            PROBLEMS_DUPLICATE_SHARE,
            "duplicate_share",
            shares.duplicate_share,
            config.max_duplicate_share,
            **row_findings("duplicate_problems", ids("duplicate")),
        ),
        share_check(
            PROBLEMS_FEATURE_COVERAGE,
            "share",
            shares.feature_share,
            config.min_feature_coverage,
            at_most=False,
            features_used=shares.features_used,
            pool_features=shares.pool_features,
        ),
    ]
