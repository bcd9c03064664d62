"""test_inputs, candidate_solutions and verified_solutions: from problems to verified training examples
(wiring; the logic is in recipe/test_inputs.py, recipe/candidates.py and recipe/verification.py).

Every generated program (test generators, validators, candidate solutions) runs only in the
sandbox; every finished run is cached by program and input, so an interrupted materialization
loses nothing and redoes nothing.
"""

import json
from collections import Counter
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.operations import LLM_POOL, SANDBOX_POOL
from xcoder_assets.defs.partitions import batch_folder, batch_partitions
from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import (
    OWNERS,
    DataFolder,
    LLMGatewayResource,
    SandboxResource,
    StorageResource,
    asset_tags,
    complete,
    llm_metadata,
)
from xcoder_assets.llm.gateway import LLMRequest
from xcoder_assets.recipe import candidates as candidate_recipe
from xcoder_assets.recipe import test_inputs as inputs_recipe
from xcoder_assets.recipe import verification
from xcoder_assets.recipe.composition import problem_question, statement_of_row
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.sandbox.runs import Program
from xcoder_assets.store.figures import SandboxFigures
from xcoder_assets.store.parquet import read_parquet, write_text
from xcoder_assets.store.render import frame_markdown, md_code, md_text, problem_markdown
from xcoder_assets.store.tables import (
    CANDIDATE_SOLUTIONS,
    PROBLEMS,
    TEST_GENERATORS,
    TEST_INPUTS,
    VERIFIED_SOLUTIONS,
    verified_problems_path,
)
from xcoder_assets.store.ui import bar_panels, column_chart, markdown_image, table_or_none

TESTS_TEMPLATE = "write_tests"
SOLVE_TEMPLATE = "solve"

TEST_INPUTS_PER_PROBLEM = "inputs_per_problem"
TEST_INPUTS_DROPPED = "dropped_share"
CANDIDATES_USABLE = "usable_share"
VERIFIED_TESTS_PER_PROBLEM = "tests_per_problem"
VERIFIED_UNVERIFIED_SHARE = "unverified_share"
VERIFIED_EASY_SHARE = "easy_share"
# Blocking (ERROR severity): a batch whose vote verified too few of its tests (a broken test writer or
# solver) stops training_shards in the same run, and training_shards never reads it later
# (recipe.verification.GATE_RECORD).
VERIFIED_TEST_SHARE = "verified_test_share"


def kept_problems(files: DataFolder) -> pl.DataFrame:
    """The batch's problems that were composed (status ok)."""
    return read_parquet(PROBLEMS.path(files.root)).filter(pl.col("status") == "ok")


# ---- test_inputs -------------------------------------------------------------------------------


class TestInputsConfig(dg.Config):
    small_cases: int = Field(default=3, description="Edge-case inputs per problem.")
    random_cases: int = Field(default=6, description="Typical random inputs per problem.")
    max_cases: int = Field(default=2, description="Inputs at the limits of the constraints per problem.")
    include_examples: bool = Field(default=True, description="Also test on the statement's example inputs.")
    max_input_bytes: int = Field(default=4 << 20, description="Larger inputs are dropped as oversized.")
    min_valid_inputs: int = Field(default=5, description="A problem with fewer valid inputs is marked too_few_inputs.")
    seed: int = Field(default=42, description="Seed given to every generator run.")
    max_dropped_share: float = Field(default=0.3, description="Warn when more generated inputs than this are dropped.")


