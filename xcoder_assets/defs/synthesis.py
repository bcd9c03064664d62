"""evolved_pool, feature_configs and problems: SynthSmith's task synthesis.

Every setting is run config with the recipe's values as defaults; the settings a table was made
with (and the models of each role) are written next to it in settings/<asset>.json.
"""

import json
import os
from collections import Counter
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.checks import schema_check, share_check
from xcoder_assets.defs.resources import LLMGatewayResource, StorageResource, llm_metadata
from xcoder_assets.llm.answers import extract_json
from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe import composition
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.evolution import EvolutionSettings, RoundReport, evolve, growth_chart, pool_entry_id, subtree_json
from xcoder_assets.recipe.pool import FeaturePool
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.sampling import RECIPE_SHAPES, PoolItem, coverage, sample_configs
from xcoder_assets.store.ids import content_hash, make_id
from xcoder_assets.store.parquet import read_parquet, write_text
from xcoder_assets.store.render import frame_markdown, markdown_table
from xcoder_assets.store.tables import EVOLVED_POOL, FEATURE_CONFIGS, FEATURE_TREE, PROBLEMS, settings_path

EVOLVE_TEMPLATE = "evolve_features"
SCENARIO_TEMPLATE = "compose_scenario"
STATEMENT_TEMPLATE = "compose_problem"

EVOLVED_POOL_GREW = "evolved_pool_grew"
EVOLVED_POOL_REJECTIONS = "evolved_pool_rejection_share"
FEATURE_CONFIGS_COUNT = "feature_configs_count"
FEATURE_CONFIGS_COVERAGE = "feature_configs_coverage"
PROBLEMS_STYLE_MIX = "problems_style_mix"
PROBLEMS_LEAK_SHARE = "problems_leak_share"
PROBLEMS_DUPLICATE_RATE = "problems_duplicate_rate"
PROBLEMS_FEATURE_COVERAGE = "problems_feature_coverage"


def record_settings(storage: StorageResource, asset: str, settings: dict[str, Any]) -> None:
    write_text(json.dumps(settings, indent=2, sort_keys=True, default=str), settings_path(storage.root, asset))


# ---- evolved_pool ------------------------------------------------------------------------------

class RoundCheckpoint:
    """Finished rounds of one evolution, appended as JSON lines (one per round, flushed to disk).

    Appending keeps the cost of a checkpoint proportional to the round, not to the pool; a line cut
    off by an interruption is ignored, and its round is simply done again (its calls are cached).
    """

    def __init__(self, path, fingerprint: str):
        self.path, self.fingerprint = path, fingerprint

    def replay(self, pool: FeaturePool, reports: list, calls: list, max_round: int) -> int:
        if not self.path.exists():
            return 0
        lines = self.path.read_text().splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if header.get("fingerprint") != self.fingerprint:
            self.path.unlink()  # another evolution's rounds: start over
            return 0
        done = 0
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                break  # the round being written when the run stopped
            if record["report"]["round"] > max_round:
                break
            for e in record["entries"]:
                pool.add(e["category"], tuple(e["path"]), e["feature"], e["origin_round"], e["parent_ids"], e["llm_call_id"])
            reports.append(RoundReport(**record["report"]))
            calls.extend(record["calls"])
            done = record["report"]["round"]
        return done

    def append(self, report: RoundReport, entries: list, calls: list) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or report.round == 1:
            self.path.write_text(json.dumps({"fingerprint": self.fingerprint}) + "\n")
        record = {"report": report.__dict__, "calls": calls,
                  "entries": [{"category": e.category, "path": list(e.path), "feature": e.feature,
                               "origin_round": e.origin_round, "parent_ids": e.parents, "llm_call_id": e.llm_call_id}
                              for e in entries]}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class EvolutionConfig(dg.Config):
    rounds: int = Field(default=100, description="Rounds of evolution (the recipe's default is 100).")
    expansions_per_round: int = Field(default=4, description="Subtrees sampled and expanded in parallel per round.")
    subtree_max_leaves: int = Field(default=6, description="Features in a sampled subtree.")
    seed: int = Field(default=42, description="Seed of the subtree sampling.")
    max_rejection_share: float = Field(default=0.3, description="Warn when more expansions than this are rejected.")


