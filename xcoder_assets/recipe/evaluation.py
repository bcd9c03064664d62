"""Scoring a model on LiveCodeBench problems: n independent samples per problem through the LLM gateway,
each judged in the sandbox (profile lcb) as soon as its problem's samples are back, then scored.

Generation and judging overlap: problems are sent in waves that keep the gateway's in-flight limit
full, and a problem's samples go to the judge's worker threads the moment they return, so the endpoint,
not the judge, sets the pace. Failed generations (call error, cut off, no code) are not run: they are
wrong, as the official runner counts them (it judges the empty code it extracts and fails it), and
they are counted apart.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence

from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.llm.settings import RECIPE_PARAMS, GenerationParams
from xcoder_assets.recipe.benchmark import (
    PAPER_WINDOWS,
    DateWindow,
    Generation,
    LcbProblem,
    ProblemResult,
    generation_from_answer,
    parse_date,
    parse_windows,
    scores,
)
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.sandbox.judge import SolutionVerdict, Verdict, judge_solution

ROLE = "benchmark"
Progress = Callable[[int, int, int], None]  # (done, total, cached)
# Samples per problem when none is given: the paper's avg@8 for a real model; 2 for the offline simulator,
# whose answers are scripted (more samples would only repeat its work).
OFFLINE_N, REAL_N = 2, 8
_SOLVE = RECIPE_PARAMS["solve"]  # the paper evaluates with its solving role's sampling


@dataclass(frozen=True)
class ScoringSettings:
    """How a model is scored, with the recipe's defaults. benchmark_scores' run config and `xcoder eval`'s
    flags override them; neither repeats a value. Checked on creation: a bad window or cutoff is one error
    before any request is sent."""

    n: int | None = None  # samples per problem (avg@n); None: REAL_N for a real model, OFFLINE_N offline
    seed: int = 0  # sample i uses seed + i: n distinct requests, never n copies of one cached answer
    temperature: float = _SOLVE.temperature
    top_p: float = _SOLVE.top_p
    max_tokens: int = _SOLVE.max_tokens  # reasoning models need long answers
    windows: Mapping[str, Sequence[str | None]] = field(default_factory=lambda: dict(PAPER_WINDOWS))
    model_cutoff: str | None = None  # YYYY-MM-DD: pass@1 before vs after it is the contamination gap

    def __post_init__(self) -> None:
        if self.n is not None and self.n < 1:
            raise ValueError(f"n: samples per problem must be at least 1, not {self.n}")
        self.date_windows()  # each raises BenchmarkInputError naming the bad window or date
        self.cutoff()

    def params(self) -> GenerationParams:
        return GenerationParams(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens)

    def samples(self, offline: bool) -> int:
        return self.n or (OFFLINE_N if offline else REAL_N)

    def date_windows(self) -> list[DateWindow]:
        return parse_windows(dict(self.windows))

    def cutoff(self) -> date | None:
        return parse_date(self.model_cutoff, "model_cutoff")


class Completer(Protocol):
    """What scoring asks of the LLM side: complete these requests (the gateway, or any stand-in with the same
    two members); `config.max_in_flight` sizes the waves of problems sent at once."""

    config: Any

    def acomplete(self, requests: Sequence[LLMRequest]) -> Awaitable[list[LLMResult]]: ...


@dataclass
class SampleRecord:
    """What a score row keeps per sample: the call that made it and the judge's verdict."""

    question_id: str
    sample: int
    call_id: str | None
    cache_hit: bool
    generation: Generation
    verdict: SolutionVerdict | None  # None when the generation failed and nothing ran


