"""The judge: run a solution on a problem's tests in a sandbox and decide a verdict per test.

Profiles:
- `strict` (default): real process semantics. The program runs as a script (stdin -> stdout), a
  non-zero exit is a runtime error, a CPU-time limit and a wall-time limit apply, output is
  compared by LiveCodeBench's line/token/decimal rule; functional (LeetCode-style) problems run
  through a driver that parses the JSON arguments and prints the JSON result.
- `lcb`: the official LiveCodeBench harness's verdicts, reproduced inside the sandbox: the program
  is wrapped in a function behind the fixed import block with recursion limit 50000, stdin is
  mocked, SystemExit is swallowed, a top-level tuple result becomes a list, 6 s per test, grading
  stops at the first failure. As in the harness, one process runs all of a solution's tests in
  sequence (one module, one `Solution()` instance: state carries from test to test), each test
  under its own alarm; a process that dies before its tests are done is what the harness records
  as a single -2, an error before the first test (compiling, a missing method) a single -4.
  Divergences are listed in LCB_DIVERGENCES.

A problem may carry a checker program (special judge) that decides instead of the comparison: it
runs in the sandbox too, reads {"input", "output", "expected"} as JSON on stdin and accepts by
exiting 0.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from xcoder_assets.sandbox.backends import Limits, SandboxBroken
from xcoder_assets.sandbox.outcome import Verdict, classify_run
from xcoder_assets.sandbox.compare import decode_value, functional_match_lcb, functional_match_strict, lines_match

LCB_TIMEOUT_S = 6.0
DISPLAYED_OUTPUT = 4096  # characters of a test's output kept in its verdict (a checker sees it whole)
LCB_DIVERGENCES = (
    "A memory limit applies (4 GiB of address space for the solution's process); the official harness has none.",
    "Output captured beyond the output cap (8 MiB) in one test is an output-limit failure; the official harness "
    "keeps it all in memory.",
    "The output is compared on the host, so after a wrong answer the solution's process may start the next test "
    "before it is stopped (nothing it does there is recorded); the official harness stops at once.",
    "A value that a functional solution returns is compared as data: an object with its own __eq__ is compared "
    "by its repr, not by calling it.",
    "A program that kills the judge's job runner (its parent) fails with a single -2; the official harness's "
    "worker pool breaks.",
)


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest class

    input: str
    output: str


@dataclass(frozen=True)
class Problem:
    problem_id: str
    tests: tuple[TestCase, ...]
    func_name: str | None = None  # set for functional (LeetCode-style) problems
    checker: str | None = None

    @property
    def mode(self) -> str:
        return "functional" if self.func_name else "stdin"


@dataclass
class TestVerdict:
    index: int
    verdict: Verdict
    reason: str | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_rss_kb: int = 0
    output: str = ""  # the program's output, its first DISPLAYED_OUTPUT characters (stdout; lcb: captured or encoded)
    functional: bool = False
    whole: int | None = None  # lcb: the official harness records only this code for the whole solution (-2, -4)

    @property
    def lcb_code(self) -> bool | int:
        """The official per-test result; its call-based grader records a wrong answer as False, not -2."""
        if self.functional and self.verdict is Verdict.WRONG_ANSWER:
            return False
        return self.verdict.lcb_code


@dataclass
class SolutionVerdict:
    verdict: Verdict
    tests: list[TestVerdict] = field(default_factory=list)
    first_failing_test: int | None = None
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.OK

    @property
    def time_s(self) -> float:
        return max((t.wall_s for t in self.tests), default=0.0)

    @property
    def max_rss_kb(self) -> int:
        return max((t.max_rss_kb for t in self.tests), default=0)

    @property
    def lcb_results(self) -> list[bool | int]:
        """The official harness's per-test list: one code per test run, or a single code for the whole
        solution where the harness loses its per-test results (a process that died: [-2])."""
        if self.tests and self.tests[-1].whole is not None:
            return [self.tests[-1].whole]
        return [t.lcb_code for t in self.tests]

    def as_detail(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "first_failing_test": self.first_failing_test,
            "reason": self.reason,
            "tests_run": len(self.tests),
            "time_s": round(self.time_s, 4),
            "memory_kb": self.max_rss_kb,
            "lcb_results": self.lcb_results,
        }


def limits_for(profile: str, timeout_s: float | None = None, base: Limits | None = None) -> Limits:
    base = base or Limits()
    if profile == "lcb":
        timeout = timeout_s or LCB_TIMEOUT_S
        return Limits(
            cpu_s=timeout + 1,
            wall_s=timeout,
            memory_bytes=4 << 30,
            output_bytes=base.output_bytes,
            file_bytes=base.file_bytes,
            processes=base.processes,
            stack_bytes=base.stack_bytes,
            tmpfs_bytes=base.tmpfs_bytes,
        )
    if profile != "strict":
        raise ValueError(f"unknown judge profile {profile!r}: choose strict or lcb")
    if timeout_s is None:
        return base
    return Limits(
        cpu_s=timeout_s,
        wall_s=max(2 * timeout_s + 1, base.wall_s),
        memory_bytes=base.memory_bytes,
        output_bytes=base.output_bytes,
        file_bytes=base.file_bytes,
        processes=base.processes,
        stack_bytes=base.stack_bytes,
        tmpfs_bytes=base.tmpfs_bytes,
    )


def decide_strict(
    raw: dict[str, Any], problem: Problem, test: TestCase, limits: Limits
) -> tuple[Verdict, str | None, str]:
    verdict, reason = classify_run(raw, limits)
    output = raw.get("stdout") or ""
    if verdict is not None:
        return verdict, reason, output
    if problem.checker:
        return Verdict.OK, None, output  # the checker decides, after the run
    ok, reason = functional_match_strict(output, test.output) if problem.func_name else lines_match(output, test.output)
    return (Verdict.OK if ok else Verdict.WRONG_ANSWER), reason, output


def decide_lcb(
    raw: dict[str, Any], problem: Problem, test: TestCase, limits: Limits
) -> tuple[Verdict, str | None, str]:
    if raw.get("killed_for") == "output_limit":
        return Verdict.OUTPUT_LIMIT, f"more than {limits.output_bytes} bytes of output", ""
    outcome = raw.get("lcb")
    if not outcome:
        verdict, reason = classify_run(raw, limits)
        return (verdict or Verdict.RUNTIME_ERROR), reason or "the test process died without a result", ""
    kind = outcome.get("kind")
    if kind == "timeout":
        return Verdict.TIME_LIMIT, "Time Limit Exceeded", ""
    if kind in ("error", "fatal"):
        return Verdict.RUNTIME_ERROR, outcome.get("error"), ""
    if kind == "lost":
        if raw.get("killed_for") == "global_timeout":
            return (
                Verdict.TIME_LIMIT,
                f"the official harness's global timeout ({limits.wall_s:g} s + 1 s per test + 5 s)",
                "",
            )
        verdict, reason = classify_run(
            {**raw, "killed_for": None, "cpu_s": 0}, limits
        )  # SIGXCPU: its budget is the global one
        return (verdict or Verdict.RUNTIME_ERROR), outcome.get("error") + (f" ({reason})" if reason else ""), ""
    if kind == "value":
        prediction = decode_value(outcome["value"])
        ok, reason = functional_match_lcb(prediction, test.output)
        return (Verdict.OK if ok else Verdict.WRONG_ANSWER), reason, json.dumps(outcome["value"])
    output = outcome.get("output", "")
    if problem.checker:
        return Verdict.OK, None, output
    ok, reason = lines_match(output, test.output)
    return (Verdict.OK if ok else Verdict.WRONG_ANSWER), reason, output


DECIDERS: dict[str, Callable[..., tuple[Verdict, str | None, str]]] = {"strict": decide_strict, "lcb": decide_lcb}


def whole_solution_code(raw: dict[str, Any]) -> int | None:
    """lcb: the single code the official harness records for the whole solution, if this result is one."""
    kind = (raw.get("lcb") or {}).get("kind")
    if kind == "fatal":
        return -4  # run_test's "Error during testing"
    if kind == "lost" or raw.get("runner_killed"):
        return -2  # its process gave no result: check_correctness fails, evaluate_generations keeps [-2]
    return None


def runner_killed_result(event: dict[str, Any]) -> dict[str, Any]:
    """The raw result of a test during which the program killed (or stopped) its job runner."""
    return {
        "event": "result",
        "runner_killed": True,
        "exit_code": None,
        "signal": event.get("signal"),
        "killed_for": None,
        "stray_processes": 0,
        "stdout": "",
        "stderr": "",
        "cpu_s": 0.0,
        "wall_s": 0.0,
        "max_rss_kb": 0,
    }


def run_program(
    backend: Any,
    code: str,
    inputs: Sequence[str],
    limits: Limits,
    *,
    profile: str = "strict",
    func_name: str | None = None,
    on_result: Callable[[int, dict[str, Any]], bool] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[str | None, list[dict[str, Any]]]:
    """Run `code` on `inputs` in one sandbox; returns (compile error, raw results).

    `on_result(index, raw)` returns True to go on to the next input. A sandbox that breaks yields a
    raw result with `sandbox_error` for the input it was on; one that breaks before the program's
    first test (a warm sandbox that died idle, say) is replaced and the program run again there.
    Profile strict answers every result (`next` or `stop`); profile lcb runs the tests in one process
    that streams its results and may end before the last input (the official harness stops at the
    first error), so only a `stop` is sent back. `extra`: more fields for the job.
    """
    job = {
        "code": code,
        "mode": "functional" if func_name else "stdin",
        "func_name": func_name,
        "profile": profile,
        "tests": list(inputs),
        **(extra or {}),
    }
    for attempt in range(2):
        results: list[dict[str, Any]] = []
        session = backend.acquire(limits, profile, fresh=attempt > 0)
        healthy, started = False, False
        try:
            session.send(json.dumps({**job, "limits": limits.for_supervisor(getattr(session, "nproc_base", 0))}))
            ready = session.recv(timeout=60)
            if ready.get("event") == "runner_died":
                healthy = _await_done(session)
                if attempt == 0:
                    continue
                raise SandboxBroken("the sandbox's job runner died before the program's first test")
            started = True
            if ready.get("compile_error"):
                healthy = _await_done(session)
                return ready["compile_error"], results
            if profile == "lcb":
                healthy = _stream(session, results, on_result, (limits.wall_s + 1) * len(inputs) + 35)
                return None, results
            for index in range(len(inputs)):
                raw = session.recv(timeout=limits.wall_s + 30)
                runner_died = raw.get("event") == "runner_died"
                if runner_died:
                    raw = runner_killed_result(raw)
                results.append(raw)
                go_on = on_result(index, raw) if on_result else True
                if runner_died:
                    break  # nobody reads on: the supervisor reports the end of the job itself
                session.send("next" if go_on and index + 1 < len(inputs) else "stop")
                if not go_on:
                    break
            healthy = _await_done(session)
        except SandboxBroken as exc:
            if not started and attempt == 0 and getattr(session, "jobs", 0) > 0:
                continue  # a reused sandbox that broke before the program started: a new one runs it
            results.append({"sandbox_error": str(exc)})
        finally:
            backend.release(session, limits, healthy, profile)
        return None, results
    return None, [{"sandbox_error": "no sandbox could run the program"}]


def _stream(
    session: Any, results: list[dict[str, Any]], on_result: Callable[[int, dict[str, Any]], bool] | None, timeout: float
) -> bool:
    """Profile lcb: take results as the sandbox sends them (one line may carry a batch) until `done`;
    after a `stop` the rest are dropped. Returns whether the sandbox was wiped clean."""
    stopped = False
    while True:
        event = session.recv(timeout=timeout)
        kind = event.get("event")
        if kind == "done":
            return bool(event.get("clean"))
        if stopped:
            continue
        if kind == "runner_died":
            batch = [runner_killed_result(event)]
        elif kind == "batch":
            batch = list(event.get("results") or [])
        elif kind == "result":
            batch = [event]
        else:
            continue
        for raw in batch:
            results.append(raw)
            go_on = on_result(len(results) - 1, raw) if on_result else True
            if kind == "runner_died":
                stopped = True  # the supervisor ends the job itself
            elif not go_on:
                session.send("stop")
                stopped = True
            if stopped:
                break


def _await_done(session: Any) -> bool:
    """The supervisor's end of a job: True when the sandbox was wiped clean and may serve again."""
    done = session.recv(timeout=60)
    return done.get("event") == "done" and bool(done.get("clean"))