@dg.asset(
    pool=SANDBOX_POOL,
    group_name="verification",
    partitions_def=batch_partitions,
    deps=["problems"],
    kinds={"parquet", "llm", "sandbox"},
    owners=OWNERS,
    tags=asset_tags("verification"),
    description=TEST_INPUTS.description
    + " Role: test_write. Also writes test_inputs__generators (one row per problem).",
    check_specs=[
        dg.AssetCheckSpec(
            TEST_INPUTS_PER_PROBLEM,
            asset="test_inputs",
            description="Problems with fewer than min_valid_inputs valid inputs are marked; warns when "
            "more than half are.",
        ),
        dg.AssetCheckSpec(
            TEST_INPUTS_DROPPED,
            asset="test_inputs",
            description="Share of generated inputs dropped (invalid, duplicate, oversized, failed).",
        ),
    ],
)
def test_inputs(
    context: dg.AssetExecutionContext,
    config: TestInputsConfig,
    storage: StorageResource,
    llm: LLMGatewayResource,
    sandbox: SandboxResource,
) -> dg.MaterializeResult:
    template = load_template(TESTS_TEMPLATE)
    run_id = context.run.run_id
    files = batch_folder(context, storage)
    gateway = llm.gateway(storage, ("test_write",), run_id, "test_inputs")
    rows = list(kept_problems(files).iter_rows(named=True))
    results = complete(
        gateway,
        [
            LLMRequest.of(
                "test_write",
                template.render(**inputs_recipe.prompt_values(row, problem_question(row))),
                template.id,
                row["problem_id"],
            )
            for row in rows
        ],
        context.log.info,
        "test_inputs: LLM calls",
    )
    jobs = inputs_recipe.generator_jobs(config.small_cases, config.random_cases, config.max_cases, config.seed)
    programs: dict[str, verification.TestPrograms] = {}
    generator_rows = []
    for row, result in zip(rows, results):
        failure = Failure(*result.failure()) if result.failure() else None
        if failure is None:
            extracted = verification.extract_test_programs(result.content)
            if extracted.generator:
                programs[row["problem_id"]] = extracted
            else:
                failure = Failure("parse_error", extracted.reason)
        if failure is not None:
            generator_rows.append(
                inputs_recipe.failed_generator_row(row["problem_id"], failure, result.call_id, run_id)
            )
    ready = [(row, result) for row, result in zip(rows, results) if row["problem_id"] in programs]
    with sandbox.session(storage, context.log.info) as session:
        generated, gen_figures = session.run(
            "test_inputs: generator runs",
            [Program(programs[r["problem_id"]].generator) for r, _ in ready],
            [[job.stdin for job in jobs]] * len(ready),
        )
        cases = [
            inputs_recipe.cases_of(json.loads(row["examples_json"]), jobs, runs, config.include_examples)
            for (row, _), runs in zip(ready, generated)
        ]
        validated, val_figures = session.run(
            "test_inputs: validator runs",
            [Program(programs[r["problem_id"]].validator) for r, _ in ready],
            [inputs_recipe.to_validate(c) for c in cases],
        )

    input_rows = []
    for (row, result), problem_cases, verdicts in zip(ready, cases, validated):
        problem_id = row["problem_id"]
        made, generator_row = inputs_recipe.classify(
            problem_id,
            problem_cases,
            verdicts,
            max_input_bytes=config.max_input_bytes,
            min_valid=config.min_valid_inputs,
            call_id=result.call_id,
            generator=programs[problem_id].generator,
            validator=programs[problem_id].validator,
            run_id=run_id,
        )
        input_rows += made
        generator_rows.append(generator_row)
    frame = pl.DataFrame(input_rows, schema=TEST_INPUTS.schema)
    generators_frame = pl.DataFrame(generator_rows, schema=TEST_GENERATORS.schema)
    files.write_llm_calls("test_inputs", results, run_id)
    files.write_table(TEST_GENERATORS, generators_frame)
    metadata = files.write_table(TEST_INPUTS, frame)
    files.record_settings(
        "test_inputs",
        config,
        {"llm": llm.settings_record(("test_write",)), "sandbox": sandbox.settings_record()},
        template=template.id,
    )
    files.refresh_warehouse(context.log)
    per_problem = generators_frame.filter(pl.col("status").is_in(["ok", "too_few_inputs"]))["valid_inputs"]
    marked = generators_frame.filter(pl.col("status") != "ok")
    figures = gen_figures + val_figures
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **llm_metadata(results, llm.role_models(("test_write",))),
            "problems": len(rows),
            "problems_with_enough_inputs": generators_frame.filter(pl.col("status") == "ok").height,
            "problem_status": dg.MetadataValue.json(dict(Counter(generators_frame["status"]))),
            "input_status": dg.MetadataValue.json(dict(Counter(frame["status"]))),
            "valid_inputs_per_problem": dg.MetadataValue.json(
                {
                    "min": int(per_problem.min() or 0),
                    "mean": round(per_problem.mean() or 0, 2),
                    "max": int(per_problem.max() or 0),
                }
            ),
            **figures.metadata(),
            **{k: v for k, v in gen_figures.metadata("sandbox_generator_runs").items() if not k.endswith("_sum")},
            **{k: v for k, v in val_figures.metadata("sandbox_validator_runs").items() if not k.endswith("_sum")},
            "marked_problems": dg.MetadataValue.md(
                frame_markdown(marked.select("problem_id", "status", "reason"), 20)
                if marked.height
                else "_none: every problem has enough valid inputs_"
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=TEST_INPUTS_PER_PROBLEM,
                passed=marked.height <= len(rows) / 2,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "problems_marked": marked.height,
                    "problems": len(rows),
                    "min_valid_inputs": config.min_valid_inputs,
                    **row_findings("problems_marked", marked["problem_id"], counted=True),
                },
            ),
            share_check(
                TEST_INPUTS_DROPPED,
                "dropped_share",
                inputs_recipe.dropped_share(input_rows),
                config.max_dropped_share,
                # the inputs the share counts: generated ones (not the statement's examples) not kept
                **row_findings(
                    "dropped_inputs",
                    [r["test_id"] for r in input_rows if r["kind"] != "example" and r["status"] != "valid"],
                ),
            ),
        ],
    )