@dg.asset(
    group_name="synthesis",
    deps=["feature_tree"],
    kinds={"parquet", "llm"},
    description=EVOLVED_POOL.description + " Role: evolve. Resumable: finished rounds are checkpointed.",
    check_specs=[
        dg.AssetCheckSpec(EVOLVED_POOL_GREW, asset="evolved_pool", description="Evolution added features to the pool."),
        dg.AssetCheckSpec(EVOLVED_POOL_REJECTIONS, asset="evolved_pool",
                          description="Share of rejected expansions stays under max_rejection_share."),
    ],
)
def evolved_pool(context: dg.AssetExecutionContext, config: EvolutionConfig, storage: StorageResource,
                 llm: LLMGatewayResource) -> dg.MaterializeResult:
    settings = EvolutionSettings(config.rounds, config.expansions_per_round, config.subtree_max_leaves, config.seed)
    tree = read_parquet(FEATURE_TREE.path(storage.root))
    if tree.height == 0:
        raise dg.Failure(description="evolved_pool: feature_tree is empty (every feature extraction failed?): "
                         "nothing to evolve", allow_retries=False)
    template = load_template(EVOLVE_TEMPLATE)
    model = llm.settings("evolve").model
    run_id = context.run.run_id
    # A checkpoint continues only the same evolution: same input tree, sampling settings, template, model.
    fingerprint = content_hash({"tree": sorted(tree["node_id"]), "expansions": config.expansions_per_round,
                                "leaves": config.subtree_max_leaves, "seed": config.seed, "template": template.id,
                                "model": model}, 32)
    checkpoint = RoundCheckpoint(storage.root / "checkpoints" / "evolved_pool.jsonl", fingerprint)
    pool, reports, calls = FeaturePool(), [], []
    for row in tree.iter_rows(named=True):
        pool.add(row["category"], tuple(row["path"]), row["feature"], 0, [row["node_id"]])
    start = checkpoint.replay(pool, reports, calls, config.rounds)
    if start:
        context.log.info(f"resuming evolution after round {start} ({len(pool)} features)")
    gateway = llm.gateway(storage, ("evolve",), run_id, "evolved_pool")

    def expand(subtrees):
        requests = [LLMRequest.of("evolve", template.render(subtree=subtree_json(s)), template.id) for s in subtrees]
        results = gateway.complete(requests)
        calls.extend(r.as_row() for r in results)
        out = []
        for result in results:
            if failure := result.failure():
                out.append((None, ": ".join(failure), result.call_id))
            else:
                parsed = extract_json(result.content, dict)
                out.append((parsed.value, parsed.error and f"unparseable: {parsed.error}", result.call_id))
        return out

    def save(report: RoundReport) -> None:
        reports.append(report)
        checkpoint.append(report, [e for e in pool.entries if e.origin_round == report.round],
                          calls[len(calls) - report.expansions:])

    evolve(pool, settings, start, expand, save)
    frame = pl.DataFrame(
        [{"pool_id": pool_entry_id(e), "category": e.category, "path": list(e.path), "feature": e.feature,
          "origin_round": e.origin_round, "parent_ids": e.parents, "llm_call_id": e.llm_call_id, "run_id": run_id}
         for e in pool.entries],
        schema=EVOLVED_POOL.schema,
    )
    storage.write_llm_calls_rows("evolved_pool", calls, run_id)
    metadata = storage.write_table(EVOLVED_POOL, frame)
    record_settings(storage, "evolved_pool", {**config.model_dump(), "template": template.id, "model": model})
    storage.refresh_warehouse(context.log)

    seed_size = tree.height
    rejected = [reason for r in reports for reason in r.rejected]
    expansions = sum(r.expansions for r in reports)
    reasons = Counter(reason.split(":")[0] for reason in rejected)
    feature_reasons = Counter(reason.split(":")[0] for r in reports for reason in r.rejected_features)
    categories = sorted(pool.size_by_category())
    every = max(1, len(reports) // 20)
    per_round = [[r.round, r.added, r.duplicates, len(r.rejected), *[r.sizes.get(c, 0) for c in categories]]
                 for r in reports[::every]]
    share = len(rejected) / expansions if expansions else 0.0
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **llm_metadata(gateway.stats, llm.role_models(("evolve",))),
            "seed_tree_features": seed_size,
            "rounds_done": len(reports),
            "resumed_after_round": start,
            "added_per_category": dg.MetadataValue.json(pool.size_by_category()),
            "growth_curve": dg.MetadataValue.md("```\n" + growth_chart(reports) + "\n```"),
            "pool_size_per_round": dg.MetadataValue.md(markdown_table(
                per_round, ["round", "added", "merged duplicates", "rejected", *categories])),
            "rejected_expansions": dg.MetadataValue.md(markdown_table(reasons.most_common(), ["reason", "expansions"])),
            "rejected_features": dg.MetadataValue.md(markdown_table(feature_reasons.most_common(10), ["reason", "features"])),
        },
        check_results=[
            dg.AssetCheckResult(check_name=EVOLVED_POOL_GREW, passed=frame.height > seed_size or not reports,
                                metadata={"seed": seed_size, "pool": frame.height}),
            share_check(EVOLVED_POOL_REJECTIONS, "rejected_share", share, config.max_rejection_share),
        ],
    )


