"""evolved_pool, feature_configs and problems: SynthSmith's task synthesis (wiring; the logic is in
recipe/evolution.py, recipe/sampling.py and recipe/composition.py).

Every setting is run config with the recipe's values as defaults; the settings a table was made
with are written next to it in settings/<asset>.json (run config apart from resource settings).
"""

from collections import Counter
from typing import Any, Iterator

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.automation import LLM_POOL
from xcoder_assets.defs.partitions import batch_folder, batch_partitions, seed_for_batch
from xcoder_assets.defs.checks import sampled_findings, share_check
from xcoder_assets.defs.resources import (
    OWNERS,
    DataFolder,
    LLMGatewayResource,
    StorageResource,
    ask_with,
    in_stage,
    llm_metadata,
    publish,
    refused,
)
from xcoder_assets.recipe import composition
from xcoder_assets.recipe.evolution import (
    EvolutionSettings,
    EvolutionSummary,
    GrownPool,
    grow_pool,
    pool_rows,
    summarize,
)
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.sampling import (
    SAMPLING_DEFAULTS,
    FeatureConfig,
    PoolItem,
    config_rows,
    coverage,
    pool_items_of,
    sample_configs,
)
from xcoder_assets.store.parquet import read_parquet
from xcoder_assets.present.render import frame_markdown, problem_markdown
from xcoder_assets.store.streaming import row_chunks
from xcoder_assets.store.tables import EVOLVED_POOL, FEATURE_CONFIGS, FEATURE_TREE, PROBLEMS
from xcoder_assets.present.ui import line_chart, markdown_image, table_or_none

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


_EVOLUTION = EvolutionSettings()  # the recipe's settings type owns the defaults


class EvolutionConfig(dg.Config):
    rounds: int = Field(default=_EVOLUTION.rounds, description="Rounds of evolution (the recipe's default is 100).")
    expansions_per_round: int = Field(
        default=_EVOLUTION.expansions_per_round, description="Subtrees sampled and expanded in parallel per round."
    )
    subtree_max_leaves: int = Field(default=_EVOLUTION.subtree_max_leaves, description="Features in a sampled subtree.")
    seed: int = Field(default=_EVOLUTION.seed, description="Seed of the subtree sampling.")
    max_rejection_share: float = Field(default=0.3, description="Warn when more expansions than this are rejected.")

    def settings(self) -> EvolutionSettings:
        return EvolutionSettings(self.rounds, self.expansions_per_round, self.subtree_max_leaves, self.seed)