# ---- candidate_solutions -----------------------------------------------------------------------


class CandidatesConfig(dg.Config):
    candidates_per_problem: int = Field(default=8, description="Samples per problem (the recipe uses 1 or 8).")
    min_usable_share: float = Field(default=0.5, description="Warn when fewer answers than this are usable.")


@dg.asset(
    pool=LLM_POOL,
    group_name="verification",
    partitions_def=batch_partitions,
    deps=["problems"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
    tags=asset_tags("verification"),
    description=CANDIDATE_SOLUTIONS.description + " Role: solve (temperature 0.6, top_p 0.95, 32k tokens).",
    check_specs=[
        dg.AssetCheckSpec(
            CANDIDATES_USABLE,
            asset="candidate_solutions",
            description="Share of answers with exactly one Python block that parses.",
        )
    ],
)
def candidate_solutions(
    context: dg.AssetExecutionContext, config: CandidatesConfig, storage: StorageResource, llm: LLMGatewayResource
) -> dg.MaterializeResult:
    if config.candidates_per_problem < 1:
        raise dg.Failure(
            description="candidate_solutions: candidates_per_problem must be at least 1", allow_retries=False
        )
    template = load_template(SOLVE_TEMPLATE)
    run_id = context.run.run_id
    files = batch_folder(context, storage)
    gateway = llm.gateway(storage, ("solve",), run_id, "candidate_solutions")
    requests, keys = [], []
    for row in kept_problems(files).iter_rows(named=True):
        messages = template.render(**candidate_recipe.prompt_values(row, problem_question(row)))
        for sample in range(config.candidates_per_problem):
            requests.append(LLMRequest.of("solve", messages, template.id, row["problem_id"], seed=sample))
            keys.append((row["problem_id"], sample))
    results = complete(gateway, requests, context.log.info, "candidate_solutions: LLM calls")
    frame = pl.DataFrame(
        [
            candidate_recipe.candidate_row(problem_id, sample, result, run_id)
            for (problem_id, sample), result in zip(keys, results)
        ],
        schema=CANDIDATE_SOLUTIONS.schema,
    )
    files.write_llm_calls("candidate_solutions", results, run_id)
    metadata = files.write_table(CANDIDATE_SOLUTIONS, frame)
    files.record_settings("candidate_solutions", config, {"llm": llm.settings_record(("solve",))}, template=template.id)
    files.refresh_warehouse(context.log)
    usable = frame.filter(pl.col("status") == "ok").height / frame.height if frame.height else 0.0
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **llm_metadata(results, llm.role_models(("solve",))),
            "status_counts": dg.MetadataValue.json(dict(Counter(frame["status"]))),
            "usable_share": round(usable, 4),
            "mean_reasoning_chars": round(frame["reasoning"].str.len_chars().mean() or 0, 1),
        },
        check_results=[
            share_check(
                CANDIDATES_USABLE,
                "usable_share",
                usable,
                config.min_usable_share,
                at_most=False,
                **row_findings("unusable_candidates", frame.filter(pl.col("status") != "ok")["candidate_id"]),
            )
        ],
    )


