"""test_inputs, candidate_solutions and verified_solutions: from problems to verified training examples.

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

from xcoder_assets.defs.checks import schema_check, share_check
from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource, llm_metadata
from xcoder_assets.defs.synthesis import record_settings
from xcoder_assets.llm.gateway import LLMRequest
from xcoder_assets.recipe import composition, verification
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.sandbox.outcome import RunOutcome
from xcoder_assets.sandbox.runs import Program, run_matrix
from xcoder_assets.store.ids import content_hash, make_id
from xcoder_assets.store.parquet import read_parquet, write_text
from xcoder_assets.store.render import frame_markdown, markdown_table
from xcoder_assets.store.tables import CANDIDATE_SOLUTIONS, PROBLEMS, TEST_GENERATORS, TEST_INPUTS, VERIFIED_SOLUTIONS

TESTS_TEMPLATE = "write_tests"
SOLVE_TEMPLATE = "solve"
LCB_STDIN_FORMAT = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
                    "on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
                    "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.")
LCB_STARTER_FORMAT = ("You will use the following starter code to write the solution to the problem and enclose your "
                      "code within delimiters.")

TEST_INPUTS_PER_PROBLEM = "test_inputs_per_problem"
TEST_INPUTS_DROPPED = "test_inputs_dropped_share"
CANDIDATES_USABLE = "candidate_solutions_usable_share"
VERIFIED_TESTS_PER_PROBLEM = "verified_solutions_tests_per_problem"
VERIFIED_UNVERIFIED_SHARE = "verified_solutions_unverified_test_share"
VERIFIED_EASY_SHARE = "verified_solutions_easy_problem_share"
VERIFIED_REJECTIONS = "verified_solutions_rejection_reasons"


def kept_problems(storage: StorageResource) -> pl.DataFrame:
    return read_parquet(PROBLEMS.path(storage.root)).filter(pl.col("status") == "ok")


def problem_question(row: dict[str, Any]) -> str:
    """The problem as a contestant reads it, without the starter code (that goes in the format section)."""
    statement = composition.Statement(row["title"], row["statement"], row["input_format"] or "",
                                      row["output_format"] or "", row["constraints"] or "",
                                      json.loads(row["examples_json"]))
    return composition.render_problem_markdown(row["style"], statement)


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
    group_name="verification",
    deps=["problems"],
    kinds={"parquet", "llm", "sandbox"},
    description=TEST_INPUTS.description + " Role: test_write. Also writes test_inputs__generators (one row per problem).",
    check_specs=[
        dg.AssetCheckSpec(TEST_INPUTS_PER_PROBLEM, asset="test_inputs",
                          description="Problems with fewer than min_valid_inputs valid inputs are marked; warns when "
                                      "more than half are."),
        dg.AssetCheckSpec(TEST_INPUTS_DROPPED, asset="test_inputs",
                          description="Share of generated inputs dropped (invalid, duplicate, oversized, failed)."),
    ],
)
def test_inputs(context: dg.AssetExecutionContext, config: TestInputsConfig, storage: StorageResource,
                llm: LLMGatewayResource, sandbox: SandboxResource) -> dg.MaterializeResult:
    problems = kept_problems(storage)
    template = load_template(TESTS_TEMPLATE)
    run_id = context.run.run_id
    gateway = llm.gateway(storage, ("test_write",), run_id, "test_inputs")
    rows = list(problems.iter_rows(named=True))
    results = gateway.complete([
        LLMRequest.of("test_write", template.render(
            question=problem_question(row), constraints=row["constraints"] or "(see the statement)",
            input_instruction=("Print the function's arguments, one JSON value per line, in the order of the signature "
                               f"`{row['signature']}`." if row["style"] == "leetcode"
                               else "Print the input exactly in the format the statement gives.")),
            template.id, row["problem_id"])
        for row in rows
    ])
    jobs_of = [("small", config.small_cases), ("random", config.random_cases), ("max", config.max_cases)]
    jobs = [json.dumps({"seed": config.seed, "kind": kind, "index": i}) for kind, count in jobs_of for i in range(count)]
    parsed, generators = {}, []
    for row, result in zip(rows, results):
        if failure := result.failure():
            parsed[row["problem_id"]] = failure
        else:
            programs = verification.extract_test_programs(result.content)
            parsed[row["problem_id"]] = programs if programs.generator else ("parse_error", programs.reason)
            if programs.generator:
                generators.append(row)
    limits = sandbox.limits()
    backend = sandbox.open()
    cache = sandbox.run_cache(storage)
    try:
        generated, gen_stats = run_matrix(backend, [Program(parsed[r["problem_id"]].generator) for r in generators],
                                          [jobs] * len(generators), limits, cache, workers=sandbox.workers)
        candidates_per_problem = []
        for row, raws in zip(generators, generated):
            cases = []
            if config.include_examples:
                cases += [("example", i, ex["input"], None) for i, ex in enumerate(json.loads(row["examples_json"]))]
            for job, run in zip(jobs, raws):
                spec = json.loads(job)
                if not run.ended_normally:
                    cases.append((spec["kind"], spec["index"], None, "generator_error: " + run.describe()))
                else:
                    cases.append((spec["kind"], spec["index"], run.stdout, None))
            candidates_per_problem.append(cases)
        to_validate = [[text for _, _, text, err in cases if err is None] for cases in candidates_per_problem]
        validated, val_stats = run_matrix(backend, [Program(parsed[r["problem_id"]].validator) for r in generators],
                                          to_validate, limits, cache, workers=sandbox.workers)
    finally:
        backend.close()
        cache.close()

    input_rows, generator_rows = [], []
    for row, cases, verdicts in zip(generators, candidates_per_problem, validated):
        problem_id, seen, verdict_iter = row["problem_id"], set(), iter(verdicts)
        call_id = results[rows.index(row)].call_id
        dropped: Counter = Counter()
        valid = 0
        for kind, index, text, error in cases:
            status, reason = "valid", None
            if error is not None:
                status, reason = "generator_error", error
            else:
                run = next(verdict_iter)
                size = len(text.encode())
                if not run.ended_normally:
                    status, reason = "invalid", (run.stdout or run.stderr or run.describe()).strip()[:300]
                elif size > config.max_input_bytes:
                    status, reason = "oversized", f"{size} bytes > {config.max_input_bytes}"
                elif content_hash(text) in seen:
                    status, reason = "duplicate", "the same input as an earlier case"
                seen.add(content_hash(text))
            if status == "valid":
                valid += 1
            else:
                dropped[status] += 1
            input_rows.append({"test_id": make_id("test", {"input": text, "kind": kind, "index": index}, [problem_id]),
                               "problem_id": problem_id, "kind": kind, "case_index": index, "status": status,
                               "reason": reason, "input": text, "input_bytes": len(text.encode()) if text else 0,
                               "generator_call_id": call_id, "run_id": run_id})
        programs = parsed[problem_id]
        generator_rows.append({"problem_id": problem_id, "status": "ok" if valid >= config.min_valid_inputs else "too_few_inputs",
                               "reason": None if valid >= config.min_valid_inputs else f"{valid} valid inputs (< {config.min_valid_inputs})",
                               "valid_inputs": valid, "dropped_json": json.dumps(dict(dropped)),
                               "generator": programs.generator, "validator": programs.validator, "llm_call_id": call_id,
                               "run_id": run_id})
    for row, result in zip(rows, results):
        value = parsed[row["problem_id"]]
        if isinstance(value, tuple):
            generator_rows.append({"problem_id": row["problem_id"], "status": value[0], "reason": value[1], "valid_inputs": 0,
                                   "dropped_json": "{}", "generator": None, "validator": None, "llm_call_id": result.call_id,
                                   "run_id": run_id})
    frame = pl.DataFrame(input_rows, schema=TEST_INPUTS.schema)
    generators_frame = pl.DataFrame(generator_rows, schema=TEST_GENERATORS.schema)
    storage.write_llm_calls("test_inputs", results, run_id)
    storage.write_table(TEST_GENERATORS, generators_frame)
    metadata = storage.write_table(TEST_INPUTS, frame)
    record_settings(storage, "test_inputs", {**config.model_dump(), "template": template.id,
                                             "model": llm.settings("test_write").model, "sandbox": sandbox.backend})
    storage.refresh_warehouse(context.log)
    statuses = Counter(frame["status"])
    generated_total = frame.filter(pl.col("kind") != "example").height
    dropped_share = (frame.filter((pl.col("kind") != "example") & (pl.col("status") != "valid")).height / generated_total
                     if generated_total else 0.0)
    per_problem = generators_frame.filter(pl.col("status").is_in(["ok", "too_few_inputs"]))["valid_inputs"]
    marked = generators_frame.filter(pl.col("status") != "ok")
    return dg.MaterializeResult(
        metadata={
            **metadata, **llm_metadata(gateway.stats, llm.role_models(("test_write",))),
            "problems": len(rows),
            "problems_with_enough_inputs": generators_frame.filter(pl.col("status") == "ok").height,
            "problem_status": dg.MetadataValue.json(dict(Counter(generators_frame["status"]))),
            "input_status": dg.MetadataValue.json(dict(statuses)),
            "valid_inputs_per_problem": dg.MetadataValue.json(
                {"min": int(per_problem.min() or 0), "mean": round(per_problem.mean() or 0, 2), "max": int(per_problem.max() or 0)}),
            "sandbox_runs": gen_stats.runs + val_stats.runs,
            "sandbox_runs_cached": gen_stats.cached + val_stats.cached,
            "sandbox_runs_per_s": round((gen_stats.executed + val_stats.executed) /
                                        max(1e-9, gen_stats.seconds + val_stats.seconds), 1),
            "marked_problems": dg.MetadataValue.md(frame_markdown(marked.select("problem_id", "status", "reason"), 20)),
        },
        check_results=[
            dg.AssetCheckResult(check_name=TEST_INPUTS_PER_PROBLEM, passed=marked.height <= len(rows) / 2,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"problems_marked": marked.height, "problems": len(rows),
                                          "min_valid_inputs": config.min_valid_inputs}),
            share_check(TEST_INPUTS_DROPPED, "dropped_share", dropped_share, config.max_dropped_share),
        ],
    )


# ---- candidate_solutions -----------------------------------------------------------------------

class CandidatesConfig(dg.Config):
    candidates_per_problem: int = Field(default=8, description="Samples per problem (the recipe uses 1 or 8).")
    min_usable_share: float = Field(default=0.5, description="Warn when fewer answers than this are usable.")


@dg.asset(
    group_name="verification",
    deps=["problems"],
    kinds={"parquet", "llm"},
    description=CANDIDATE_SOLUTIONS.description + " Role: solve (temperature 0.6, top_p 0.95, 32k tokens).",
    check_specs=[dg.AssetCheckSpec(CANDIDATES_USABLE, asset="candidate_solutions",
                                   description="Share of answers with exactly one Python block that parses.")],
)
def candidate_solutions(context: dg.AssetExecutionContext, config: CandidatesConfig, storage: StorageResource,
                        llm: LLMGatewayResource) -> dg.MaterializeResult:
    if config.candidates_per_problem < 1:
        raise dg.Failure(description="candidate_solutions: candidates_per_problem must be at least 1", allow_retries=False)
    problems = kept_problems(storage)
    template = load_template(SOLVE_TEMPLATE)
    run_id = context.run.run_id
    gateway = llm.gateway(storage, ("solve",), run_id, "candidate_solutions")
    rows = list(problems.iter_rows(named=True))
    requests, keys = [], []
    for row in rows:
        starter = row["starter_code"] or ""
        messages = template.render(question=problem_question(row),
                                   format_instruction=LCB_STARTER_FORMAT if starter else LCB_STDIN_FORMAT,
                                   starter=starter.rstrip() + "\n" if starter else "# YOUR CODE HERE")
        for sample in range(config.candidates_per_problem):
            requests.append(LLMRequest.of("solve", messages, template.id, row["problem_id"], seed=sample))
            keys.append((row["problem_id"], sample))
    results = gateway.complete(requests)
    out = []
    for (problem_id, sample), result in zip(keys, results):
        if failure := result.failure():
            (status, reason), code = failure, None
        else:
            extracted = verification.extract_solution_code(result.content)
            status, reason, code = extracted.status, extracted.reason, extracted.code
        out.append({"candidate_id": make_id("cand", {"call": result.call_id, "sample": sample}, [problem_id]),
                    "problem_id": problem_id, "sample_index": sample, "status": status, "reason": reason, "code": code,
                    "reasoning": result.reasoning, "llm_call_id": result.call_id, "model": result.model, "run_id": run_id})
    frame = pl.DataFrame(out, schema=CANDIDATE_SOLUTIONS.schema)
    storage.write_llm_calls("candidate_solutions", results, run_id)
    metadata = storage.write_table(CANDIDATE_SOLUTIONS, frame)
    record_settings(storage, "candidate_solutions", {**config.model_dump(), "template": template.id,
                                                     "model": llm.settings("solve").model})
    storage.refresh_warehouse(context.log)
    usable = frame.filter(pl.col("status") == "ok").height / frame.height if frame.height else 0.0
    return dg.MaterializeResult(
        metadata={**metadata, **llm_metadata(gateway.stats, llm.role_models(("solve",))),
                  "status_counts": dg.MetadataValue.json(dict(Counter(frame["status"]))),
                  "usable_share": round(usable, 4),
                  "mean_reasoning_chars": round(frame["reasoning"].str.len_chars().mean() or 0, 1)},
        check_results=[share_check(CANDIDATES_USABLE, "usable_share", usable, config.min_usable_share, at_most=False)],
    )


# ---- verified_solutions ------------------------------------------------------------------------

class VerificationConfig(dg.Config):
    min_agreement: float = Field(default=0.5, description="Top votes over the runs that ended normally: below this, a "
                                                          "test stays unverified.")
    holdout_share: float = Field(default=0.3, description="Share of verified tests held out to confirm the golden solution.")
    min_verified_tests: int = Field(default=3, description="Problems with fewer verified tests are rejected.")
    max_tests_per_problem: int = Field(default=20, description="At most this many tests per problem (the recipe: 20).")
    keep: str = Field(default="all", description="'all': every candidate passing all verified tests; 'golden': only the golden one.")
    seed: int = Field(default=42, description="Seed of the selection / held-out split.")
    max_unverified_share: float = Field(default=0.3, description="Warn when more tests than this stay unverified.")
    max_easy_share: float = Field(default=0.6, description="Warn when more problems than this are solved by every candidate.")
    abandon_after_timeouts: int = Field(default=1, description="Stop running a candidate after this many time limits "
                                                              "(its remaining tests count as failed runs).")


@dg.asset(
    group_name="verification",
    deps=["test_inputs", "candidate_solutions"],
    kinds={"parquet", "sandbox"},
    description=VERIFIED_SOLUTIONS.description + " Also writes lcb/verified_problems.jsonl (LiveCodeBench format).",
    check_specs=[
        dg.AssetCheckSpec(VERIFIED_TESTS_PER_PROBLEM, asset="verified_solutions",
                          description="Every verified problem has at least min_verified_tests voted tests."),
        dg.AssetCheckSpec(VERIFIED_UNVERIFIED_SHARE, asset="verified_solutions",
                          description="Share of tests the vote left unverified (ties, low agreement)."),
        dg.AssetCheckSpec(VERIFIED_EASY_SHARE, asset="verified_solutions",
                          description="Share of problems every usable candidate solves (easy ones)."),
        dg.AssetCheckSpec(VERIFIED_REJECTIONS, asset="verified_solutions", description="Why problems were rejected."),
    ],
)
def verified_solutions(context: dg.AssetExecutionContext, config: VerificationConfig, storage: StorageResource,
                       sandbox: SandboxResource) -> dg.MaterializeResult:
    if config.keep not in ("all", "golden"):
        raise dg.Failure(description=f"verified_solutions: keep must be 'all' or 'golden', got {config.keep!r}")
    problems = {r["problem_id"]: r for r in kept_problems(storage).iter_rows(named=True)}
    generators = read_parquet(TEST_GENERATORS.path(storage.root))
    tests = read_parquet(TEST_INPUTS.path(storage.root)).filter(pl.col("status") == "valid")
    candidates = read_parquet(CANDIDATE_SOLUTIONS.path(storage.root)).filter(pl.col("status") == "ok")
    run_id = context.run.run_id
    ready = set(generators.filter(pl.col("status") == "ok")["problem_id"])
    tests_of = {pid: group.head(config.max_tests_per_problem) for (pid,), group in tests.group_by("problem_id", maintain_order=True)}
    cands_of = {pid: group for (pid,), group in candidates.group_by("problem_id", maintain_order=True)}
    rejected: dict[str, str] = {}
    work = []
    for problem_id in problems:
        if problem_id not in ready:
            rejected[problem_id] = "too few valid test inputs" if problem_id in set(generators["problem_id"]) else "no test inputs"
        elif problem_id not in cands_of:
            rejected[problem_id] = "no usable candidate solution"
        else:
            work.append(problem_id)
    programs, inputs, owners = [], [], []
    for problem_id in work:
        func = problems[problem_id]["function_name"]
        for cand in cands_of[problem_id].iter_rows(named=True):
            programs.append(Program(cand["code"], func))
            inputs.append(tests_of[problem_id]["input"].to_list())
            owners.append((problem_id, cand["candidate_id"]))
    limits = sandbox.limits()
    backend = sandbox.open()
    cache = sandbox.run_cache(storage)
    try:
        raws, stats = run_matrix(backend, programs, inputs, limits, cache, workers=sandbox.workers,
                                 abandon_after_timeouts=config.abandon_after_timeouts)
    finally:
        backend.close()
        cache.close()
    runs_of = dict(zip(owners, raws))

    out_rows, lcb_rows, pass_rates, agreements = [], [], [], []
    unverified = total_tests = 0
    for problem_id in work:
        problem = problems[problem_id]
        functional = bool(problem["function_name"])
        test_frame = tests_of[problem_id]
        test_ids = test_frame["test_id"].to_list()
        cand_rows = list(cands_of[problem_id].iter_rows(named=True))
        outputs = [[verification.canonical_output(run.stdout, functional) if run.ended_normally else None
                    for run in runs_of[(problem_id, c["candidate_id"])]] for c in cand_rows]
        result = verification.verify(test_ids, outputs, min_agreement=config.min_agreement,
                                     holdout_share=config.holdout_share, min_verified_tests=config.min_verified_tests,
                                     seed=config.seed)
        total_tests += len(test_ids)
        unverified += sum(not v.verified for v in result.votes)
        agreements += [v.agreement for v in result.votes]
        passing = [c for c in range(len(cand_rows)) if result.passes[c] and all(result.passes[c].values())]
        pass_rates.append(len(passing) / len(cand_rows))
        votes_json = json.dumps({v.test_id: {"verified": v.verified, "expected_hash": v.expected and verification.output_hash(v.expected),
                                             "top_votes": v.top_votes, "voters": v.voters, "candidates": v.candidates,
                                             "agreement": round(v.agreement, 4), "reason": v.reason, "counts": v.counts,
                                             "holdout": v.test_id in result.holdout} for v in result.votes})
        common = {"problem_id": problem_id, "tests_total": len(test_ids),
                  "tests_verified": len(result.selection) + len(result.holdout), "tests_selection": len(result.selection),
                  "tests_holdout": len(result.holdout),
                  "mean_agreement": sum(v.agreement for v in result.votes) / len(result.votes) if result.votes else 0.0,
                  "votes_json": votes_json, "test_ids": test_ids, "candidates_run": len(cand_rows),
                  "candidates_passing": len(passing),
                  "golden_candidate_id": cand_rows[result.golden]["candidate_id"] if result.golden is not None else None,
                  "run_id": run_id}
        if result.status != "verified":
            out_rows.append({**common, "verified_id": make_id("ver", {"rejected": result.reason}, [problem_id]),
                             "candidate_id": None, "status": "rejected", "reason": result.reason, "is_golden": False,
                             "max_time_s": None, "max_memory_kb": None, "code": None})
            continue
        keep = [result.golden] if config.keep == "golden" else result.verified_candidates
        for index in keep:
            cand = cand_rows[index]
            runs = runs_of[(problem_id, cand["candidate_id"])]
            out_rows.append({**common, "verified_id": make_id("ver", {"candidate": cand["candidate_id"]}, [problem_id]),
                             "candidate_id": cand["candidate_id"], "status": "verified", "reason": None,
                             "is_golden": index == result.golden,
                             "max_time_s": max((run.wall_s for run in runs), default=0.0),
                             "max_memory_kb": max((run.max_rss_kb for run in runs), default=0), "code": cand["code"]})
        lcb_rows.append(_lcb_row(problem, test_frame, result, runs_of[(problem_id, cand_rows[result.golden]["candidate_id"])]))
    for problem_id, reason in rejected.items():
        out_rows.append({"verified_id": make_id("ver", {"rejected": reason}, [problem_id]), "problem_id": problem_id,
                         "candidate_id": None, "status": "rejected", "reason": reason, "is_golden": False,
                         "golden_candidate_id": None, "tests_total": 0, "tests_verified": 0, "tests_selection": 0,
                         "tests_holdout": 0, "mean_agreement": 0.0, "votes_json": "{}", "test_ids": [], "candidates_run": 0,
                         "candidates_passing": 0, "max_time_s": None, "max_memory_kb": None, "code": None, "run_id": run_id})
    frame = pl.DataFrame(out_rows, schema=VERIFIED_SOLUTIONS.schema)
    write_text("".join(json.dumps(r) + "\n" for r in lcb_rows), storage.root / "lcb" / "verified_problems.jsonl")
    metadata = storage.write_table(VERIFIED_SOLUTIONS, frame)
    record_settings(storage, "verified_solutions", {**config.model_dump(), "sandbox": sandbox.backend,
                                                    "limits": {"cpu_s": limits.cpu_s, "wall_s": limits.wall_s,
                                                               "memory_bytes": limits.memory_bytes}})
    storage.refresh_warehouse(context.log)
    return dg.MaterializeResult(
        metadata={**metadata, **_verification_metadata(frame, problems, generators, agreements, pass_rates, stats),
                  "lcb_problems": dg.MetadataValue.path(str(storage.root / "lcb" / "verified_problems.jsonl"))},
        check_results=_verification_checks(frame, config, unverified, total_tests, pass_rates),
    )


def _lcb_row(problem: dict[str, Any], tests: pl.DataFrame, result: verification.Verification,
             golden_runs: list[RunOutcome]) -> dict[str, Any]:
    """The problem with its verified tests as a LiveCodeBench code_generation_lite row (expected outputs are
    the golden solution's raw outputs on the verified tests)."""
    functional = bool(problem["function_name"])
    verified = {v.test_id for v in result.votes if v.verified}
    testtype = "functional" if functional else "stdin"
    public, private = [], []
    for row, run in zip(tests.iter_rows(named=True), golden_runs):
        if row["test_id"] in verified:
            (public if row["kind"] == "example" else private).append(
                {"input": row["input"], "output": run.stdout, "testtype": testtype})
    return {
        "question_title": problem["title"], "question_content": problem_question(problem),
        "platform": problem["style"], "question_id": problem["problem_id"], "contest_id": "xcoder-synthetic",
        "contest_date": "", "starter_code": problem["starter_code"] or "", "difficulty": "medium",
        "public_test_cases": json.dumps(public), "private_test_cases": json.dumps(private),
        "metadata": json.dumps({"func_name": problem["function_name"]} if functional else {}),
    }


def _histogram(values: list[float], edges: list[float]) -> list[tuple[str, int]]:
    rows = []
    for low, high in zip(edges, edges[1:]):
        count = sum(1 for v in values if low <= v < high or (high == edges[-1] and v == high))
        rows.append((f"{low:.2f}-{high:.2f}", count))
    return rows


def _verification_metadata(frame, problems, generators, agreements, pass_rates, stats) -> dict[str, Any]:
    verified = frame.filter(pl.col("status") == "verified")
    funnel = [
        ("problems", len(problems)),
        ("with tests", generators.filter(pl.col("status") == "ok").height),
        ("with a golden solution", verified["problem_id"].n_unique()),
        ("verified solutions", verified.height),
    ]
    top = max(n for _, n in funnel) or 1
    chart = "\n".join(f"{stage:<24} {'█' * max(1, round(30 * n / top)) if n else ''} {n}" for stage, n in funnel)
    sample = verified.filter(pl.col("is_golden")).head(1).to_dicts()
    sample_md = "(no verified problem)"
    if sample:
        problem = problems[sample[0]["problem_id"]]
        sample_md = (problem_question(problem) + f"\n\n## Golden solution ({sample[0]['candidate_id']}, "
                     f"{sample[0]['tests_verified']} verified tests)\n\n```python\n{sample[0]['code']}\n```")
    reasons = Counter(frame.filter(pl.col("status") == "rejected")["reason"].map_elements(
        lambda r: r.split(" (")[0] if r else r, return_dtype=pl.String) if frame.height else [])
    return {
        "funnel": dg.MetadataValue.md(markdown_table(funnel, ["stage", "count"])),
        "funnel_chart": dg.MetadataValue.md("```\n" + chart + "\n```"),
        "problems_verified": funnel[2][1],
        "rejection_reasons": dg.MetadataValue.md(markdown_table(reasons.most_common(), ["reason", "problems"])),
        "agreement_distribution": dg.MetadataValue.md(markdown_table(_histogram(agreements, [0, 0.25, 0.5, 0.75, 1.0]),
                                                                     ["agreement", "tests"])),
        "candidate_pass_rate_distribution": dg.MetadataValue.md(markdown_table(
            _histogram(pass_rates, [0, 0.25, 0.5, 0.75, 1.0]), ["share of candidates passing", "problems"])),
        "easy_problems": sum(1 for r in pass_rates if r == 1.0),
        "sandbox_runs": stats.runs,
        "sandbox_runs_executed": stats.executed,
        "sandbox_runs_cached": stats.cached,
        "sandbox_runs_per_s": round(stats.runs_per_s, 1),
        "sample_verified_problem": dg.MetadataValue.md(sample_md),
    }


def _verification_checks(frame, config, unverified, total_tests, pass_rates) -> list[dg.AssetCheckResult]:
    verified = frame.filter(pl.col("status") == "verified")
    few = verified.filter(pl.col("tests_verified") < config.min_verified_tests).height
    unverified_share = unverified / total_tests if total_tests else 0.0
    easy_share = sum(1 for r in pass_rates if r == 1.0) / len(pass_rates) if pass_rates else 0.0
    rejected = frame.filter(pl.col("status") == "rejected")
    return [
        dg.AssetCheckResult(check_name=VERIFIED_TESTS_PER_PROBLEM, passed=few == 0,
                            metadata={"problems_below_minimum": few, "min_verified_tests": config.min_verified_tests}),
        share_check(VERIFIED_UNVERIFIED_SHARE, "unverified_share", unverified_share, config.max_unverified_share),
        share_check(VERIFIED_EASY_SHARE, "easy_share", easy_share, config.max_easy_share),
        dg.AssetCheckResult(check_name=VERIFIED_REJECTIONS, passed=True,
                            metadata={"rejected": rejected.height,
                                      "reasons": dg.MetadataValue.json(dict(Counter(rejected["reason"])))}),
    ]


test_inputs_schema = schema_check(test_inputs, TEST_INPUTS)
candidate_solutions_schema = schema_check(candidate_solutions, CANDIDATE_SOLUTIONS)
verified_solutions_schema = schema_check(verified_solutions, VERIFIED_SOLUTIONS)
