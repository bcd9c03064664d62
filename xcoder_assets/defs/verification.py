"""test_inputs, candidate_solutions and verified_solutions: from problems to verified training examples
(wiring; the logic is in recipe/test_inputs.py, recipe/candidates.py and recipe/verification.py).

Every generated program (test generators, validators, candidate solutions) runs only in the
sandbox; every finished run is cached by program and input, so an interrupted materialization
loses nothing and redoes nothing.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.automation import LLM_POOL, SANDBOX_POOL
from xcoder_assets.defs.partitions import batch_folder, batch_partitions
from xcoder_assets.defs.checks import row_findings, sampled_findings, share_check
from xcoder_assets.defs.resources import (
    OWNERS,
    DataFolder,
    LLMGatewayResource,
    SandboxResource,
    StorageResource,
    ask_with,
    in_stage,
    llm_metadata,
    publish,
    refused,
)
from xcoder_assets.recipe import candidates as candidate_recipe
from xcoder_assets.recipe import test_inputs as inputs_recipe
from xcoder_assets.recipe import verification
from xcoder_assets.recipe.composition import statement_of_row
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.store.parquet import read_parquet
from xcoder_assets.store.streaming import KeyedRows, LinesWriter, chunks, row_chunks
from xcoder_assets.present.render import frame_markdown, md_code, md_text, problem_markdown
from xcoder_assets.store.tables import (
    CANDIDATE_SOLUTIONS,
    PROBLEMS,
    TEST_GENERATORS,
    TEST_INPUTS,
    VERIFIED_SOLUTIONS,
    verified_problems_path,
)
from xcoder_assets.present.ui import bar_panels, column_chart, markdown_image, table_or_none

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


# Problems a per-problem stage works on at once: its memory is this chunk's (test inputs of a megabyte
# or two per problem, candidates' outputs), whatever the batch's size; big enough to keep the LLM's
# requests in flight and every sandbox worker busy.
CHUNK_PROBLEMS = 32


def kept_problems(folder: DataFolder) -> pl.DataFrame:
    """The batch's problems that were composed (status ok)."""
    return read_parquet(PROBLEMS.path(folder.root)).filter(pl.col("status") == "ok")


def kept_problem_count(folder: DataFolder) -> int:
    return (
        pl.scan_parquet(PROBLEMS.path(folder.root)).filter(pl.col("status") == "ok").select(pl.len()).collect().item()
    )


def kept_problem_chunks(folder: DataFolder, size: int) -> Iterator[list[dict[str, Any]]]:
    """The batch's composed problems, `size` at a time, in the table's order."""
    return row_chunks(PROBLEMS.path(folder.root), size, keep=lambda row: row["status"] == "ok")


# ---- test_inputs -------------------------------------------------------------------------------


_INPUTS = inputs_recipe.InputSettings()  # the recipe's settings type owns the defaults


class TestInputsConfig(dg.Config):
    small_cases: int = Field(default=_INPUTS.small_cases, description="Edge-case inputs per problem.")
    random_cases: int = Field(default=_INPUTS.random_cases, description="Typical random inputs per problem.")
    max_cases: int = Field(
        default=_INPUTS.max_cases, description="Inputs at the limits of the constraints per problem."
    )
    include_examples: bool = Field(
        default=_INPUTS.include_examples, description="Also test on the statement's example inputs."
    )
    max_input_bytes: int = Field(default=_INPUTS.max_input_bytes, description="Larger inputs are dropped as oversized.")
    min_valid_inputs: int = Field(
        default=_INPUTS.min_valid_inputs, description="A problem with fewer valid inputs is marked too_few_inputs."
    )
    seed: int = Field(
        default=_INPUTS.seed,
        description="Base seed: each problem's generator runs get a seed made from it and the problem id.",
    )
    max_dropped_share: float = Field(default=0.3, description="Warn when more generated inputs than this are dropped.")
    chunk_problems: int = Field(
        default=CHUNK_PROBLEMS, description="Problems worked on at once (memory grows with this, not with the batch)."
    )

    def settings(self) -> inputs_recipe.InputSettings:
        return inputs_recipe.InputSettings(
            self.small_cases,
            self.random_cases,
            self.max_cases,
            self.include_examples,
            self.max_input_bytes,
            self.min_valid_inputs,
            self.seed,
        )