# ---- verified_solutions ------------------------------------------------------------------------


class VerificationConfig(dg.Config):
    min_agreement: float = Field(
        default=0.5, description="Top votes over the runs that ended normally: below this, a test stays unverified."
    )
    holdout_share: float = Field(
        default=0.3, description="Share of verified tests held out to confirm the golden solution."
    )
    min_verified_tests: int = Field(default=3, description="Problems with fewer verified tests are rejected.")
    max_tests_per_problem: int = Field(default=20, description="At most this many tests per problem (the recipe: 20).")
    keep: str = Field(
        default="all", description="'all': every candidate passing all verified tests; 'golden': only the golden one."
    )
    seed: int = Field(default=42, description="Seed of the selection / held-out split.")
    max_unverified_share: float = Field(default=0.3, description="Warn when more tests than this stay unverified.")
    min_verified_test_share: float = Field(
        default=0.5,
        description="Block (an ERROR check) when the vote verified fewer of the batch's tests than this: "
        "training_shards then leaves the batch out.",
    )
    max_easy_share: float = Field(
        default=0.6, description="Warn when more problems than this are solved by every candidate."
    )
    min_median_verified_tests: int = Field(
        default=5, description="Warn when the median verified problem has fewer verified tests than this."
    )
    abandon_after_timeouts: int = Field(
        default=1,
        description="Stop running a candidate after this many time limits "
        "(its remaining tests are skipped: counted as failed runs).",
    )