@dataclass
class EvaluationRun:
    results: list[ProblemResult] = field(default_factory=list)
    samples: list[SampleRecord] = field(default_factory=list)
    calls: list[LLMResult] = field(default_factory=list)
    judge_seconds: float = 0.0
    wall_seconds: float = 0.0
    tests_run: int = 0
    problems_cached: int = 0  # problems whose every sample came from the response cache
    _by_problem: dict[str, ProblemResult] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self,
        problem: LcbProblem,
        generations: Sequence[Generation],
        verdicts: Sequence[SolutionVerdict | None],
        calls: Sequence[LLMResult] | None = None,
        judge_seconds: float = 0.0,
        on_progress: Progress | None = None,
        total: int = 0,
    ) -> None:
        """Keep one judged problem (from any worker thread); report (recorded, total, problems from cache)
        under the lock, so the figures arrive in order."""
        result = assemble(problem, generations, verdicts)
        with self._lock:
            self.judge_seconds += judge_seconds
            self.tests_run += sum(len(v.tests) for v in verdicts if v)
            self._by_problem[problem.question_id] = result
            self.samples.extend(
                SampleRecord(problem.question_id, i, c.call_id if c else None, bool(c and c.cache_hit), g, v)
                for i, (c, g, v) in enumerate(zip(calls or [None] * len(generations), generations, verdicts))
            )
            self.problems_cached += bool(calls) and all(c.cache_hit for c in calls)
            if on_progress:
                on_progress(len(self._by_problem), total, self.problems_cached)

    def results_in_order(self, problems: Sequence[LcbProblem]) -> list[ProblemResult]:
        return [self._by_problem[p.question_id] for p in problems if p.question_id in self._by_problem]


def sample_requests(problem: LcbProblem, template: PromptTemplate, n: int, seed: int) -> list[LLMRequest]:
    """n distinct requests (distinct seeds), so n samples are never n copies of one cached answer."""
    messages = template.render(**problem.prompt_values())
    return [LLMRequest.of(ROLE, messages, template.id, problem.question_id, seed=seed + i) for i in range(n)]


def _failed_metadata(generation: Generation) -> dict[str, Any]:
    # what the official runner records when the extracted code does not even compile
    return {"error": generation.reason or generation.status, "error_code": -4, "generation_status": generation.status}


def _official_metadata(verdict: SolutionVerdict) -> dict[str, Any]:
    if verdict.passed:
        return {}
    results = verdict.lcb_results
    if results == [-2]:  # the harness lost the process: its runner records a TestRunnerError
        return {
            "error": verdict.reason or "the solution's process died",
            "error_code": -5,
            "error_message": "TestRunnerError",
            "verdict": verdict.verdict.value,
        }
    failing = verdict.tests[verdict.first_failing_test] if verdict.first_failing_test is not None else None
    code = next((c for c in results if c is not True), -4)
    return {
        "error": verdict.reason or (failing.reason if failing else "") or verdict.verdict.value,
        "error_code": -2 if code is False else code,
        "verdict": verdict.verdict.value,
    }


def assemble(
    problem: LcbProblem, generations: Sequence[Generation], verdicts: Sequence[SolutionVerdict | None]
) -> ProblemResult:
    graded, tests, metadata = [], [], []
    for generation, verdict in zip(generations, verdicts):
        if verdict is None:
            graded.append(False)
            tests.append((-4,))
            metadata.append(_failed_metadata(generation))
        else:
            graded.append(verdict.passed)
            tests.append(tuple(verdict.lcb_results) or (-4,))
            metadata.append(_official_metadata(verdict))
    return ProblemResult(problem, tuple(generations), tuple(graded), tuple(tests), tuple(metadata))


def _judge_all(
    backend: Any, problem: LcbProblem, generations: Sequence[Generation], limits: Any
) -> list[SolutionVerdict | None]:
    judged = problem.judge_problem()
    verdicts: list[SolutionVerdict | None] = []
    for generation in generations:
        if generation.status in ("error", "no_code"):
            verdicts.append(None)
            continue
        try:  # a truncated answer with a complete block is judged, as the official runner judges it
            verdicts.append(judge_solution(backend, judged, generation.code, profile="lcb", limits=limits))
        except Exception as exc:  # a judge failure is a failure of this sample, never a pass
            verdicts.append(SolutionVerdict(Verdict.SANDBOX_FAILURE, reason=f"{type(exc).__name__}: {exc}"))
    return verdicts