@dg.asset(
    **in_stage("verification"),
    pool=SANDBOX_POOL,
    partitions_def=batch_partitions,
    deps=["problems"],
    kinds={"parquet", "llm", "sandbox"},
    owners=OWNERS,
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
    run_id, folder = context.run.run_id, batch_folder(context, storage)
    gateway = llm.gateway(storage, ("test_write",), run_id, "test_inputs")
    with (
        sandbox.session(storage, context.log.info) as session,
        folder.table_writer(TEST_INPUTS) as inputs_out,
        folder.table_writer(TEST_GENERATORS) as generators_out,
        folder.llm_calls_writer("test_inputs", run_id) as calls_out,
    ):

        def write(input_rows: list, generator_rows: list, results: list) -> None:
            inputs_out.write(input_rows), generators_out.write(generator_rows), calls_out.write(results)

        tally = inputs_recipe.make_test_inputs(
            lambda: kept_problem_chunks(folder, config.chunk_problems),
            kept_problem_count(folder),
            template,
            config.settings(),
            run_id,
            ask=ask_with(gateway, context.log.info),
            run=session.run,
            write=write,
            log=context.log.info,
            submit=gateway.submit_batches if gateway.batch_roles() else None,
        )
    metadata = {
        **folder.written(inputs_out),
        **llm_metadata(tally.llm, llm.role_models(("test_write",))),
        **_inputs_metadata(tally),
    }
    resources = {"llm": llm.settings_record(("test_write",)), "sandbox": sandbox.settings_record()}
    checks = _inputs_checks(tally, config)
    return publish(context, folder, "test_inputs", config, resources, metadata, checks, template=template.id)


def _inputs_metadata(tally: inputs_recipe.InputsTally) -> dict[str, Any]:
    counts = tally.valid_counts
    figures = tally.generator_runs + tally.validator_runs
    marked = pl.DataFrame(tally.marked.first, schema=["problem_id", "status", "reason"], orient="row")
    return {
        "problems": tally.problems,
        "problems_with_enough_inputs": tally.problem_status.get("ok", 0),
        "problem_status": dg.MetadataValue.json(dict(tally.problem_status)),
        "input_status": dg.MetadataValue.json(dict(tally.input_status)),
        "valid_inputs_per_problem": dg.MetadataValue.json(
            {
                "min": min(counts, default=0),
                "mean": round(sum(counts) / len(counts), 2) if counts else 0,
                "max": max(counts, default=0),
            }
        ),
        **figures.metadata(),
        **{k: v for k, v in tally.generator_runs.metadata("sandbox_generator_runs").items() if not k.endswith("_sum")},
        **{k: v for k, v in tally.validator_runs.metadata("sandbox_validator_runs").items() if not k.endswith("_sum")},
        "marked_problems": dg.MetadataValue.md(
            frame_markdown(marked, 20) if tally.marked.count else "_none: every problem has enough valid inputs_"
        ),
    }


def _inputs_checks(tally: inputs_recipe.InputsTally, config: TestInputsConfig) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name=TEST_INPUTS_PER_PROBLEM,
            passed=tally.marked.count <= tally.problems / 2,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "problems_marked": tally.marked.count,
                "problems": tally.problems,
                "min_valid_inputs": config.min_valid_inputs,
                **sampled_findings(
                    "problems_marked", tally.marked.count, [m[0] for m in tally.marked.first], counted=True
                ),
            },
        ),
        share_check(
            TEST_INPUTS_DROPPED,
            "dropped_share",
            tally.dropped_share,
            config.max_dropped_share,
            # the inputs the share counts: generated ones (not the statement's examples) not kept
            **sampled_findings("dropped_inputs", tally.dropped.count, tally.dropped.first),
        ),
    ]


# ---- candidate_solutions -----------------------------------------------------------------------


class CandidatesConfig(dg.Config):
    candidates_per_problem: int = Field(default=8, description="Samples per problem (the recipe uses 1 or 8).")
    min_usable_share: float = Field(default=0.5, description="Warn when fewer answers than this are usable.")
    chunk_problems: int = Field(default=CHUNK_PROBLEMS, description="Problems asked for at once.")