@dg.asset(
    **in_stage("synthesis"),
    pool=LLM_POOL,
    deps=["feature_tree"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
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
    tree = read_parquet(FEATURE_TREE.path(storage.root))
    if tree.height == 0:
        raise refused("evolved_pool: feature_tree is empty (every feature extraction failed?): nothing to evolve")
    template = load_template(EVOLVE_TEMPLATE)
    run_id, folder = context.run.run_id, storage.folder()
    gateway = llm.gateway(storage, ("evolve",), run_id, "evolved_pool")
    grown = grow_pool(
        tree.iter_rows(named=True),
        config.settings(),
        template,
        llm.settings("evolve").model,
        storage.root / "checkpoints" / "evolved_pool.jsonl",
        gateway.complete,
        context.log.info,
    )
    frame = pl.DataFrame(pool_rows(grown.pool, run_id), schema=EVOLVED_POOL.schema)
    folder.write_llm_calls_rows("evolved_pool", grown.calls, run_id)
    summary = summarize(grown.reports, grown.pool.size_by_category())
    metadata = {
        **folder.write_table(EVOLVED_POOL, frame),
        **llm_metadata(grown.results, llm.role_models(("evolve",)), llm_calls_from_checkpoint=grown.replayed_calls),
        **_evolution_metadata(grown, summary, tree.height, frame.height),
    }
    grew = dg.AssetCheckResult(
        check_name=EVOLVED_POOL_GREW,
        passed=frame.height > tree.height or not grown.reports,
        metadata={"seed": tree.height, "pool": frame.height},
    )
    rejections = share_check(
        EVOLVED_POOL_REJECTIONS, "rejected_share", summary.rejected_share, config.max_rejection_share
    )
    resources = {"llm": llm.settings_record(("evolve",))}
    return publish(
        context, folder, "evolved_pool", config, resources, metadata, [grew, rejections], template=template.id
    )


def _evolution_metadata(grown: GrownPool, summary: EvolutionSummary, seed_size: int, size: int) -> dict[str, Any]:
    return {
        "seed_tree_features": seed_size,
        "rounds_done": len(grown.reports),
        "resumed_after_round": grown.resumed_after,
        "added_per_category": dg.MetadataValue.json(grown.pool.size_by_category()),
        "growth_curve": dg.MetadataValue.md(
            markdown_image(
                line_chart("pool size per round", summary.growth, "round", "features in the pool"),
                f"pool size per round: {seed_size} -> {size}",
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
    }


# ---- feature_configs ---------------------------------------------------------------------------


class FeatureConfigsConfig(dg.Config):
    count: int = Field(default=SAMPLING_DEFAULTS.count, description="Number of configurations (one problem each).")
    seed: int = Field(
        default=SAMPLING_DEFAULTS.seed,
        description="Base seed of the sampling (the recipe uses 42); each batch samples with this seed plus "
        "its own offset, so batches never repeat one another.",
    )
    shapes: list[list[int]] = Field(
        default=[list(s) for s in SAMPLING_DEFAULTS.shapes],
        description="Features per level: the recipe's (3,3,1), (3,3,2), (4,3,2).",
    )
    max_depth: int = Field(
        default=SAMPLING_DEFAULTS.max_depth, description="Deepest pool level a feature may come from."
    )
    min_leaves: int = Field(
        default=SAMPLING_DEFAULTS.min_leaves, description="Configurations with fewer leaves are skipped."
    )
    min_coverage_share: float = Field(default=0.05, description="Warn when less of the pool than this is used.")


def pool_items(storage: StorageResource) -> list[PoolItem]:
    return pool_items_of(read_parquet(EVOLVED_POOL.path(storage.root)).iter_rows(named=True))


@dg.asset(
    **in_stage("synthesis"),
    partitions_def=batch_partitions,
    deps=["evolved_pool"],
    kinds={"parquet", "python"},
    owners=OWNERS,
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
    folder = batch_folder(context, storage)
    seed = seed_for_batch(context, config.seed)
    items = pool_items(storage)
    try:
        configs = sample_configs(
            items, config.count, seed, [tuple(s) for s in config.shapes], config.max_depth, config.min_leaves
        )
    except ValueError as exc:
        raise refused(f"feature_configs: {exc}") from None
    frame = pl.DataFrame(config_rows(configs, seed, context.run.run_id), schema=FEATURE_CONFIGS.schema)
    report = coverage(items, configs)
    metadata = {**folder.write_table(FEATURE_CONFIGS, frame), **_configs_metadata(configs, report, frame, seed)}
    checks = _configs_checks(report, config, frame)
    return publish(context, folder, "feature_configs", config, {}, metadata, checks, batch_seed=seed)


def _configs_metadata(
    configs: list[FeatureConfig], report: dict[str, Any], frame: pl.DataFrame, seed: int
) -> dict[str, Any]:
    return {
        "shapes": dg.MetadataValue.json(dict(Counter("x".join(map(str, c.shape)) for c in configs))),
        "pool_leaves": report["pool_leaves"],
        "leaves_used": report["leaves_used"],
        "leaf_coverage_share": report["share_used"],
        "features_used": report["features_used"],
        "most_used_features": dg.MetadataValue.md(
            table_or_none(report["most_used"], ["feature", "configurations"], "no configuration")
        ),
        "mean_leaves": round(frame["leaf_count"].mean() or 0, 2),
        "batch_seed": seed,
    }


def _configs_checks(
    report: dict[str, Any], config: FeatureConfigsConfig, frame: pl.DataFrame
) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name=FEATURE_CONFIGS_COUNT,
            passed=frame.height == config.count,
            metadata={"asked": config.count, "sampled": frame.height},
        ),
        share_check(
            FEATURE_CONFIGS_COVERAGE, "leaf_share_used", report["share_used"], config.min_coverage_share, at_most=False
        ),
    ]


# ---- problems ----------------------------------------------------------------------------------


_COMPOSITION = composition.CompositionSettings()  # the recipe's settings type owns the defaults
# Configurations composed at once: the stage's memory is this chunk's requests, answers and rows (small: a few KB
# each) plus the batch-wide dedup index, whatever the batch's size; big enough to keep the LLM's requests in
# flight (max_in_flight 64) through a chunk's re-asks.
CHUNK_CONFIGS = 256


class ProblemsConfig(dg.Config):
    seed: int = Field(default=_COMPOSITION.seed, description="Seed of the style draw.")
    style_probabilities: dict[str, float] = Field(
        default=_COMPOSITION.style_probabilities,
        description="Codeforces 0.70, LeetCode 0.15, AtCoder 0.15 in the recipe.",
    )
    near_duplicate_threshold: float = Field(
        default=_COMPOSITION.near_duplicate_threshold,
        description="Jaccard similarity (word 3-shingles) of a near-duplicate.",
    )
    max_attempts: int = Field(
        default=_COMPOSITION.max_attempts,
        description="Asks per step: a scenario that fails to parse or is cut off, and a statement that fails to "
        "parse, is cut off or names the algorithm, are asked again (another seed) up to this many times; 1: once.",
    )
    style_tolerance: float = Field(
        default=0.15, description="Allowed gap between each style's share and its probability."
    )
    max_leak_share: float = Field(default=0.10, description="Warn when more statements than this name the method.")
    max_duplicate_share: float = Field(default=0.25, description="Warn when more problems than this are duplicates.")
    min_feature_coverage: float = Field(default=0.02, description="Warn when the kept problems use less of the pool.")
    chunk_problems: int = Field(
        default=CHUNK_CONFIGS,
        description="Configurations composed at once (memory grows with this, not with the batch).",
    )

    def settings(self) -> composition.CompositionSettings:
        return composition.CompositionSettings(
            self.seed, dict(self.style_probabilities), self.near_duplicate_threshold, self.max_attempts
        )


def config_chunks(folder: DataFolder, size: int) -> tuple[int, Iterator[list[dict[str, Any]]]]:
    """The batch's feature configurations (id and offered pool ids), `size` at a time, and how many there are."""
    path = FEATURE_CONFIGS.path(folder.root)
    if size < 1:
        raise refused(f"problems: chunk_problems must be at least 1, got {size}")
    if not path.exists():
        raise refused(f"problems: {path} does not exist: materialize feature_configs for this batch first")
    count = pl.scan_parquet(path).select(pl.len()).collect().item()
    return count, row_chunks(path, size, columns=["config_id", "feature_ids"])


@dg.asset(
    **in_stage("synthesis"),
    pool=LLM_POOL,
    partitions_def=batch_partitions,
    deps=["feature_configs"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
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
    run_id, folder = context.run.run_id, batch_folder(context, storage)
    try:
        config.settings().check()
    except ValueError as exc:
        raise refused(f"problems: {exc}") from None
    count, chunks = config_chunks(folder, config.chunk_problems)
    items = pool_items(storage)
    templates = (load_template(SCENARIO_TEMPLATE), load_template(STATEMENT_TEMPLATE))
    gateway = llm.gateway(storage, ("compose",), run_id, "problems")
    with folder.table_writer(PROBLEMS) as rows_out, folder.llm_calls_writer("problems", run_id) as calls_out:
        tally = composition.compose_problems(
            chunks,
            count,
            items,
            config.settings(),
            templates,
            llm.settings("compose").model,
            PROBLEMS.schema.names(),
            run_id,
            ask_with(gateway, context.log.info),
            lambda rows, results: (rows_out.write(rows), calls_out.write(results)),
            context.log.info,
        )
    metadata = {
        **folder.written(rows_out),
        **llm_metadata(tally.llm, llm.role_models(("compose",))),
        **_problem_metadata(tally),
    }
    shares = tally.shares(config.style_probabilities, [i.category for i in items])
    resources, template_ids = {"llm": llm.settings_record(("compose",))}, [t.id for t in templates]
    checks = _problem_checks(shares, config, tally)
    return publish(context, folder, "problems", config, resources, metadata, checks, templates=template_ids)


def _problem_metadata(tally: composition.ProblemsTally) -> dict:
    sample = tally.first_kept
    rendered = problem_markdown(composition.statement_of_row(sample)) if sample else "_no problem kept_"
    kept = pl.DataFrame(tally.kept.first, schema=["problem_id", "style", "title"], orient="row")
    return {
        "problems_kept": tally.status["ok"],
        "status_counts": dg.MetadataValue.json(dict(tally.status)),
        "style_counts": dg.MetadataValue.json(dict(tally.kept_styles)),
        "kept_problems": dg.MetadataValue.md(frame_markdown(kept, 15) if tally.kept.count else "_no problem kept_"),
        "sample_problem": dg.MetadataValue.md(rendered),
        # re-asks: answers that failed validation, asked again (each a row of llm_calls)
        "reasked_requests": dg.MetadataValue.json(dict(tally.reasked)),
        "configurations_by_attempts": dg.MetadataValue.json({str(k): v for k, v in sorted(tally.attempts.items())}),
    }


def _problem_checks(
    shares: composition.ProblemShares, config: ProblemsConfig, tally: composition.ProblemsTally
) -> list[dg.AssetCheckResult]:
    leaked, duplicates = tally.leaked, tally.duplicates
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
            **sampled_findings("leaked_problems", leaked.count, leaked.first),
        ),
        share_check(
            PROBLEMS_DUPLICATE_SHARE,
            "duplicate_share",
            shares.duplicate_share,
            config.max_duplicate_share,
            **sampled_findings("duplicate_problems", duplicates.count, duplicates.first),
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