def evaluate_generations(
    problems: Sequence[LcbProblem],
    codes: dict[str, list[str]],
    backend: Any,
    *,
    workers: int = 2,
    limits: Any = None,
    on_progress: Progress | None = None,
) -> EvaluationRun:
    """Score given code (lcb_runner's custom-evaluator input: question_id -> code_list) with no model."""
    run = EvaluationRun()
    started = time.perf_counter()
    chosen = [p for p in problems if p.question_id in codes]

    def one(problem: LcbProblem) -> None:
        generations = [
            Generation(code, code, "ok") if code.strip() else Generation(code, code, "no_code", "empty code")
            for code in codes[problem.question_id]
        ]
        verdicts = _judge_all(backend, problem, generations, limits)
        run.record(problem, generations, verdicts, on_progress=on_progress, total=len(chosen))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, chosen))
    run.results = run.results_in_order(chosen)
    run.wall_seconds = run.judge_seconds = time.perf_counter() - started
    return run


def evaluate_model(
    problems: Sequence[LcbProblem],
    gateway: Completer,
    template: PromptTemplate,
    backend: Any,
    *,
    n: int,
    seed: int = 0,
    workers: int = 2,
    limits: Any = None,
    on_progress: Progress | None = None,
) -> EvaluationRun:
    """Generate n samples per problem and judge them while the rest are still being generated."""
    run = EvaluationRun()
    started = time.perf_counter()
    judge_pool = ThreadPoolExecutor(max_workers=max(1, workers))
    # problems in flight at once: enough for the gateway's limit, whole problems at a time
    waves = max(1, gateway.config.max_in_flight // max(1, n))

    def judge(problem: LcbProblem, results: list[LLMResult]) -> None:
        generations = [generation_from_answer(r.content, r.finish_reason, r.error) for r in results]
        t0 = time.perf_counter()
        verdicts = _judge_all(backend, problem, generations, limits)
        run.record(problem, generations, verdicts, results, time.perf_counter() - t0, on_progress, len(problems))

    async def generate() -> None:
        gate = asyncio.Semaphore(waves)
        loop = asyncio.get_running_loop()
        judging: list[asyncio.Future] = []

        async def problem_samples(problem: LcbProblem) -> None:
            async with gate:
                results = await gateway.acomplete(sample_requests(problem, template, n, seed))
            run.calls.extend(results)
            judging.append(loop.run_in_executor(judge_pool, judge, problem, results))

        await asyncio.gather(*(problem_samples(p) for p in problems))
        await asyncio.gather(*judging)

    try:
        _run_coroutine(generate)
    finally:
        judge_pool.shutdown(wait=True)
    run.results = run.results_in_order(problems)
    run.wall_seconds = time.perf_counter() - started
    return run


@dataclass
class Scoring:
    """A scored evaluation: the judged samples and the scores (pass@1 overall, per difficulty, platform,
    window, and before/after the cutoff)."""

    run: EvaluationRun
    scores: dict[str, Any]


def score_model(
    problems: Sequence[LcbProblem],
    complete: Completer,
    template: PromptTemplate,
    backend: Any,
    settings: ScoringSettings,
    *,
    offline: bool = False,
    workers: int = 2,
    on_progress: Progress | None = None,
) -> Scoring:
    """The loop benchmark_scores, trained_model_scores and `xcoder eval` share: n samples per problem completed
    by `complete`, their code run in `backend` (profile lcb), scored as the official harness scores them."""
    run = evaluate_model(
        problems,
        complete,
        template,
        backend,
        n=settings.samples(offline),
        seed=settings.seed,
        workers=workers,
        on_progress=on_progress,
    )
    return Scoring(run, scores(run.results, settings.date_windows(), settings.cutoff()))


def score_generations(
    problems: Sequence[LcbProblem],
    codes: dict[str, list[str]],
    backend: Any,
    settings: ScoringSettings,
    *,
    workers: int = 2,
    on_progress: Progress | None = None,
) -> Scoring:
    """Given code (question_id -> code_list) run in `backend` and scored as score_model scores a model's."""
    run = evaluate_generations(problems, codes, backend, workers=workers, on_progress=on_progress)
    return Scoring(run, scores(run.results, settings.date_windows(), settings.cutoff()))


def _run_coroutine(factory: Callable[[], Any]) -> None:
    """Run on a fresh event loop, also when called from inside one (the gateway's sync entry does the same)."""
    from xcoder_assets.llm.gateway import flush_litellm_logging

    async def main() -> None:
        try:
            await factory()
        finally:
            await flush_litellm_logging()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]