@dg.asset(
    **in_stage("verification"),
    pool=LLM_POOL,
    partitions_def=batch_partitions,
    deps=["problems"],
    kinds={"parquet", "llm"},
    owners=OWNERS,
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
        raise refused("candidate_solutions: candidates_per_problem must be at least 1")
    template = load_template(SOLVE_TEMPLATE)
    run_id, folder = context.run.run_id, batch_folder(context, storage)
    gateway = llm.gateway(storage, ("solve",), run_id, "candidate_solutions")
    with (
        folder.table_writer(CANDIDATE_SOLUTIONS) as candidates_out,
        folder.llm_calls_writer("candidate_solutions", run_id) as calls_out,
    ):
        tally = candidate_recipe.make_candidates(
            lambda: kept_problem_chunks(folder, config.chunk_problems),
            kept_problem_count(folder),
            template,
            config.candidates_per_problem,
            run_id,
            ask=ask_with(gateway, context.log.info),
            write=lambda rows, results: (candidates_out.write(rows), calls_out.write(results)),
            log=context.log.info,
            submit=gateway.submit_batches if gateway.batch_roles() else None,
        )
    metadata = {
        **folder.written(candidates_out),
        **llm_metadata(tally.llm, llm.role_models(("solve",))),
        "status_counts": dg.MetadataValue.json(dict(tally.status)),
        "usable_share": round(tally.usable_share, 4),
        "mean_reasoning_chars": tally.mean_reasoning_chars,
    }
    usable = share_check(
        CANDIDATES_USABLE,
        "usable_share",
        tally.usable_share,
        config.min_usable_share,
        at_most=False,
        **sampled_findings("unusable_candidates", tally.unusable.count, tally.unusable.first),
    )
    resources = {"llm": llm.settings_record(("solve",))}
    return publish(context, folder, "candidate_solutions", config, resources, metadata, [usable], template=template.id)


# ---- verified_solutions ------------------------------------------------------------------------


_VOTE = verification.VOTE_DEFAULTS  # the recipe's settings type owns the defaults (`xcoder vote` too)


class VerificationConfig(dg.Config):
    min_agreement: float = Field(
        default=_VOTE.min_agreement,
        description="Top votes over the runs that ended normally: below this, a test stays unverified.",
    )
    holdout_share: float = Field(
        default=_VOTE.holdout_share, description="Share of verified tests held out to confirm the golden solution."
    )
    min_verified_tests: int = Field(
        default=_VOTE.min_verified_tests, description="Problems with fewer verified tests are rejected."
    )
    max_tests_per_problem: int = Field(default=20, description="At most this many tests per problem (the recipe: 20).")
    keep: str = Field(
        default="all", description="'all': every candidate passing all verified tests; 'golden': only the golden one."
    )
    seed: int = Field(default=_VOTE.seed, description="Seed of the selection / held-out split.")
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
    chunk_problems: int = Field(default=CHUNK_PROBLEMS, description="Problems run and voted on at once.")

    def settings(self) -> verification.VoteSettings:
        return verification.VoteSettings(self.min_agreement, self.holdout_share, self.min_verified_tests, self.seed)


@dg.asset(
    **in_stage("verification"),
    pool=SANDBOX_POOL,
    partitions_def=batch_partitions,
    deps=["test_inputs", "candidate_solutions"],
    kinds={"parquet", "sandbox"},
    owners=OWNERS,
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
        raise refused(f"verified_solutions: keep must be 'all' or 'golden', got {config.keep!r}")
    folder = batch_folder(context, storage)
    inputs = VerificationInputs(folder, config.max_tests_per_problem)
    work, rejected = verification.plan(inputs.problem_ids, inputs.generator_status, inputs.with_candidates)
    lcb_path = verified_problems_path(folder.root)
    with (
        sandbox.session(storage, context.log.info) as session,
        folder.table_writer(VERIFIED_SOLUTIONS) as solutions_out,
        LinesWriter(lcb_path) as lcb_out,
    ):
        outcome = verification.verify_problems(
            chunks(work, config.chunk_problems),
            inputs.load,
            len(work),
            config.settings(),
            config.keep,
            folder.batch,
            context.run.run_id,
            run=lambda label, programs, tests, meter: session.run(
                label, programs, tests, meter, abandon_after_timeouts=config.abandon_after_timeouts
            ),
            write=lambda rows, lcb_rows: (solutions_out.write(rows), lcb_out.write(lcb_rows)),
            log=context.log.info,
            rejected=rejected,
        )
    gate = verification.VerificationGate.of(outcome.tally, config.min_verified_test_share)
    written = VerifiedSummary.read(solutions_out.path)
    metadata = {
        **folder.written(solutions_out),
        **_verification_metadata(written, inputs, outcome),
        **folder.path_metadata("lcb_problems", lcb_path),
    }
    checks = [*_verification_checks(written, config, outcome.tally), _gate_check(gate, _unverified_tests(written))]
    gate_record = {verification.GATE_RECORD: gate.as_record()}
    resources = {"sandbox": sandbox.settings_record()}
    return publish(context, folder, "verified_solutions", config, resources, metadata, checks, **gate_record)


class VerificationInputs:
    """What verified_solutions reads from its batch, a chunk of problems at a time: the problem ids, the
    generators' status and which problems have a usable candidate up front (small columns only), and
    each chunk's problems, tests and candidates from just the row groups that hold them."""

    def __init__(self, folder: DataFolder, max_tests: int):
        ok = pl.col("status") == "ok"
        self.problem_ids = pl.scan_parquet(PROBLEMS.path(folder.root)).filter(ok).select("problem_id").collect()
        self.problem_ids = self.problem_ids["problem_id"].to_list()
        generators = read_parquet(TEST_GENERATORS.path(folder.root), ["problem_id", "status"])
        self.generator_status = dict(zip(generators["problem_id"], generators["status"]))
        candidates = read_parquet(CANDIDATE_SOLUTIONS.path(folder.root), ["problem_id", "status"]).filter(ok)
        self.with_candidates = set(candidates["problem_id"])
        self.usable_candidates = candidates.height
        self.max_tests = max_tests
        self._problems = KeyedRows(PROBLEMS.path(folder.root), "problem_id")
        self._tests = KeyedRows(TEST_INPUTS.path(folder.root), "problem_id")
        self._candidates = KeyedRows(CANDIDATE_SOLUTIONS.path(folder.root), "problem_id")

    def load(self, ids: Sequence[str]) -> list[verification.ProblemToVerify]:
        problems = {r["problem_id"]: r for r in self._problems.rows(ids).iter_rows(named=True)}
        tests = self._tests.groups(ids)
        candidates = self._candidates.groups(ids)
        return [
            verification.ProblemToVerify(
                problems[pid],
                tests[pid].filter(pl.col("status") == "valid").head(self.max_tests).to_dicts(),
                candidates[pid].filter(pl.col("status") == "ok").to_dicts(),
            )
            for pid in ids
        ]


@dataclass(frozen=True)
class VerifiedSummary:
    """verified_solutions' rows without their code, read back from the written file for the metadata
    and checks (a few small columns per row)."""

    frame: pl.DataFrame

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "verified_id",
        "problem_id",
        "candidate_id",
        "status",
        "is_golden",
        "tests_verified",
        "votes_json",
        "candidates_run",
        "candidates_passing",
    )

    @classmethod
    def read(cls, path: Path) -> "VerifiedSummary":
        return cls(read_parquet(path, list(cls.COLUMNS)))


def _verification_metadata(
    written: VerifiedSummary, inputs: VerificationInputs, outcome: verification.VerifyOutcome
) -> dict[str, Any]:
    frame, tally = written.frame, outcome.tally
    verified = frame.filter(pl.col("status") == "verified")
    problem_funnel = [
        ("problems", len(inputs.problem_ids)),
        ("with tests", sum(status == "ok" for status in inputs.generator_status.values())),
        ("with a golden solution", verified["problem_id"].n_unique()),
    ]
    solution_funnel = [("usable candidates", inputs.usable_candidates), ("verified solutions", verified.height)]
    sample_md = "_no verified problem_"
    if outcome.sample:
        golden, problem = outcome.sample
        sample_md = (
            problem_markdown(statement_of_row(problem, with_starter=False))
            + f"\n\n## Golden solution ({md_text(golden['candidate_id'], one_line=True)}, "
            f"{golden['tests_verified']} verified tests)\n\n{md_code(golden['code'], 'python')}"
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
        **outcome.figures.metadata(),
        "sample_verified_problem": dg.MetadataValue.md(sample_md),
    }


def _per_problem(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per problem (the vote's figures are the same on every row of a problem)."""
    return frame.unique("problem_id", keep="first", maintain_order=True)


def _unverified_tests(written: VerifiedSummary) -> list[str]:
    """The test_inputs rows the vote left unverified, problem by problem."""
    return [
        vote.test_id
        for votes in _per_problem(written.frame)["votes_json"]
        for vote in verification.read_votes(votes)
        if not vote.verified
    ]


def _verification_checks(
    written: VerifiedSummary, config: VerificationConfig, tally: verification.VerificationTally
) -> list[dg.AssetCheckResult]:
    frame = written.frame
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
            **row_findings("unverified_tests", _unverified_tests(written), counted=True),
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