# ---- feature_configs ---------------------------------------------------------------------------

class FeatureConfigsConfig(dg.Config):
    count: int = Field(default=48, description="Number of configurations (one problem each).")
    seed: int = Field(default=42, description="Seed of the sampling (the recipe uses 42).")
    shapes: list[list[int]] = Field(default=[list(s) for s in RECIPE_SHAPES],
                                    description="Features per level: the recipe's (3,3,1), (3,3,2), (4,3,2).")
    max_depth: int = Field(default=8, description="Deepest pool level a feature may come from.")
    min_leaves: int = Field(default=6, description="Configurations with fewer leaves are skipped.")
    min_coverage_share: float = Field(default=0.05, description="Warn when less of the pool than this is used.")


def pool_items(storage: StorageResource) -> list[PoolItem]:
    pool = read_parquet(EVOLVED_POOL.path(storage.root))
    return [PoolItem(r["pool_id"], r["category"], tuple(r["path"]), r["feature"]) for r in pool.iter_rows(named=True)]


@dg.asset(
    group_name="synthesis",
    deps=["evolved_pool"],
    kinds={"parquet", "python"},
    description=FEATURE_CONFIGS.description,
    check_specs=[
        dg.AssetCheckSpec(FEATURE_CONFIGS_COUNT, asset="feature_configs", description="As many configurations as asked."),
        dg.AssetCheckSpec(FEATURE_CONFIGS_COVERAGE, asset="feature_configs",
                          description="The configurations use at least min_coverage_share of the pool."),
    ],
)
def feature_configs(context: dg.AssetExecutionContext, config: FeatureConfigsConfig,
                    storage: StorageResource) -> dg.MaterializeResult:
    items = pool_items(storage)
    try:
        configs = sample_configs(items, config.count, config.seed, [tuple(s) for s in config.shapes],
                                 config.max_depth, config.min_leaves)
    except ValueError as exc:
        raise dg.Failure(description=f"feature_configs: {exc}", allow_retries=False) from None
    run_id = context.run.run_id
    frame = pl.DataFrame(
        [{"config_id": make_id("cfg", {"index": c.index, "seed": config.seed, "shape": list(c.shape),
                                       "features": [i.entry_id for i in c.items]}),
          "config_index": c.index, "shape": list(c.shape), "feature_ids": [i.entry_id for i in c.items],
          "leaf_ids": c.leaf_ids, "leaf_count": len(c.leaf_ids), "subtree_json": json.dumps(c.subtree()),
          "seed": config.seed, "run_id": run_id} for c in configs],
        schema=FEATURE_CONFIGS.schema,
    )
    metadata = storage.write_table(FEATURE_CONFIGS, frame)
    record_settings(storage, "feature_configs", config.model_dump())
    storage.refresh_warehouse(context.log)
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
            "most_used_features": dg.MetadataValue.md(markdown_table(report["most_used"], ["feature", "configurations"])),
            "mean_leaves": round(frame["leaf_count"].mean() or 0, 2),
        },
        check_results=[
            dg.AssetCheckResult(check_name=FEATURE_CONFIGS_COUNT, passed=frame.height == config.count,
                                metadata={"asked": config.count, "sampled": frame.height}),
            share_check(FEATURE_CONFIGS_COVERAGE, "leaf_share_used", report["share_used"], config.min_coverage_share,
                        at_most=False),
        ],
    )