@dg.asset(
    pool=SANDBOX_POOL,
    group_name="verification",
    partitions_def=batch_partitions,
    deps=["test_inputs", "candidate_solutions"],
    kinds={"parquet", "sandbox"},
    owners=OWNERS,
    tags=asset_tags("verification"),
    description=VERIFIED_SOLUTIONS.description + " Also writes lcb/verified_problems.jsonl (LiveCodeBench format).",
    check_specs=[
        dg.AssetCheckSpec(
            VERIFIED_TESTS_PER_PROBLEM,
            asset="verified_solutions",
            description="The median verified problem has at least min_median_verified_tests verified "
            "tests (few tests let wrong solutions through).",
        ),
        dg.AssetCheckSpec(
            VERIFIED_UNVERIFIED_SHARE,
            asset="verified_solutions",
            description="Share of tests the vote left unverified (ties, low agreement).",
        ),
        dg.AssetCheckSpec(
            VERIFIED_EASY_SHARE,
            asset="verified_solutions",
            description="Share of problems every usable candidate solves (easy ones).",
        ),
        dg.AssetCheckSpec(
            VERIFIED_TEST_SHARE,
            asset="verified_solutions",
            blocking=True,
            description="Blocking: the vote verified at least min_verified_test_share of the batch's tests; "
            "a batch below it stops training_shards and is left out of every later training_shards.",
        ),
    ],
)
def verified_solutions(
    context: dg.AssetExecutionContext, config: VerificationConfig, storage: StorageResource, sandbox: SandboxResource
) -> dg.MaterializeResult:
    if config.keep not in ("all", "golden"):
        raise dg.Failure(
            description=f"verified_solutions: keep must be 'all' or 'golden', got {config.keep!r}", allow_retries=False
        )
    files = batch_folder(context, storage)
    problems = {r["problem_id"]: r for r in kept_problems(files).iter_rows(named=True)}
    generators = read_parquet(TEST_GENERATORS.path(files.root))
    tests = read_parquet(TEST_INPUTS.path(files.root)).filter(pl.col("status") == "valid")
    candidates = read_parquet(CANDIDATE_SOLUTIONS.path(files.root)).filter(pl.col("status") == "ok")
    run_id = context.run.run_id
    tests_of = {
        pid: group.head(config.max_tests_per_problem).to_dicts()
        for (pid,), group in tests.group_by("problem_id", maintain_order=True)
    }
    cands_of = {pid: group.to_dicts() for (pid,), group in candidates.group_by("problem_id", maintain_order=True)}
    work, rejected = verification.plan(
        list(problems), dict(zip(generators["problem_id"], generators["status"])), set(cands_of)
    )
    programs, inputs, owners = [], [], []
    for problem_id in work:
        for cand in cands_of[problem_id]:
            programs.append(Program(cand["code"], problems[problem_id]["function_name"]))
            inputs.append([t["input"] for t in tests_of[problem_id]])
            owners.append((problem_id, cand["candidate_id"]))
    with sandbox.session(storage, context.log.info) as session:
        outcomes, figures = session.run(
            "verified_solutions: sandbox runs", programs, inputs, abandon_after_timeouts=config.abandon_after_timeouts
        )
    runs_of = dict(zip(owners, outcomes))

    settings = verification.VoteSettings(
        config.min_agreement, config.holdout_share, config.min_verified_tests, config.seed
    )
    tally = verification.VerificationTally()
    out_rows, lcb_rows = [], []
    for problem_id in work:
        problem, cands = problems[problem_id], cands_of[problem_id]
        test_ids = [t["test_id"] for t in tests_of[problem_id]]
        runs = [runs_of[(problem_id, c["candidate_id"])] for c in cands]
        result = verification.vote_on_runs(test_ids, runs, bool(problem["function_name"]), settings)
        tally.add(result)
        out_rows += verification.solution_rows(problem_id, test_ids, cands, runs, result, config.keep, run_id)
        if result.status == "verified":
            lcb_rows.append(
                verification.lcb_row(
                    problem, problem_question(problem), tests_of[problem_id], result, runs[result.golden], files.batch
                )
            )
    for problem_id, (kind, reason) in rejected.items():
        tally.rejections[kind] += 1
        out_rows.append(verification.rejected_row(problem_id, reason, run_id))
    frame = pl.DataFrame(out_rows, schema=VERIFIED_SOLUTIONS.schema)
    lcb_path = verified_problems_path(files.root)
    write_text("".join(json.dumps(r) + "\n" for r in lcb_rows), lcb_path)
    metadata = files.write_table(VERIFIED_SOLUTIONS, frame)
    gate = verification.VerificationGate.of(tally, config.min_verified_test_share)
    files.record_settings(
        "verified_solutions",
        config,
        {"sandbox": sandbox.settings_record()},
        **{verification.GATE_RECORD: gate.as_record()},
    )
    files.refresh_warehouse(context.log)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **_verification_metadata(frame, problems, generators, candidates, tally, figures),
            **files.path_metadata("lcb_problems", lcb_path),
        },
        check_results=[*_verification_checks(frame, config, tally), _gate_check(gate, _unverified_tests(frame))],
    )


