"""The storage contract: every table's file, id column, explicit Polars schema and column meanings.

The Parquet files under the data directory are the product; these schemas are enforced on every
write (store.parquet.conform), and the column descriptions are what the UI shows per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import polars as pl

STR_LIST = pl.List(pl.String)


@dataclass(frozen=True)
class Table:
    name: str
    id_column: str
    schema: pl.Schema
    description: str
    columns: Mapping[str, str] = field(default_factory=dict)  # column -> what it holds
    unique_ids: bool = True  # the writer refuses a frame whose id column repeats a value
    batched: bool = False  # one file per generation batch, under batches/batch=<key>/ (see batch_dir)

    def undescribed(self) -> list[str]:
        """Columns without a description, and descriptions of columns the schema lacks (the tests want none)."""
        return [c for c in self.schema if not self.columns.get(c)] + [c for c in self.columns if c not in self.schema]

    def path(self, data_dir: Path) -> Path:
        """The table's file under a data directory, or, for a batched table, under a batch's folder."""
        return Path(data_dir) / f"{self.name}.parquet"

    def batch_files(self, data_dir: Path) -> dict[str, Path]:
        """A batched table's file in every batch that has one, by batch key."""
        return {key: self.path(folder) for key, folder in batch_dirs(data_dir).items() if self.path(folder).exists()}


# Generation batches (one dynamic partition each) keep their tables apart, Hive-style, so DuckDB reads
# every batch as one view with a `batch` column: <data dir>/batches/batch=<key>/<table>.parquet.
BATCHES_DIR = "batches"
# The shared caches in the data directory (or on Postgres: store/sqlstore.py) and the shard versions' folder:
# named here once, for every reader and writer.
LLM_CACHE_FILE = "llm_cache.sqlite"  # the gateway's response cache, usage log, budgets, batches (llm/cache.py)
RUN_CACHE_FILE = "sandbox_cache.sqlite"  # the sandbox run cache (sandbox/runs.py)
SHARDS_DIR = "training_shards"  # one folder per training_shards version, under the data directory
BATCH_FOLDER_PREFIX = "batch="


def batch_dir(data_dir: Path, key: str) -> Path:
    """The folder of one batch's tables, LLM calls, settings and checkpoints."""
    return Path(data_dir) / BATCHES_DIR / f"{BATCH_FOLDER_PREFIX}{key}"


def batch_dirs(data_dir: Path) -> dict[str, Path]:
    """Every batch folder under a data directory, by key (sorted)."""
    root = Path(data_dir) / BATCHES_DIR
    if not root.is_dir():
        return {}
    return {
        p.name[len(BATCH_FOLDER_PREFIX) :]: p
        for p in sorted(root.iterdir())
        if p.is_dir() and p.name.startswith(BATCH_FOLDER_PREFIX)
    }


_SEED_PROBLEMS_COLUMNS = {
    "seed_id": "row id (seed-...), from the statement and solution",
    "source": "the file or dataset the record came from",
    "source_line": "line (JSONL) or row number (Parquet, dataset) of the record in its source",
    "question": "the problem statement",
    "solution": "the record's first solution (Python)",
    "solutions_count": "how many solutions the record has",
    "difficulty": "the record's difficulty label, if any",
    "run_id": "the Dagster run that wrote the row",
}