# ---- problems ----------------------------------------------------------------------------------

class ProblemsConfig(dg.Config):
    seed: int = Field(default=42, description="Seed of the style draw.")
    style_probabilities: dict[str, float] = Field(default=dict(composition.RECIPE_STYLE_PROBABILITIES),
                                                  description="Codeforces 0.70, LeetCode 0.15, AtCoder 0.15 in the recipe.")
    near_duplicate_threshold: float = Field(default=0.8, description="Jaccard similarity (word 3-shingles) of a near-duplicate.")
    style_tolerance: float = Field(default=0.15, description="Allowed gap between each style's share and its probability.")
    max_leak_share: float = Field(default=0.10, description="Warn when more statements than this name the method.")
    max_duplicate_share: float = Field(default=0.25, description="Warn when more problems than this are duplicates.")
    min_feature_coverage: float = Field(default=0.02, description="Warn when the kept problems use less of the pool.")


def _features_text(config_row: dict[str, Any], by_id: dict[str, PoolItem]) -> list[tuple[str, str, str]]:
    """(pool id, category, 'path / feature') for each feature of a configuration."""
    out = []
    for entry_id in config_row["feature_ids"]:
        item = by_id[entry_id]
        out.append((entry_id, item.category, " / ".join((*item.path, item.feature))))
    return out


