"""The storage contract: every table's file, id column and explicit Polars schema.

The Parquet files under the data directory are the product; these schemas are checked on every
write (store.parquet.conform) and by each asset's schema check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

STR_LIST = pl.List(pl.String)


@dataclass(frozen=True)
class Table:
    name: str
    id_column: str
    schema: pl.Schema
    description: str

    def path(self, data_dir: Path) -> Path:
        return Path(data_dir) / f"{self.name}.parquet"


SEED_PROBLEMS = Table(
    name="seed_problems",
    id_column="seed_id",
    description="Seed problems (TACO-style): statement and the first solution, one row per record.",
    schema=pl.Schema(
        {
            "seed_id": pl.String,
            "source": pl.String,
            "source_line": pl.Int64,
            "question": pl.String,
            "solution": pl.String,
            "solutions_count": pl.Int64,
            "difficulty": pl.String,
            "run_id": pl.String,
        }
    ),
)

SEED_REJECTS = Table(
    name="seed_problems__rejects",
    id_column="source_line",
    description="Seed records that could not be loaded, with their line and reason.",
    schema=pl.Schema({"source": pl.String, "source_line": pl.Int64, "reason": pl.String, "raw": pl.String, "run_id": pl.String}),
)

FEATURES = Table(
    name="features",
    id_column="feature_id",
    description="One feature tree per seed as the extract model returned it; parse failures kept with their error.",
    schema=pl.Schema(
        {
            "feature_id": pl.String,
            "seed_id": pl.String,
            "status": pl.String,  # ok | parse_error | truncated | llm_error
            "error": pl.String,
            "tree_json": pl.String,
            "leaf_count": pl.Int64,
            "categories": STR_LIST,
            "llm_call_id": pl.String,
            "model": pl.String,
            "template": pl.String,
            "run_id": pl.String,
        }
    ),
)

FEATURE_TREE = Table(
    name="feature_tree",
    id_column="node_id",
    description="The merged feature tree, one row per leaf feature, in first-seen order, with the trees it came from.",
    schema=pl.Schema(
        {
            "node_id": pl.String,
            "category": pl.String,
            "path": STR_LIST,
            "feature": pl.String,
            "position": pl.Int64,
            "source_feature_ids": STR_LIST,
            "run_id": pl.String,
        }
    ),
)

EVOLVED_POOL = Table(
    name="evolved_pool",
    id_column="pool_id",
    description="The evolved feature pool: the merged tree's features plus every feature that rounds of "
    "breadth and depth expansion added, near-duplicates merged.",
    schema=pl.Schema(
        {
            "pool_id": pl.String,
            "category": pl.String,
            "path": STR_LIST,
            "feature": pl.String,
            "origin_round": pl.Int64,
            "parent_ids": STR_LIST,
            "llm_call_id": pl.String,
            "run_id": pl.String,
        }
    ),
)

FEATURE_CONFIGS = Table(
    name="feature_configs",
    id_column="config_id",
    description="Feature subtrees sampled from the pool without an LLM (recipe shapes, seeded, spread over the pool).",
    schema=pl.Schema(
        {
            "config_id": pl.String,
            "config_index": pl.Int64,
            "shape": pl.List(pl.Int64),
            "feature_ids": STR_LIST,
            "leaf_ids": STR_LIST,
            "leaf_count": pl.Int64,
            "subtree_json": pl.String,
            "seed": pl.Int64,
            "run_id": pl.String,
        }
    ),
)

PROBLEMS = Table(
    name="problems",
    id_column="problem_id",
    description="Problems composed from feature configurations in two steps (scenario, then statement in a "
    "Codeforces, LeetCode or AtCoder style); rejected ones kept with their status.",
    schema=pl.Schema(
        {
            "problem_id": pl.String,
            "config_id": pl.String,
            "status": pl.String,  # ok | leak | duplicate | parse_error | truncated | llm_error
            "error": pl.String,
            "style": pl.String,
            "title": pl.String,
            "statement": pl.String,
            "input_format": pl.String,
            "output_format": pl.String,
            "constraints": pl.String,
            "examples_json": pl.String,
            "function_name": pl.String,
            "signature": pl.String,
            "starter_code": pl.String,
            "feature_ids": STR_LIST,
            "selected_features": STR_LIST,
            "scenario": pl.String,
            "integration_strategy": pl.String,
            "leaked_terms": STR_LIST,
            "duplicate_of": pl.String,
            "scenario_call_id": pl.String,
            "statement_call_id": pl.String,
            "model": pl.String,
            "templates": STR_LIST,
            "run_id": pl.String,
        }
    ),
)

TEST_INPUTS = Table(
    name="test_inputs",
    id_column="test_id",
    description="Test inputs per problem from the LLM-written generator, run in the sandbox; each checked by the "
    "LLM-written validator; invalid, duplicate and oversized ones kept with their status.",
    schema=pl.Schema(
        {
            "test_id": pl.String,
            "problem_id": pl.String,
            "kind": pl.String,  # example | small | random | max
            "case_index": pl.Int64,
            "status": pl.String,  # valid | invalid | duplicate | oversized | generator_error
            "reason": pl.String,
            "input": pl.String,
            "input_bytes": pl.Int64,
            "generator_call_id": pl.String,
            "run_id": pl.String,
        }
    ),
)

TEST_GENERATORS = Table(
    name="test_inputs__generators",
    id_column="problem_id",
    description="Per problem: the generator and validator programs and what their inputs became.",
    schema=pl.Schema(
        {
            "problem_id": pl.String,
            "status": pl.String,  # ok | too_few_inputs | parse_error | truncated | llm_error
            "reason": pl.String,
            "valid_inputs": pl.Int64,
            "dropped_json": pl.String,
            "generator": pl.String,
            "validator": pl.String,
            "llm_call_id": pl.String,
            "run_id": pl.String,
        }
    ),
)

CANDIDATE_SOLUTIONS = Table(
    name="candidate_solutions",
    id_column="candidate_id",
    description="Candidate solutions per problem from the solve role; reasoning kept apart from the code; only "
    "answers with exactly one Python block that parses are usable (status ok), the rest kept with the reason.",
    schema=pl.Schema(
        {
            "candidate_id": pl.String,
            "problem_id": pl.String,
            "sample_index": pl.Int64,
            "status": pl.String,  # ok | no_code_block | multiple_code_blocks | syntax_error | truncated | llm_error
            "reason": pl.String,
            "code": pl.String,
            "reasoning": pl.String,
            "llm_call_id": pl.String,
            "model": pl.String,
            "run_id": pl.String,
        }
    ),
)

VERIFIED_SOLUTIONS = Table(
    name="verified_solutions",
    id_column="verified_id",
    description="Dual verification: one row per verified solution (passes every voted test; the golden one also "
    "confirmed on held-out tests), and one row per rejected problem with its reason.",
    schema=pl.Schema(
        {
            "verified_id": pl.String,
            "problem_id": pl.String,
            "candidate_id": pl.String,
            "status": pl.String,  # verified | rejected
            "reason": pl.String,
            "is_golden": pl.Boolean,
            "golden_candidate_id": pl.String,
            "tests_total": pl.Int64,
            "tests_verified": pl.Int64,
            "tests_selection": pl.Int64,
            "tests_holdout": pl.Int64,
            "mean_agreement": pl.Float64,
            "votes_json": pl.String,
            "test_ids": STR_LIST,
            "candidates_run": pl.Int64,
            "candidates_passing": pl.Int64,
            "max_time_s": pl.Float64,
            "max_memory_kb": pl.Int64,
            "code": pl.String,
            "run_id": pl.String,
        }
    ),
)

LLM_CALLS = Table(
    name="llm_calls",
    id_column="call_id",
    description="Every LLM request an asset made or read from the cache: request, answer, reasoning, tokens, cost.",
    schema=pl.Schema(
        {
            "call_id": pl.String,
            "asset": pl.String,
            "role": pl.String,
            "model": pl.String,
            "template": pl.String,
            "request_json": pl.String,
            "content": pl.String,
            "reasoning": pl.String,
            "finish_reason": pl.String,
            "truncated": pl.Boolean,
            "error": pl.String,
            "cache_hit": pl.Boolean,
            "attempts": pl.Int64,
            "prompt_tokens": pl.Int64,
            "completion_tokens": pl.Int64,
            "cost_usd": pl.Float64,
            "latency_s": pl.Float64,
            "run_id": pl.String,
        }
    ),
)

# Asset tables in pipeline order: the funnel and the lineage views follow it.
ASSET_TABLES: tuple[Table, ...] = (SEED_PROBLEMS, FEATURES, FEATURE_TREE, EVOLVED_POOL, FEATURE_CONFIGS, PROBLEMS,
                                   TEST_INPUTS, CANDIDATE_SOLUTIONS, VERIFIED_SOLUTIONS)
ALL_TABLES: dict[str, Table] = {t.name: t for t in (*ASSET_TABLES, SEED_REJECTS, TEST_GENERATORS, LLM_CALLS)}


def settings_path(data_dir: Path, asset: str) -> Path:
    """The settings an asset's data was made with (run config, models, templates), next to the data."""
    return Path(data_dir) / "settings" / f"{asset}.json"


def llm_calls_path(data_dir: Path, asset: str) -> Path:
    return Path(data_dir) / "llm_calls" / f"{asset}.parquet"