# ---- rows and files -----------------------------------------------------------------------------


def _int_code(value: Any) -> int:
    return 1 if value is True else 0 if value is False else int(value)


def problem_rows(problems: Sequence[LcbProblem], run_id: str) -> list[dict[str, Any]]:
    rows = []
    for p in problems:
        public = [{"input": t.input, "output": t.output} for t in p.public_tests]
        private = [{"input": t.input, "output": t.output} for t in p.private_tests]
        rows.append(
            {
                "lcb_problem_id": problem_row_id(p),
                "question_id": p.question_id,
                "title": p.title,
                "platform": p.platform,
                "contest_id": p.contest_id,
                "contest_date": p.contest_date,
                "difficulty": p.difficulty,
                "mode": p.mode,
                "func_name": p.func_name,
                "source": p.source,
                "location": p.location,
                "public_tests": len(public),
                "private_tests": len(private),
                "question_content": p.content,
                "starter_code": p.starter_code,
                "public_tests_json": json.dumps(public),
                "private_tests_json": json.dumps(private),
                "run_id": run_id,
            }
        )
    return rows


def problem_row_id(problem: LcbProblem) -> str:
    from xcoder_assets.store.ids import make_id

    return make_id(
        "lcb",
        {
            "question_id": problem.question_id,
            "source": problem.source,
            "tests": [(t.input, t.output) for t in problem.public_tests + problem.private_tests],
        },
    )


def problem_from_row(row: dict[str, Any]) -> LcbProblem:
    """An lcb_problems row back as a problem (the tests are stored decoded)."""
    from xcoder_assets.sandbox.judge import TestCase

    def tests(text: str) -> tuple[TestCase, ...]:
        return tuple(TestCase(t["input"], t["output"]) for t in json.loads(text or "[]"))

    return LcbProblem(
        question_id=row["question_id"],
        title=row["title"],
        content=row["question_content"],
        platform=row["platform"],
        contest_id=row["contest_id"] or "",
        contest_date=row["contest_date"],
        starter_code=row["starter_code"] or "",
        difficulty=row["difficulty"],
        public_tests=tests(row["public_tests_json"]),
        private_tests=tests(row["private_tests_json"]),
        func_name=row["func_name"],
        source=row["source"],
        location=row["location"],
    )