@dg.asset(
    group_name="synthesis",
    deps=["feature_configs"],
    kinds={"parquet", "llm"},
    description=PROBLEMS.description + " Role: compose (temperature 0.7, top_p 0.8, top_k 20).",
    check_specs=[
        dg.AssetCheckSpec(PROBLEMS_STYLE_MIX, asset="problems", description="Each style's share is within style_tolerance of its probability."),
        dg.AssetCheckSpec(PROBLEMS_LEAK_SHARE, asset="problems", description="Share of statements that name the algorithm."),
        dg.AssetCheckSpec(PROBLEMS_DUPLICATE_RATE, asset="problems", description="Share of exact and near-duplicate problems."),
        dg.AssetCheckSpec(PROBLEMS_FEATURE_COVERAGE, asset="problems", description="Share of the pool the kept problems use."),
    ],
)
def problems(context: dg.AssetExecutionContext, config: ProblemsConfig, storage: StorageResource,
             llm: LLMGatewayResource) -> dg.MaterializeResult:
    configs = read_parquet(FEATURE_CONFIGS.path(storage.root))
    items = pool_items(storage)
    by_id = {item.entry_id: item for item in items}
    scenario_template, statement_template = load_template(SCENARIO_TEMPLATE), load_template(STATEMENT_TEMPLATE)
    run_id = context.run.run_id
    try:
        styles = {row["config_id"]: composition.draw_style(config.style_probabilities, config.seed, row["config_id"])
                  for row in configs.iter_rows(named=True)}
    except ValueError as exc:
        raise dg.Failure(description=f"problems: {exc}", allow_retries=False) from None
    gateway = llm.gateway(storage, ("compose",), run_id, "problems")
    rows_in = list(configs.iter_rows(named=True))
    offered = {row["config_id"]: _features_text(row, by_id) for row in rows_in}
    step1 = gateway.complete([
        LLMRequest.of("compose", scenario_template.render(
            features="\n".join(f"- {category}: {text}" for _, category, text in offered[row["config_id"]])),
            scenario_template.id, row["config_id"])
        for row in rows_in
    ])
    scenarios: dict[str, composition.Scenario | str] = {}
    for row, result in zip(rows_in, step1):
        scenarios[row["config_id"]] = _parse(result, lambda text: composition.parse_scenario(
            text, [t.split(" / ")[-1] for _, _, t in offered[row["config_id"]]]))
    ready = [row for row in rows_in if isinstance(scenarios[row["config_id"]], composition.Scenario)]
    step2 = gateway.complete([
        LLMRequest.of("compose", statement_template.render(
            style=styles[row["config_id"]], style_guide=composition.STYLE_GUIDES[styles[row["config_id"]]],
            selected=", ".join(scenarios[row["config_id"]].selected),
            strategy=scenarios[row["config_id"]].integration_strategy,
            scenario=scenarios[row["config_id"]].scenario), statement_template.id, row["config_id"])
        for row in ready
    ])
    statements = {row["config_id"]: (result, _parse(result, lambda text, s=styles[row["config_id"]]: composition.parse_statement(text, s)))
                  for row, result in zip(ready, step2)}

    exact: dict[str, str] = {}
    near = composition.MinHashIndex(threshold=config.near_duplicate_threshold)
    out_rows = []
    model = llm.settings("compose").model
    for row, first in zip(rows_in, step1):
        config_id, style = row["config_id"], styles[row["config_id"]]
        scenario = scenarios[config_id]
        result, statement = statements.get(config_id, (None, None))
        record: dict[str, Any] = {key: None for key in PROBLEMS.schema}
        record.update(config_id=config_id, style=style, scenario_call_id=first.call_id, model=model,
                      templates=[scenario_template.id, statement_template.id], run_id=run_id, feature_ids=[],
                      selected_features=[], leaked_terms=[])
        if isinstance(scenario, composition.Scenario):
            names = {t.split(" / ")[-1]: entry_id for entry_id, _, t in offered[config_id]}
            record.update(scenario=scenario.scenario, integration_strategy=scenario.integration_strategy,
                          selected_features=scenario.selected, feature_ids=[names[n] for n in scenario.selected if n in names])
        if result is not None:
            record["statement_call_id"] = result.call_id
        if isinstance(scenario, Failure):
            record.update(status=scenario.status, error=f"scenario: {scenario}")
        elif isinstance(statement, Failure):
            record.update(status=statement.status, error=f"statement: {statement}")
        else:
            record.update(status="ok", title=statement.title, statement=statement.statement,
                          input_format=statement.input_format, output_format=statement.output_format,
                          constraints=statement.constraints, examples_json=json.dumps(statement.examples),
                          function_name=statement.function_name, signature=statement.signature,
                          starter_code=statement.starter_code,
                          error="; ".join(statement.warnings) or None)
            used = [(by_id[i].category, by_id[i].feature) for i in record["feature_ids"]]
            leaks = composition.leaked_terms(statement.statement, used)
            text_key = composition.normalized_text_hash(statement.statement)
            record["leaked_terms"] = leaks
            if leaks:
                record.update(status="leak", error=f"the statement names: {', '.join(leaks)}")
            elif text_key in exact:
                record.update(status="duplicate", duplicate_of=exact[text_key], error="exact duplicate")
            else:
                record["problem_id"] = make_id("prob", {"config": config_id, "style": style, "statement": statement.statement})
                twin = near.add(record["problem_id"], statement.statement)
                if twin is not None:
                    record.update(status="duplicate", duplicate_of=twin, error="near-duplicate")
                else:
                    exact[text_key] = record["problem_id"]
        record["problem_id"] = record["problem_id"] or make_id(
            "prob", {"config": config_id, "style": style, "status": record["status"], "error": record["error"]})
        out_rows.append(record)
    frame = pl.DataFrame(out_rows, schema=PROBLEMS.schema)
    storage.write_llm_calls("problems", step1 + step2, run_id)
    metadata = storage.write_table(PROBLEMS, frame)
    record_settings(storage, "problems", {**config.model_dump(), "templates": [scenario_template.id, statement_template.id],
                                          "model": model})
    storage.refresh_warehouse(context.log)
    return dg.MaterializeResult(metadata={**metadata, **llm_metadata(gateway.stats, llm.role_models(("compose",))),
                                          **_problem_metadata(frame)},
                                check_results=_problem_checks(frame, config, items))


