"""features and feature_tree: SynthSmith's first stage, feature extraction and merging."""

import json
from collections import Counter

import dagster as dg
import polars as pl

from xcoder_assets.defs.operations import LLM_POOL, eager_downstream
from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import OWNERS, LLMGatewayResource, StorageResource, asset_tags, complete, llm_metadata
from xcoder_assets.llm.gateway import LLMRequest
from xcoder_assets.recipe.features import (
    feature_row,
    leaves_per_category,
    leaves_to_tree,
    merge_trees,
    parse_feature_answer,
    tree_rows,
)
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.store.parquet import read_parquet, write_text
from xcoder_assets.store.render import frame_markdown
from xcoder_assets.store.tables import FEATURE_TREE, FEATURES, SEED_PROBLEMS
from xcoder_assets.store.ui import table_or_none

EXTRACT_TEMPLATE = "extract_features"
# Warn when more than this share of answers yields no tree. A good extraction model stays under 5%;
# the offline simulator fails about 10% by design; above 20% the template and model disagree.
PARSE_FAILURE_WARN_SHARE = 0.20

FEATURES_PARSE_FAILURES = "parse_failures"
FEATURES_NO_EMPTY_TREES = "no_empty_trees"
FEATURE_TREE_NOT_EMPTY = "not_empty"


@dg.asset(
    pool=LLM_POOL,
    group_name="features",
    deps=["seed_problems"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
    tags=asset_tags("features"),
    description=FEATURES.description + " Role: extract (temperature 0.7, top_p 0.95, 4096 tokens).",
    check_specs=[
        dg.AssetCheckSpec(
            FEATURES_PARSE_FAILURES,
            asset="features",
            description=f"Share of answers with no usable tree; warns above {PARSE_FAILURE_WARN_SHARE:.0%}.",
        ),
        dg.AssetCheckSpec(
            FEATURES_NO_EMPTY_TREES, asset="features", description="No answer parsed as 'ok' has an empty tree."
        ),
    ],
)
def features(
    context: dg.AssetExecutionContext, storage: StorageResource, llm: LLMGatewayResource
) -> dg.MaterializeResult:
    seeds = read_parquet(SEED_PROBLEMS.path(storage.root))
    template = load_template(EXTRACT_TEMPLATE)
    run_id = context.run.run_id
    gateway = llm.gateway(storage, ("extract",), run_id, "features")
    requests = [
        LLMRequest.of(
            "extract", template.render(question=seed["question"], code=seed["solution"]), template.id, seed["seed_id"]
        )
        for seed in seeds.iter_rows(named=True)
    ]
    results = complete(gateway, requests, context.log.info, "features: LLM calls")
    rows = [
        feature_row(
            seed_id,
            parse_feature_answer(result.content, truncated=result.truncated, llm_error=result.error),
            result.call_id,
            result.model,
            template.id,
            run_id,
        )
        for seed_id, result in zip(seeds["seed_id"], results)
    ]
    frame = pl.DataFrame(rows, schema=FEATURES.schema)
    storage.write_llm_calls("features", results, run_id)
    metadata = storage.write_table(FEATURES, frame)
    storage.record_settings("features", None, {"llm": llm.settings_record(("extract",))}, template=template.id)
    storage.refresh_warehouse(context.log)

    statuses = Counter(frame["status"])
    failures = frame.height - statuses.get("ok", 0)
    failure_share = failures / frame.height if frame.height else 0.0
    empty_ok = frame.filter((pl.col("status") == "ok") & (pl.col("leaf_count") == 0))
    failed = frame.filter(pl.col("status") != "ok").select("feature_id", "status", "error")
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **llm_metadata(results, llm.role_models(("extract",))),
            "template": template.id,
            "status_counts": dg.MetadataValue.json(dict(statuses)),
            "parse_failure_share": round(failure_share, 4),
            "failures": dg.MetadataValue.md(frame_markdown(failed, 20) if failed.height else "_no failed extraction_"),
        },
        check_results=[
            share_check(
                FEATURES_PARSE_FAILURES,
                "failure_share",
                failure_share,
                PARSE_FAILURE_WARN_SHARE,
                by_status=dg.MetadataValue.json(dict(statuses)),
                **row_findings("failed_extractions", failed["feature_id"]),
            ),
            dg.AssetCheckResult(
                check_name=FEATURES_NO_EMPTY_TREES,
                passed=empty_ok.height == 0,
                metadata={
                    "empty_trees": empty_ok.height,
                    **row_findings("empty_trees", empty_ok["feature_id"], counted=True),
                },
            ),
        ],
    )


@dg.asset(
    automation_condition=eager_downstream(),
    group_name="features",
    deps=[features],
    kinds={"parquet"},
    owners=OWNERS,
    tags=asset_tags("features"),
    description=FEATURE_TREE.description + " Also written as feature_tree.json (nested form).",
    check_specs=[
        dg.AssetCheckSpec(
            FEATURE_TREE_NOT_EMPTY,
            asset="feature_tree",
            description="The merged tree has leaves in at least one category.",
        )
    ],
)
def feature_tree(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    extracted = read_parquet(FEATURES.path(storage.root)).filter(pl.col("status") == "ok")
    merged = merge_trees([(row["feature_id"], json.loads(row["tree_json"])) for row in extracted.iter_rows(named=True)])
    frame = pl.DataFrame(tree_rows(merged, context.run.run_id), schema=FEATURE_TREE.schema)
    write_text(json.dumps(leaves_to_tree(merged), indent=2), storage.root / "feature_tree.json")
    metadata = storage.write_table(FEATURE_TREE, frame)
    storage.refresh_warehouse(context.log)
    sizes = leaves_per_category(frame["category"].to_list())
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "trees_merged": extracted.height,
            "leaves": frame.height,
            **{f"leaves/{c}": n for c, n in sizes.items()},
            "size_per_category": dg.MetadataValue.md(table_or_none(sizes.items(), ["category", "leaves"])),
            **storage.folder().path_metadata("tree_json", storage.root / "feature_tree.json"),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=FEATURE_TREE_NOT_EMPTY,
                passed=frame.height > 0,
                metadata={"leaves": frame.height, "categories": len([n for n in sizes.values() if n])},
            )
        ],
    )