def judge_solution(
    backend: Any,
    problem: Problem,
    code: str,
    *,
    profile: str = "strict",
    limits: Limits | None = None,
    stop_on_failure: bool = True,
) -> SolutionVerdict:
    limits = limits or limits_for(profile)
    decide = DECIDERS[profile]
    verdicts: list[TestVerdict] = []
    stop_early = stop_on_failure and not problem.checker  # a checker decides afterwards, on every test
    whole_outputs: dict[int, str] = {}  # for the checker: every byte the program wrote (within the output cap)

    def on_result(index: int, raw: dict[str, Any]) -> bool:
        if "sandbox_error" in raw:
            return False
        if index >= len(problem.tests):
            return False
        test = problem.tests[index]
        verdict, reason, output = decide(raw, problem, test, limits)
        if problem.checker:
            whole_outputs[index] = output
        whole = whole_solution_code(raw) if profile == "lcb" else None
        verdicts.append(
            TestVerdict(
                index,
                verdict,
                reason,
                raw.get("cpu_s", 0.0),
                raw.get("wall_s", 0.0),
                raw.get("max_rss_kb", 0),
                output[:DISPLAYED_OUTPUT],
                functional=bool(problem.func_name),
                whole=whole,
            )
        )
        return whole is None and not (stop_early and verdict is not Verdict.OK)

    if not problem.tests:
        return SolutionVerdict(Verdict.SANDBOX_FAILURE, reason="the problem has no tests")
    extra = None
    if profile == "lcb" and problem.func_name and not all(_parses(t.output) for t in problem.tests):
        extra = {"lcb_bad_outputs": True}  # the harness parses every expected output before the first test
    compile_error, raws = run_program(
        backend,
        code,
        [t.input for t in problem.tests],
        limits,
        profile=profile,
        func_name=problem.func_name,
        on_result=on_result,
        extra=extra,
    )
    if compile_error:
        return SolutionVerdict(
            Verdict.COMPILE_ERROR, [TestVerdict(0, Verdict.COMPILE_ERROR, compile_error)], 0, compile_error
        )
    if raws and "sandbox_error" in raws[-1]:
        index = len(verdicts)
        verdicts.append(TestVerdict(index, Verdict.SANDBOX_FAILURE, raws[-1]["sandbox_error"]))
    if problem.checker:
        _apply_checker(backend, problem, verdicts, whole_outputs, limits)
    first_failure = next((t for t in verdicts if t.verdict is not Verdict.OK), None)
    if first_failure is not None:
        return SolutionVerdict(first_failure.verdict, verdicts, first_failure.index, first_failure.reason)
    if len(verdicts) < len(problem.tests):
        return SolutionVerdict(Verdict.SANDBOX_FAILURE, verdicts, len(verdicts), "not every test was run")
    return SolutionVerdict(Verdict.OK, verdicts)