def _parse(result: LLMResult, parser) -> Any:
    """A parsed value, or the Failure that says why there is none (llm error, truncation, parse failure)."""
    if failure := result.failure():
        return Failure(*failure)
    try:
        return parser(result.content)
    except composition.CompositionError as exc:
        return Failure("parse_error", str(exc))


def _problem_metadata(frame: pl.DataFrame) -> dict[str, Any]:
    kept = frame.filter(pl.col("status") == "ok")
    sample = kept.head(1).to_dicts()
    rendered = ""
    if sample:
        row = sample[0]
        rendered = composition.render_problem_markdown(row["style"], composition.Statement(
            row["title"], row["statement"], row["input_format"] or "", row["output_format"] or "",
            row["constraints"] or "", json.loads(row["examples_json"]), row["function_name"], row["signature"],
            row["starter_code"]))
    return {
        "problems_kept": kept.height,
        "status_counts": dg.MetadataValue.json(dict(Counter(frame["status"]))),
        "style_counts": dg.MetadataValue.json(dict(Counter(kept["style"]))),
        "kept_problems": dg.MetadataValue.md(frame_markdown(kept.select("problem_id", "style", "title"), 15)),
        "sample_problem": dg.MetadataValue.md(rendered or "(no problem kept)"),
    }


def _problem_checks(frame: pl.DataFrame, config: ProblemsConfig, items: list[PoolItem]) -> list[dg.AssetCheckResult]:
    composed = frame.filter(pl.col("status").is_in(["ok", "leak", "duplicate"]))
    kept = frame.filter(pl.col("status") == "ok")
    total = sum(config.style_probabilities.values())
    shares = {s: (composed.filter(pl.col("style") == s).height / composed.height if composed.height else 0.0)
              for s in config.style_probabilities}
    gaps = {s: round(abs(shares[s] - p / total), 4) for s, p in config.style_probabilities.items()}
    leak_share = composed.filter(pl.col("status") == "leak").height / composed.height if composed.height else 0.0
    duplicate_share = composed.filter(pl.col("status") == "duplicate").height / composed.height if composed.height else 0.0
    usable = [i for i in items if i.category not in ("programming_language", "summary")]
    used = set(kept.explode("feature_ids")["feature_ids"].drop_nulls()) if kept.height else set()
    feature_share = len(used) / len(usable) if usable else 0.0
    return [
        dg.AssetCheckResult(check_name=PROBLEMS_STYLE_MIX, passed=all(g <= config.style_tolerance for g in gaps.values()),
                            severity=dg.AssetCheckSeverity.WARN,
                            metadata={"shares": dg.MetadataValue.json({s: round(v, 4) for s, v in shares.items()}),
                                      "gaps": dg.MetadataValue.json(gaps), "tolerance": config.style_tolerance}),
        share_check(PROBLEMS_LEAK_SHARE, "leak_share", leak_share, config.max_leak_share),
        share_check(PROBLEMS_DUPLICATE_RATE, "duplicate_share", duplicate_share, config.max_duplicate_share),
        share_check(PROBLEMS_FEATURE_COVERAGE, "share", feature_share, config.min_feature_coverage, at_most=False,
                    features_used=len(used), pool_features=len(usable)),
    ]


evolved_pool_schema = schema_check(evolved_pool, EVOLVED_POOL)
feature_configs_schema = schema_check(feature_configs, FEATURE_CONFIGS)
problems_schema = schema_check(problems, PROBLEMS)
