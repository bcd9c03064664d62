"""features and feature_tree: SynthSmith's first stage, feature extraction and merging."""

import json
from collections import Counter
from typing import Any

import dagster as dg
import polars as pl

from xcoder_assets.defs.automation import LLM_POOL, eager_downstream
from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import (
    OWNERS,
    LLMGatewayResource,
    StorageResource,
    ask_with,
    in_stage,
    llm_metadata,
    publish,
)
from xcoder_assets.recipe.features import extract_features, leaves_per_category, leaves_to_tree, merge_trees, tree_rows
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.store.parquet import read_parquet, write_text
from xcoder_assets.present.render import frame_markdown
from xcoder_assets.store.tables import FEATURE_TREE, FEATURES, SEED_PROBLEMS
from xcoder_assets.present.ui import table_or_none

EXTRACT_TEMPLATE = "extract_features"
# Warn when more than this share of answers yields no tree. A good extraction model stays under 5%;
# the offline simulator fails about 10% by design; above 20% the template and model disagree.
PARSE_FAILURE_WARN_SHARE = 0.20

FEATURES_PARSE_FAILURES = "parse_failures"
FEATURES_NO_EMPTY_TREES = "no_empty_trees"
FEATURE_TREE_NOT_EMPTY = "not_empty"


@dg.asset(
    **in_stage("features"),
    pool=LLM_POOL,
    deps=["seed_problems"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
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
    run_id, folder = context.run.run_id, storage.folder()
    gateway = llm.gateway(storage, ("extract",), run_id, "features")
    rows, results = extract_features(
        seeds.iter_rows(named=True), template, run_id, ask_with(gateway, context.log.info), context.log.info
    )
    frame = pl.DataFrame(rows, schema=FEATURES.schema)
    folder.write_llm_calls("features", results, run_id)
    metadata = {
        **folder.write_table(FEATURES, frame),
        **llm_metadata(results, llm.role_models(("extract",))),
        "template": template.id,
        **_features_metadata(frame),
    }
    resources = {"llm": llm.settings_record(("extract",))}
    return publish(
        context, folder, "features", None, resources, metadata, _features_checks(frame), template=template.id
    )


def _failures(frame: pl.DataFrame) -> tuple[Counter, float, pl.DataFrame]:
    """Answers by status, the share with no usable tree, and those rows."""
    statuses = Counter(frame["status"])
    share = (frame.height - statuses.get("ok", 0)) / frame.height if frame.height else 0.0
    return statuses, share, frame.filter(pl.col("status") != "ok").select("feature_id", "status", "error")


def _features_metadata(frame: pl.DataFrame) -> dict[str, Any]:
    statuses, share, failed = _failures(frame)
    return {
        "status_counts": dg.MetadataValue.json(dict(statuses)),
        "parse_failure_share": round(share, 4),
        "failures": dg.MetadataValue.md(frame_markdown(failed, 20) if failed.height else "_no failed extraction_"),
    }


def _features_checks(frame: pl.DataFrame) -> list[dg.AssetCheckResult]:
    statuses, share, failed = _failures(frame)
    empty_ok = frame.filter((pl.col("status") == "ok") & (pl.col("leaf_count") == 0))
    return [
        share_check(
            FEATURES_PARSE_FAILURES,
            "failure_share",
            share,
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
    ]


@dg.asset(
    **in_stage("features"),
    automation_condition=eager_downstream(),
    deps=[features],
    kinds={"parquet"},
    owners=OWNERS,
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
    folder = storage.folder()
    extracted = read_parquet(FEATURES.path(storage.root)).filter(pl.col("status") == "ok")
    merged = merge_trees([(row["feature_id"], json.loads(row["tree_json"])) for row in extracted.iter_rows(named=True)])
    frame = pl.DataFrame(tree_rows(merged, context.run.run_id), schema=FEATURE_TREE.schema)
    write_text(json.dumps(leaves_to_tree(merged), indent=2), storage.root / "feature_tree.json")
    sizes = leaves_per_category(frame["category"].to_list())
    metadata = {
        **folder.write_table(FEATURE_TREE, frame),
        "trees_merged": extracted.height,
        "leaves": frame.height,
        **{f"leaves/{c}": n for c, n in sizes.items()},
        "size_per_category": dg.MetadataValue.md(table_or_none(sizes.items(), ["category", "leaves"])),
        **folder.path_metadata("tree_json", storage.root / "feature_tree.json"),
    }
    not_empty = dg.AssetCheckResult(
        check_name=FEATURE_TREE_NOT_EMPTY,
        passed=frame.height > 0,
        metadata={"leaves": frame.height, "categories": len([n for n in sizes.values() if n])},
    )
    return publish(context, folder, "feature_tree", None, {}, metadata, [not_empty])