def sample_rows(
    run: EvaluationRun,
    evaluation_id: str,
    model: str,
    api_base: str | None,
    template: str | None,
    run_id: str,
    kind: str = "score",
) -> list[dict[str, Any]]:
    from xcoder_assets.store.ids import make_id

    problems = {r.problem.question_id: r.problem for r in run.results}
    rows = []
    for s in sorted(run.samples, key=lambda s: (s.question_id, s.sample)):
        problem, verdict = problems[s.question_id], s.verdict
        rows.append(
            {
                "score_id": make_id(kind, {"sample": s.sample}, [evaluation_id, problem_row_id(problem)]),
                "evaluation_id": evaluation_id,
                "lcb_problem_id": problem_row_id(problem),
                "question_id": s.question_id,
                "sample": s.sample,
                "model": model,
                "api_base": api_base or "",
                "template": template,
                "llm_call_id": s.call_id,
                "cache_hit": s.cache_hit,
                "generation_status": s.generation.status,
                "generation_reason": s.generation.reason,
                "code": s.generation.code,
                "passed": bool(verdict and verdict.passed),
                "verdict": verdict.verdict.value if verdict else None,
                "reason": (verdict.reason or _first_failure_reason(verdict))
                if verdict and not verdict.passed
                else None,
                "first_failing_test": verdict.first_failing_test if verdict else None,
                "test_results": [_int_code(c) for c in verdict.lcb_results] if verdict else [],
                "time_s": verdict.time_s if verdict else None,
                "memory_kb": verdict.max_rss_kb if verdict else None,
                "difficulty": problem.difficulty,
                "platform": problem.platform,
                "contest_date": problem.contest_date,
                "run_id": run_id,
            }
        )
    return rows


def _first_failure_reason(verdict: SolutionVerdict) -> str | None:
    if verdict.first_failing_test is None or verdict.first_failing_test >= len(verdict.tests):
        return None
    test = verdict.tests[verdict.first_failing_test]
    return f"test {test.index}: {test.verdict.value}" + (f" ({test.reason})" if test.reason else "")


def summary_rows(
    scored: dict[str, Any], evaluation_id: str, model: str, run_id: str, evaluated_at: Any
) -> list[dict[str, Any]]:
    from xcoder_assets.store.ids import make_id

    groups: list[tuple[str, str, float | None, int]] = [("overall", "all", scored["pass@1"], scored["problems"])]
    for name, value in scored["by_difficulty"].items():
        groups.append(("difficulty", name, value, scored["problems_by_difficulty"][name]))
    for name, value in scored["by_platform"].items():
        groups.append(("platform", name, value, scored["problems_by_platform"][name]))
    for name, window in scored["by_window"].items():
        groups.append(("window", name, window["pass@1"], window["problems"]))
    if "contamination" in scored:
        c = scored["contamination"]
        groups += [
            ("contamination", "before_cutoff", c["pass@1_before"], c["problems_before"]),
            ("contamination", "after_cutoff", c["pass@1_after"], c["problems_after"]),
        ]
    n = scored["n"] if isinstance(scored["n"], int) else max(scored["n"] or [0])
    return [
        {
            "summary_id": make_id("bsum", {"group": g, "name": name}, [evaluation_id, run_id]),
            "evaluation_id": evaluation_id,
            "model": model,
            "n": n,
            "group": g,
            "name": name,
            "pass_at_1": value,
            "problems": count,
            "evaluated_at": evaluated_at,
            "run_id": run_id,
        }
        for g, name, value, count in groups
    ]


def write_lcb_outputs(results: Sequence[ProblemResult], scored: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """scores.json and eval_all.json, and LiveCodeBench's own three files, which its compute_scores reads."""
    from xcoder_assets.recipe.benchmark import eval_all_file, eval_file, generations_file
    from xcoder_assets.store.parquet import write_text

    eval_all = eval_all_file(results)
    files = {
        "scores": write_text(json.dumps(scored, indent=2, default=str), out_dir / "scores.json"),
        "eval_all": write_text(json.dumps(eval_all, indent=2), out_dir / "eval_all.json"),
        "lcb_generations": write_text(
            json.dumps(generations_file(results), indent=2), out_dir / "codegeneration_output.json"
        ),
        "lcb_eval": write_text(json.dumps(eval_file(results), indent=2), out_dir / "codegeneration_output_eval.json"),
        "lcb_eval_all": write_text(json.dumps(eval_all, indent=2), out_dir / "codegeneration_output_eval_all.json"),
    }
    return files