def _parses(text: str) -> bool:
    """Whether the harness's json.loads reads an expected output (it allows 50,000-digit integers)."""
    try:
        json.loads(text)
        return True
    except ValueError as exc:
        return "limit" in str(exc) and len(text) <= 60_000  # over this process's 4,300-digit default only
    except Exception:  # RecursionError
        return False


def _apply_checker(
    backend: Any, problem: Problem, verdicts: list[TestVerdict], outputs: dict[int, str], limits: Limits
) -> None:
    to_check = [t for t in verdicts if t.verdict is Verdict.OK]
    if not to_check:
        return
    inputs = [
        json.dumps(
            {
                "input": problem.tests[t.index].input,
                "output": outputs[t.index],
                "expected": problem.tests[t.index].output,
            }
        )
        for t in to_check
    ]
    compile_error, raws = run_program(backend, problem.checker, inputs, limits)
    for position, test in enumerate(to_check):
        raw = raws[position] if position < len(raws) else None
        if compile_error or raw is None or "sandbox_error" in raw:
            test.verdict, test.reason = (
                Verdict.SANDBOX_FAILURE,
                f"checker failed: {compile_error or (raw or {}).get('sandbox_error', 'no result')}",
            )
        elif raw.get("signal") or raw.get("killed_for"):
            test.verdict, test.reason = Verdict.SANDBOX_FAILURE, "checker crashed or timed out"
        elif raw.get("exit_code") != 0:
            test.verdict = Verdict.WRONG_ANSWER
            test.reason = "checker rejected: " + (
                (raw.get("stdout") or raw.get("stderr") or "").strip()[:200] or f"exit {raw.get('exit_code')}"
            )