def _verification_metadata(
    frame: pl.DataFrame,
    problems: dict[str, Any],
    generators: pl.DataFrame,
    candidates: pl.DataFrame,
    tally: verification.VerificationTally,
    figures: SandboxFigures,
) -> dict[str, Any]:
    verified = frame.filter(pl.col("status") == "verified")
    problem_funnel = [
        ("problems", len(problems)),
        ("with tests", generators.filter(pl.col("status") == "ok").height),
        ("with a golden solution", verified["problem_id"].n_unique()),
    ]
    solution_funnel = [("usable candidates", candidates.height), ("verified solutions", verified.height)]
    sample = verified.filter(pl.col("is_golden")).head(1).to_dicts()
    sample_md = "_no verified problem_"
    if sample:
        problem = problems[sample[0]["problem_id"]]
        sample_md = (
            problem_markdown(statement_of_row(problem, with_starter=False))
            + f"\n\n## Golden solution ({md_text(sample[0]['candidate_id'], one_line=True)}, "
            f"{sample[0]['tests_verified']} verified tests)\n\n{md_code(sample[0]['code'], 'python')}"
        )
    agreement_bins = verification.histogram(tally.agreements, [0, 0.25, 0.5, 0.75, 1.0])
    pass_bins = verification.histogram(tally.pass_rates, [0, 0.25, 0.5, 0.75, 1.0])
    return {
        "funnel": dg.MetadataValue.md(table_or_none(problem_funnel + solution_funnel, ["stage", "count"])),
        "funnel_chart": dg.MetadataValue.md(
            markdown_image(
                bar_panels("verification funnel", [("problems", problem_funnel), ("solutions", solution_funnel)]),
                "verification funnel: problems and solutions, each on its own scale",
            )
        ),
        "problems_verified": problem_funnel[2][1],
        "rejection_reasons": dg.MetadataValue.md(
            table_or_none(tally.rejections.most_common(), ["reason", "problems"], "none: no problem was rejected")
        ),
        "agreement_distribution": dg.MetadataValue.md(
            markdown_image(
                column_chart("agreement per test", agreement_bins, "top votes / runs that ended normally", "tests"),
                "agreement per test",
            )
            + "\n\n"
            + table_or_none(agreement_bins, ["agreement", "tests"], "no test voted on")
        ),
        "candidate_pass_rate_distribution": dg.MetadataValue.md(
            markdown_image(
                column_chart(
                    "candidates passing per problem",
                    pass_bins,
                    "share of candidates passing every verified test",
                    "problems",
                ),
                "candidates passing per problem",
            )
            + "\n\n"
            + table_or_none(pass_bins, ["share of candidates passing", "problems"], "no problem voted on")
        ),
        "easy_problems": tally.easy,
        **figures.metadata(),
        "sample_verified_problem": dg.MetadataValue.md(sample_md),
    }


def _per_problem(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per problem (the vote's figures are the same on every row of a problem)."""
    return frame.unique("problem_id", keep="first", maintain_order=True)


def _unverified_tests(frame: pl.DataFrame) -> list[str]:
    """The test_inputs rows the vote left unverified, problem by problem."""
    return [
        test_id
        for votes in _per_problem(frame)["votes_json"]
        for test_id, vote in json.loads(votes or "{}").items()
        if not vote.get("verified")
    ]


def _verification_checks(
    frame: pl.DataFrame, config: VerificationConfig, tally: verification.VerificationTally
) -> list[dg.AssetCheckResult]:
    golden_rows = frame.filter(pl.col("is_golden"))
    golden = golden_rows["tests_verified"]
    median = float(golden.median()) if golden.len() else 0.0
    problems = _per_problem(frame)
    easy = problems.filter((pl.col("candidates_run") > 0) & (pl.col("candidates_passing") == pl.col("candidates_run")))
    return [
        dg.AssetCheckResult(
            check_name=VERIFIED_TESTS_PER_PROBLEM,
            passed=median >= config.min_median_verified_tests,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "median_verified_tests": median,
                "verified_problems": golden.len(),
                "min_median_verified_tests": config.min_median_verified_tests,
                "fewest_verified_tests": int(golden.min() or 0),
                # the golden solutions behind a low median: those with fewer tests than it should reach
                **row_findings(
                    "solutions_with_few_tests",
                    golden_rows.filter(pl.col("tests_verified") < config.min_median_verified_tests)["verified_id"],
                ),
            },
        ),
        share_check(
            VERIFIED_UNVERIFIED_SHARE,
            "unverified_share",
            tally.unverified_share,
            config.max_unverified_share,
            unverified_tests=tally.unverified,
            tests=tally.tests,
            **row_findings("unverified_tests", _unverified_tests(frame), counted=True),
        ),
        share_check(
            VERIFIED_EASY_SHARE,
            "easy_share",
            tally.easy_share,
            config.max_easy_share,
            easy_problems=tally.easy,
            voted_problems=len(tally.pass_rates),
            **row_findings("easy_problems", easy["problem_id"], counted=True),
        ),
    ]


def _gate_check(gate: verification.VerificationGate, unverified: list[str]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=VERIFIED_TEST_SHARE,
        passed=gate.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "verified_test_share": gate.verified_test_share,
            "threshold": gate.threshold,
            "rule": f"verified_test_share >= {gate.threshold} (blocks training_shards)",
            "tests": gate.tests,
            **row_findings("unverified_tests", unverified),
        },
    )