SEED_PROBLEMS = Table(
    name="seed_problems",
    id_column="seed_id",
    description="Seed problems (TACO-style): statement and the first solution, one row per record.",
    columns=_SEED_PROBLEMS_COLUMNS,
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

_SEED_REJECTS_COLUMNS = {
    "source": "the file or dataset of the bad record",
    "source_line": "its line or row number",
    "reason": "why it could not be loaded",
    "raw": "the record as read (truncated)",
    "run_id": "the Dagster run that wrote the row",
}

SEED_REJECTS = Table(
    name="seed_problems__rejects",
    id_column="source_line",
    description="Seed records that could not be loaded, with their line and reason.",
    unique_ids=False,  # line numbers repeat across source files
    columns=_SEED_REJECTS_COLUMNS,
    schema=pl.Schema(
        {"source": pl.String, "source_line": pl.Int64, "reason": pl.String, "raw": pl.String, "run_id": pl.String}
    ),
)

_FEATURES_COLUMNS = {
    "feature_id": "row id (feat-...), from the LLM call and status, under its seed",
    "seed_id": "the seed problem the tree was extracted from",
    "status": "ok, parse_error, truncated (answer cut off at max_tokens) or llm_error",
    "error": "why there is no tree (or the parser's warnings for an ok tree)",
    "tree_json": "the feature tree as JSON (category -> nested features)",
    "leaf_count": "leaf features in the tree",
    "categories": "the tree's categories (free-text ones left out)",
    "llm_call_id": "the LLM call that answered (llm_calls)",
    "model": "the model that answered",
    "template": "prompt template id@version",
    "run_id": "the Dagster run that wrote the row",
}

FEATURES = Table(
    name="features",
    id_column="feature_id",
    description="One feature tree per seed as the extract model returned it; parse failures kept with their error.",
    columns=_FEATURES_COLUMNS,
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

_FEATURE_TREE_COLUMNS = {
    "node_id": "row id (node-...), from category, path and feature (case-insensitive)",
    "category": "feature category (algorithms, data_structures...)",
    "path": "the features above this leaf",
    "feature": "the leaf feature",
    "position": "first-seen order over the merged trees",
    "source_feature_ids": "the features rows whose trees hold this leaf",
    "run_id": "the Dagster run that wrote the row",
}

FEATURE_TREE = Table(
    name="feature_tree",
    id_column="node_id",
    description="The merged feature tree, one row per leaf feature, in first-seen order, with the trees it came from.",
    columns=_FEATURE_TREE_COLUMNS,
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

_EVOLVED_POOL_COLUMNS = {
    "pool_id": "row id (pool-...), from the feature's normalized key",
    "category": "feature category",
    "path": "the features above it",
    "feature": "the feature",
    "origin_round": "evolution round that added it (0: from the merged tree)",
    "parent_ids": "the pool entries (or tree nodes) it was expanded from",
    "llm_call_id": "the evolve call that proposed it (null for round 0)",
    "run_id": "the Dagster run that wrote the row",
}

EVOLVED_POOL = Table(
    name="evolved_pool",
    id_column="pool_id",
    description="The evolved feature pool: the merged tree's features plus every feature that rounds of "
    "breadth and depth expansion added, near-duplicates merged.",
    columns=_EVOLVED_POOL_COLUMNS,
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

_FEATURE_CONFIGS_COLUMNS = {
    "config_id": "row id (cfg-...), from index, seed, shape and features",
    "config_index": "position in the seeded sequence of configurations",
    "shape": "features per level, e.g. [3, 3, 2]",
    "feature_ids": "the pool entries chosen (every level)",
    "leaf_ids": "the chosen leaves",
    "leaf_count": "number of chosen leaves",
    "subtree_json": "the configuration as a nested JSON subtree",
    "seed": "the sampling seed",
    "run_id": "the Dagster run that wrote the row",
}

FEATURE_CONFIGS = Table(
    name="feature_configs",
    batched=True,
    id_column="config_id",
    description="Feature subtrees sampled from the pool without an LLM (recipe shapes, seeded, spread over the pool).",
    columns=_FEATURE_CONFIGS_COLUMNS,
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

_PROBLEMS_COLUMNS = {
    "problem_id": "row id (prob-...)",
    "config_id": "the feature configuration it was composed from",
    "status": "ok, leak, duplicate, parse_error, truncated or llm_error",
    "error": "why it was not kept (or the parser's warnings)",
    "style": "codeforces, leetcode or atcoder",
    "title": "problem title",
    "statement": "the statement (story and task)",
    "input_format": "input format section",
    "output_format": "output format section",
    "constraints": "constraints section",
    "examples_json": "example tests as JSON [{input, output}]",
    "function_name": "LeetCode style: the method to implement",
    "signature": "LeetCode style: the method's signature",
    "starter_code": "LeetCode style: the starter code",
    "feature_ids": "pool entries the composition used",
    "selected_features": "feature names step 1 selected",
    "scenario": "step 1's scenario",
    "integration_strategy": "step 1's plan to combine the features",
    "leaked_terms": "algorithm or feature names the statement gives away",
    "duplicate_of": "the kept problem it duplicates",
    "scenario_call_id": "the step 1 (scenario) LLM call",
    "statement_call_id": "the step 2 (statement) LLM call",
    "attempts": "LLM requests made for the configuration, both steps with their re-asks (an answer that failed "
    "validation is asked again); each is a row of llm_calls; the call ids above are the last attempt's",
    "model": "the compose model",
    "templates": "prompt template ids@versions of both steps",
    "run_id": "the Dagster run that wrote the row",
}

PROBLEMS = Table(
    name="problems",
    batched=True,
    id_column="problem_id",
    description="Problems composed from feature configurations in two steps (scenario, then statement in a "
    "Codeforces, LeetCode or AtCoder style); rejected ones kept with their status.",
    columns=_PROBLEMS_COLUMNS,
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
            "attempts": pl.Int64,
            "model": pl.String,
            "templates": STR_LIST,
            "run_id": pl.String,
        }
    ),
)

_TEST_INPUTS_COLUMNS = {
    "test_id": "row id (test-...), from the input, kind and index, under its problem",
    "problem_id": "the problem it tests",
    "kind": "example (from the statement), small, random or max",
    "case_index": "index within its kind",
    "status": "valid, invalid, duplicate, oversized or generator_error",
    "reason": "why it was dropped (the validator's message...)",
    "input": "the input text",
    "input_bytes": "size of the input in bytes",
    "generator_call_id": "the test_write call whose generator made it (examples too: the call of the problem's programs)",
    "run_id": "the Dagster run that wrote the row",
}

TEST_INPUTS = Table(
    name="test_inputs",
    batched=True,
    id_column="test_id",
    description="Test inputs per problem from the LLM-written generator, run in the sandbox; each checked by the "
    "LLM-written validator; invalid, duplicate and oversized ones kept with their status.",
    columns=_TEST_INPUTS_COLUMNS,
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

_TEST_GENERATORS_COLUMNS = {
    "problem_id": "the problem",
    "status": "ok, too_few_inputs, parse_error, truncated or llm_error",
    "reason": "why the problem has no usable tests",
    "valid_inputs": "valid test inputs (examples included)",
    "dropped_json": "dropped inputs by status, as JSON",
    "generator": "the input generator program",
    "validator": "the input validator program",
    "llm_call_id": "the test_write call",
    "run_id": "the Dagster run that wrote the row",
}

TEST_GENERATORS = Table(
    name="test_inputs__generators",
    batched=True,
    id_column="problem_id",
    description="Per problem: the generator and validator programs and what their inputs became.",
    columns=_TEST_GENERATORS_COLUMNS,
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

_CANDIDATE_SOLUTIONS_COLUMNS = {
    "candidate_id": "row id (cand-...), from the call and sample, under its problem",
    "problem_id": "the problem",
    "sample_index": "which of the problem's samples (also the sampling seed)",
    "status": "ok, no_code_block, multiple_code_blocks, syntax_error, truncated or llm_error",
    "reason": "why it is not usable",
    "code": "the extracted Python program",
    "reasoning": "the model's reasoning, apart from the code",
    "llm_call_id": "the solve call",
    "model": "the solve model",
    "run_id": "the Dagster run that wrote the row",
}

CANDIDATE_SOLUTIONS = Table(
    name="candidate_solutions",
    batched=True,
    id_column="candidate_id",
    description="Candidate solutions per problem from the solve role; reasoning kept apart from the code; only "
    "answers with exactly one Python block that parses are usable (status ok), the rest kept with the reason.",
    columns=_CANDIDATE_SOLUTIONS_COLUMNS,
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

_VERIFIED_SOLUTIONS_COLUMNS = {
    "verified_id": "row id (ver-...)",
    "problem_id": "the problem",
    "candidate_id": "the verified candidate (null on a rejected problem's row)",
    "status": "verified (a solution) or rejected (the problem)",
    "reason": "why the problem was rejected",
    "is_golden": "the candidate chosen on the selection tests and confirmed on the held-out ones",
    "golden_candidate_id": "the problem's golden candidate",
    "tests_total": "tests voted on (at most max_tests_per_problem)",
    "tests_verified": "tests whose expected output the vote decided",
    "tests_selection": "verified tests used to choose the golden solution",
    "tests_holdout": "verified tests held out to confirm it",
    "mean_agreement": "mean over tests of top votes / runs that ended normally",
    "votes_json": "per test: verified, expected output hash, votes, voters, agreement, reason, held out",
    "test_ids": "the tests voted on",
    "candidates_run": "usable candidates run on the tests",
    "candidates_passing": "candidates passing every verified test",
    "max_time_s": "slowest wall time of this solution over the tests",
    "max_memory_kb": "largest resident memory of this solution over the tests",
    "code": "the solution's program",
    "run_id": "the Dagster run that wrote the row",
}

VERIFIED_SOLUTIONS = Table(
    name="verified_solutions",
    batched=True,
    id_column="verified_id",
    description="Dual verification: one row per verified solution (passes every voted test; the golden one also "
    "confirmed on held-out tests), and one row per rejected problem with its reason.",
    columns=_VERIFIED_SOLUTIONS_COLUMNS,
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

_LLM_CALLS_COLUMNS = {
    "call_id": "call id (call-...), from the request's cache key",
    "asset": "the asset that asked",
    "role": "stage role (extract, evolve, ...)",
    "model": "the model",
    "template": "prompt template id@version",
    "request_json": "the request: messages and generation parameters",
    "content": "the answer, reasoning removed",
    "reasoning": "the model's reasoning",
    "finish_reason": "stop, length...",
    "truncated": "cut off at max_tokens",
    "error": "why there is no answer",
    "cache_hit": "answered from the response cache",
    "attempts": "requests sent (retries included; 0 for a cache hit)",
    "prompt_tokens": "prompt tokens of the call (a cache hit: of the original call)",
    "completion_tokens": "completion tokens (a cache hit: of the original call)",
    "cost_usd": "cost in USD (a cache hit: of the original call)",
    "latency_s": "seconds the call took",
    "run_id": "the Dagster run that wrote the row",
}

LLM_CALLS = Table(
    name="llm_calls",
    id_column="call_id",
    description="Every LLM request an asset made or read from the cache: request, answer, reasoning, tokens, cost.",
    unique_ids=False,  # identical requests (one call) appear once per row that used them
    columns=_LLM_CALLS_COLUMNS,
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


def settings_path(data_dir: Path, asset: str) -> Path:
    """The settings an asset's data was made with (run config, models, templates), next to the data."""
    return Path(data_dir) / "settings" / f"{asset}.json"


def verified_problems_path(batch_folder: Path) -> Path:
    """A batch's verified problems in LiveCodeBench's format (verified_solutions writes it, beside its table)."""
    return Path(batch_folder) / "lcb" / "verified_problems.jsonl"


def llm_calls_path(data_dir: Path, asset: str) -> Path:
    return Path(data_dir) / "llm_calls" / f"{asset}.parquet"


# ---- the benchmark half: LiveCodeBench problems and a model's scores on them ----------------------

RUN_ID = "the Dagster run that wrote the row"

LCB_PROBLEMS = Table(
    name="lcb_problems",
    id_column="lcb_problem_id",
    description="LiveCodeBench code_generation_lite problems (or the project's own held-out problems in that "
    "format, labelled by source): one row per problem with its tests, date, difficulty and mode.",
    schema=pl.Schema(
        {
            "lcb_problem_id": pl.String,
            "question_id": pl.String,
            "title": pl.String,
            "platform": pl.String,
            "contest_id": pl.String,
            "contest_date": pl.Date,
            "difficulty": pl.String,
            "mode": pl.String,
            "func_name": pl.String,
            "source": pl.String,
            "location": pl.String,
            "public_tests": pl.Int64,
            "private_tests": pl.Int64,
            "question_content": pl.String,
            "starter_code": pl.String,
            "public_tests_json": pl.String,
            "private_tests_json": pl.String,
            "run_id": pl.String,
        }
    ),
    columns={
        "lcb_problem_id": "row id (of the question id, source and the tests)",
        "question_id": "LiveCodeBench's question_id",
        "title": "question_title",
        "platform": "leetcode, codeforces or atcoder",
        "contest_id": "contest_id as the row gives it",
        "contest_date": "the contest's date (empty when the row has none: then it is in no date window)",
        "difficulty": "easy, medium or hard",
        "mode": "stdin (a program reading stdin) or functional (a method called with JSON arguments)",
        "func_name": "the method functional tests call",
        "source": "the release tag read, or a label such as 'xcoder-verified (not LiveCodeBench)'",
        "location": "file:line the row was read from",
        "public_tests": "number of public tests",
        "private_tests": "number of private (hidden) tests",
        "question_content": "the statement",
        "starter_code": "the starter code (functional problems)",
        "public_tests_json": "public tests as a JSON list of {input, output}",
        "private_tests_json": "private tests as a JSON list of {input, output}, decoded",
        "run_id": RUN_ID,
    },
)

LCB_PROBLEM_REJECTS = Table(
    name="lcb_problems__rejects",
    id_column="location",
    description="LiveCodeBench rows that could not be read (skip_bad_records), with file:line and reason.",
    schema=pl.Schema({"location": pl.String, "question_id": pl.String, "reason": pl.String, "run_id": pl.String}),
    columns={
        "location": "file:line of the row",
        "question_id": "its question_id, when it has one",
        "reason": "what is wrong with it",
        "run_id": RUN_ID,
    },
)

BENCHMARK_SAMPLES = Table(
    name="benchmark_scores",
    id_column="score_id",
    description="One row per (problem, sample): the gateway call that wrote it, the extracted code, whether it "
    "passed every test, and the official per-test results.",
    schema=pl.Schema(
        {
            "score_id": pl.String,
            "evaluation_id": pl.String,
            "lcb_problem_id": pl.String,
            "question_id": pl.String,
            "sample": pl.Int64,
            "model": pl.String,
            "api_base": pl.String,
            "template": pl.String,
            "llm_call_id": pl.String,
            "cache_hit": pl.Boolean,
            "generation_status": pl.String,
            "generation_reason": pl.String,
            "code": pl.String,
            "passed": pl.Boolean,
            "verdict": pl.String,
            "reason": pl.String,
            "first_failing_test": pl.Int64,
            "test_results": pl.List(pl.Int64),
            "time_s": pl.Float64,
            "memory_kb": pl.Int64,
            "difficulty": pl.String,
            "platform": pl.String,
            "contest_date": pl.Date,
            "run_id": pl.String,
        }
    ),
    columns={
        "score_id": "row id (of the evaluation, problem and sample)",
        "evaluation_id": "id of the settings that made the sample (model, n, seed, template, problems)",
        "lcb_problem_id": "the lcb_problems row",
        "question_id": "LiveCodeBench's question_id",
        "sample": "sample index 0..n-1 (each its own seed)",
        "model": "the model that wrote the answer",
        "api_base": "the endpoint it was called at (empty: the provider's default)",
        "template": "prompt template id and version",
        "llm_call_id": "the llm_calls row of this sample's request (empty with --generations)",
        "cache_hit": "the answer came from the response cache",
        "generation_status": "ok, no_code (no fenced block), truncated (cut off at max_tokens) or error (the call failed)",
        "generation_reason": "why the generation failed",
        "code": "the code extracted as LiveCodeBench extracts it (between the last two fence lines)",
        "passed": "passed every test (a failed generation is never a pass)",
        "verdict": "the judge's verdict on the sample (empty when nothing ran)",
        "reason": "why it failed: the first failing test's reason",
        "first_failing_test": "index of the first failing test (grading stops there)",
        "test_results": "official per-test results: 1 pass, 0 wrong answer (functional), -1 global timeout, "
        "-2 wrong answer, -3 time limit, -4 runtime or compile error",
        "time_s": "longest test wall time",
        "memory_kb": "largest test peak memory",
        "difficulty": "the problem's difficulty",
        "platform": "the problem's platform",
        "contest_date": "the problem's date",
        "run_id": RUN_ID,
    },
)

BENCHMARK_SUMMARY = Table(
    name="benchmark_summary",
    id_column="summary_id",
    description="Scores per materialization, kept across runs (the score history): pass@1 overall and per "
    "difficulty, platform, date window and contamination side, with the problem count behind each.",
    schema=pl.Schema(
        {
            "summary_id": pl.String,
            "evaluation_id": pl.String,
            "model": pl.String,
            "n": pl.Int64,
            "group": pl.String,
            "name": pl.String,
            "pass_at_1": pl.Float64,
            "problems": pl.Int64,
            "evaluated_at": pl.Datetime("us", "UTC"),
            "run_id": pl.String,
        }
    ),
    columns={
        "summary_id": "row id (of the run, group and name)",
        "evaluation_id": "the settings scored (as in benchmark_scores)",
        "model": "the model scored",
        "n": "samples per problem",
        "group": "overall, difficulty, platform, window or contamination",
        "name": "the group's member: a difficulty, platform, window name, or before/after the cutoff",
        "pass_at_1": "mean over the group's problems of the share of samples that passed (avg@n); empty: no problems",
        "problems": "problems in the group",
        "evaluated_at": "when the run scored it (UTC)",
        "run_id": RUN_ID,
    },
)

# ---- training data: shards and mixtures (issue 11; files under training_shards/ and training_mixtures/) ----

TRAINING_SHARDS = Table(
    name="training_shards",
    id_column="example_id",
    description="One SFT example per verified solution: the LiveCodeBench prompt and the reasoning + code answer; "
    "duplicates, contaminated and unselected examples kept with their reason and excluded from every shard.",
    schema=pl.Schema(
        {
            "example_id": pl.String,
            "verified_id": pl.String,
            "problem_id": pl.String,
            "candidate_id": pl.String,
            "status": pl.String,
            "reason": pl.String,
            "duplicate_of": pl.String,
            "duplicate_score": pl.Float64,
            "contamination_method": pl.String,
            "contamination_score": pl.Float64,
            "benchmark_question_id": pl.String,
            "benchmark_source": pl.String,
            "is_golden": pl.Boolean,
            "rank": pl.Int64,
            "style": pl.String,
            "split": pl.String,
            "tokens": pl.Int64,
            "shards_version": pl.String,
            "system": pl.String,
            "prompt": pl.String,
            "response": pl.String,
            "run_id": pl.String,
        }
    ),
    columns={
        "example_id": "row id (sft-...), from the prompt and response, under its verified solution",
        "verified_id": "the verified_solutions row it is made from",
        "problem_id": "the problem",
        "candidate_id": "the candidate whose reasoning and code it holds",
        "status": "kept (in the shards), duplicate, contaminated or not_selected",
        "reason": "why it is not in the shards (exact_duplicate_problem, near_duplicate_solution, the benchmark match, "
        "keep=golden, max_per_problem, style_mix)",
        "duplicate_of": "the kept item it repeats: a problem id (a duplicate problem) or an example id (a duplicate "
        "solution of one problem)",
        "duplicate_score": "Jaccard similarity with it (1.0: an exact copy after normalization)",
        "contamination_method": "ngram or minhash, when the problem matches a benchmark problem",
        "contamination_score": "ngram: share of the benchmark problem's n-grams found; minhash: Jaccard similarity",
        "benchmark_question_id": "the benchmark question it matches",
        "benchmark_source": "the benchmark release or file of that question",
        "is_golden": "made from the problem's golden solution",
        "rank": "order within its problem: golden first, then by sample",
        "style": "codeforces, leetcode or atcoder",
        "split": "train or validation (by a hash of the problem id)",
        "tokens": "tokens of system + prompt + response (the manifest names the tokenizer or estimate)",
        "shards_version": "the shards folder it was planned for (training_shards/<version>/)",
        "system": "the system prompt (empty when include_system is off)",
        "prompt": "the user turn: the solve template as candidate_solutions rendered it",
        "response": "the assistant turn: <think> reasoning </think> and one python block",
        "run_id": "the Dagster run that wrote the row",
    },
)

TRAINING_RL = Table(
    name="training_shards__rl",
    id_column="example_id",
    description="One RL problem per problem with a kept SFT example: its prompt, verified tests with the voted "
    "outputs and the sandbox pass-rate reward.",
    schema=pl.Schema(
        {
            "example_id": pl.String,
            "problem_id": pl.String,
            "status": pl.String,
            "split": pl.String,
            "mode": pl.String,
            "func_name": pl.String,
            "tests": pl.Int64,
            "tokens": pl.Int64,
            "verified_ids": STR_LIST,
            "shards_version": pl.String,
            "run_id": pl.String,
        }
    ),
    columns={
        "example_id": "row id (rl-...), from the prompt and tests, under its problem",
        "problem_id": "the problem",
        "status": "kept (in the rl shards) or no_tests (no verified test with an output was found)",
        "split": "train or validation (the same as the problem's SFT examples)",
        "mode": "stdin or functional",
        "func_name": "the method functional tests call",
        "tests": "verified tests in the row (the reward samples up to max_tests of them)",
        "tokens": "tokens of the prompt",
        "verified_ids": "the problem's kept verified solutions (its SFT examples' sources)",
        "shards_version": "the shards folder",
        "run_id": "the Dagster run that wrote the row",
    },
)

TRAINING_MIXTURES = Table(
    name="training_mixtures",
    id_column="mixture_id",
    description="Nested training subsets for ablations (share of tasks x solutions per task), each a manifest of the "
    "chosen row ids over the shards folder (files referred to by relative path and sha256, never copied).",
    schema=pl.Schema(
        {
            "mixture_id": pl.String,
            "name": pl.String,
            "shards_version": pl.String,
            "task_share": pl.Float64,
            "solutions_per_task": pl.Int64,
            "train_tasks": pl.Int64,
            "train_examples": pl.Int64,
            "validation_examples": pl.Int64,
            "rl_problems": pl.Int64,
            "train_tokens": pl.Int64,
            "manifest_path": pl.String,
            "manifest_sha256": pl.String,
            "run_id": pl.String,
        }
    ),
    columns={
        "mixture_id": "row id (mix-...), from the shards version and the mixture",
        "name": "tasks<percent>-sols<k>: the folder name",
        "shards_version": "the training_shards folder it is a subset of",
        "task_share": "share of the training tasks (problems) it holds",
        "solutions_per_task": "at most this many examples per task",
        "train_tasks": "tasks in its train split",
        "train_examples": "SFT examples in its train split",
        "validation_examples": "SFT examples in its validation split (the same in every mixture)",
        "rl_problems": "RL problems (both splits)",
        "train_tokens": "tokens of its train SFT examples",
        "manifest_path": "its manifest.json",
        "manifest_sha256": "sha256 of the manifest file",
        "run_id": "the Dagster run that wrote the row",
    },
)

TRAINED_MODEL_SAMPLES = replace(
    BENCHMARK_SAMPLES,
    name="trained_model_scores",
    description="The trained checkpoint's LiveCodeBench samples, one row per (problem, sample), as benchmark_scores "
    "(its model column is the checkpoint's path).",
)

# Asset tables in pipeline order: the funnel and the lineage views follow it.
ASSET_TABLES: tuple[Table, ...] = (
    SEED_PROBLEMS,
    FEATURES,
    FEATURE_TREE,
    EVOLVED_POOL,
    FEATURE_CONFIGS,
    PROBLEMS,
    TEST_INPUTS,
    CANDIDATE_SOLUTIONS,
    VERIFIED_SOLUTIONS,
    TRAINING_SHARDS,
    LCB_PROBLEMS,
    BENCHMARK_SAMPLES,
    TRAINED_MODEL_SAMPLES,
)
# The synthesis half, seed to verified solutions, in order (what one offline run of the recipe makes).
SYNTHESIS_ASSETS: tuple[str, ...] = tuple(t.name for t in ASSET_TABLES[: ASSET_TABLES.index(VERIFIED_SOLUTIONS) + 1])
ALL_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        *ASSET_TABLES,
        SEED_REJECTS,
        TEST_GENERATORS,
        LLM_CALLS,
        TRAINING_RL,
        TRAINING_MIXTURES,
        LCB_PROBLEM_REJECTS,
        BENCHMARK_SUMMARY,
    )
}