@dataclass
class JudgeStats:
    solutions: int = 0
    tests_run: int = 0
    seconds: float = 0.0

    @property
    def tests_per_s(self) -> float:
        return self.tests_run / self.seconds if self.seconds else 0.0


def judge_many(
    backend: Any,
    items: Sequence[tuple[Problem, str]],
    *,
    profile: str = "strict",
    limits: Limits | None = None,
    workers: int = 2,
    stop_on_failure: bool = True,
) -> tuple[list[SolutionVerdict], JudgeStats]:
    """Judge (problem, code) pairs in parallel; results in input order. A crash of one never stops the rest."""
    started = time.perf_counter()
    lock = threading.Lock()
    stats = JudgeStats()

    def one(item: tuple[Problem, str]) -> SolutionVerdict:
        problem, code = item
        try:
            result = judge_solution(
                backend, problem, code, profile=profile, limits=limits, stop_on_failure=stop_on_failure
            )
        except Exception as exc:  # a judge bug or a backend that cannot start: a failure, never a pass
            result = SolutionVerdict(Verdict.SANDBOX_FAILURE, reason=f"{type(exc).__name__}: {exc}")
        with lock:
            stats.solutions += 1
            stats.tests_run += len(result.tests)
        return result

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, items))
    stats.seconds = time.perf_counter() - started
    return results, stats
