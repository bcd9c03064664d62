"""The judge: run a solution on a problem's tests in a sandbox and decide a verdict per test.

Profiles:
- `strict` (default): real process semantics. The program runs as a script (stdin -> stdout), a
  non-zero exit is a runtime error, a CPU-time limit and a wall-time limit apply, output is
  compared by LiveCodeBench's line/token/decimal rule; functional (LeetCode-style) problems run
  through a driver that parses the JSON arguments and prints the JSON result.
- `lcb`: the official LiveCodeBench harness's verdicts, reproduced inside the sandbox: the program
  is wrapped in a function behind the fixed import block with recursion limit 50000, stdin is
  mocked, SystemExit is swallowed, a top-level tuple result becomes a list, 6 s per test, grading
  stops at the first failure. Divergences are listed in LCB_DIVERGENCES.

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
LCB_DIVERGENCES = (
    "Each test runs in a fresh process forked from a warmed interpreter; the official harness runs all "
    "tests of a solution in one process, so state one test leaves behind (a changed global of an imported "
    "module, a patched builtin) is not seen by the next test here.",
    "A memory limit applies (4 GiB of address space per test by default); the official harness has none.",
    "Output captured beyond the output cap (8 MiB) is an output-limit failure; the official harness keeps it "
    "all in memory.",
    "A program that kills its own process (os._exit, a signal) fails that test with a runtime error; the official "
    "harness loses the whole solution's results to its global timeout (-1 for every test), also a failure.",
    "The 6 s wall-clock limit covers executing the module as well as the call; the official alarm starts at the call.",
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
    output: str = ""  # the program's output (stdout; for lcb the captured output or the encoded value)
    functional: bool = False

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

    def as_detail(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "first_failing_test": self.first_failing_test,
            "reason": self.reason,
            "tests_run": len(self.tests),
            "time_s": round(self.time_s, 4),
            "memory_kb": self.max_rss_kb,
            "lcb_results": [t.lcb_code for t in self.tests],
        }


def limits_for(profile: str, timeout_s: float | None = None, base: Limits | None = None) -> Limits:
    base = base or Limits()
    if profile == "lcb":
        timeout = timeout_s or LCB_TIMEOUT_S
        return Limits(cpu_s=timeout + 1, wall_s=timeout, memory_bytes=4 << 30, output_bytes=base.output_bytes,
                      file_bytes=base.file_bytes, processes=base.processes, stack_bytes=base.stack_bytes,
                      tmpfs_bytes=base.tmpfs_bytes)
    if profile != "strict":
        raise ValueError(f"unknown judge profile {profile!r}: choose strict or lcb")
    if timeout_s is None:
        return base
    return Limits(cpu_s=timeout_s, wall_s=max(2 * timeout_s + 1, base.wall_s), memory_bytes=base.memory_bytes,
                  output_bytes=base.output_bytes, file_bytes=base.file_bytes, processes=base.processes,
                  stack_bytes=base.stack_bytes, tmpfs_bytes=base.tmpfs_bytes)


def decide_strict(raw: dict[str, Any], problem: Problem, test: TestCase, limits: Limits) -> tuple[Verdict, str | None, str]:
    verdict, reason = classify_run(raw, limits)
    output = raw.get("stdout") or ""
    if verdict is not None:
        return verdict, reason, output
    if problem.checker:
        return Verdict.OK, None, output  # the checker decides, after the run
    ok, reason = functional_match_strict(output, test.output) if problem.func_name else lines_match(output, test.output)
    return (Verdict.OK if ok else Verdict.WRONG_ANSWER), reason, output


def decide_lcb(raw: dict[str, Any], problem: Problem, test: TestCase, limits: Limits) -> tuple[Verdict, str | None, str]:
    if raw.get("killed_for") == "wall_time":
        return Verdict.TIME_LIMIT, "Time Limit Exceeded", ""
    if raw.get("killed_for") == "output_limit":
        return Verdict.OUTPUT_LIMIT, f"more than {limits.output_bytes} bytes of output", ""
    outcome = raw.get("lcb")
    if not outcome:
        verdict, reason = classify_run(raw, limits)
        return (verdict or Verdict.RUNTIME_ERROR), reason or "the test process died without a result", ""
    kind = outcome.get("kind")
    if kind in ("error", "no_method"):
        return Verdict.RUNTIME_ERROR, outcome.get("error"), ""
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


def runner_killed_result(event: dict[str, Any]) -> dict[str, Any]:
    """The raw result of a test during which the program killed (or stopped) its job runner."""
    return {"event": "result", "runner_killed": True, "exit_code": None, "signal": event.get("signal"),
            "killed_for": None, "stray_processes": 0, "stdout": "", "stderr": "", "cpu_s": 0.0, "wall_s": 0.0,
            "max_rss_kb": 0}


def run_program(backend: Any, code: str, inputs: Sequence[str], limits: Limits, *, profile: str = "strict",
                func_name: str | None = None,
                on_result: Callable[[int, dict[str, Any]], bool] | None = None) -> tuple[str | None, list[dict[str, Any]]]:
    """Run `code` on `inputs` in one sandbox; returns (compile error, raw results).

    `on_result(index, raw)` returns True to go on to the next input. A sandbox that breaks yields a
    raw result with `sandbox_error` for the input it was on; one that breaks before the program's
    first test (a warm sandbox that died idle, say) is replaced and the program run again there.
    """
    job = {"code": code, "mode": "functional" if func_name else "stdin", "func_name": func_name,
           "profile": profile, "tests": list(inputs)}
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


def _await_done(session: Any) -> bool:
    """The supervisor's end of a job: True when the sandbox was wiped clean and may serve again."""
    done = session.recv(timeout=60)
    return done.get("event") == "done" and bool(done.get("clean"))


def judge_solution(backend: Any, problem: Problem, code: str, *, profile: str = "strict",
                   limits: Limits | None = None, stop_on_failure: bool = True) -> SolutionVerdict:
    limits = limits or limits_for(profile)
    decide = DECIDERS[profile]
    verdicts: list[TestVerdict] = []
    stop_early = stop_on_failure and not problem.checker  # a checker decides afterwards, on every test

    def on_result(index: int, raw: dict[str, Any]) -> bool:
        if "sandbox_error" in raw:
            return False
        test = problem.tests[index]
        verdict, reason, output = decide(raw, problem, test, limits)
        verdicts.append(TestVerdict(index, verdict, reason, raw.get("cpu_s", 0.0), raw.get("wall_s", 0.0),
                                    raw.get("max_rss_kb", 0), output[:4096], functional=bool(problem.func_name)))
        return not (stop_early and verdict is not Verdict.OK)

    if not problem.tests:
        return SolutionVerdict(Verdict.SANDBOX_FAILURE, reason="the problem has no tests")
    compile_error, raws = run_program(backend, code, [t.input for t in problem.tests], limits, profile=profile,
                                      func_name=problem.func_name, on_result=on_result)
    if compile_error:
        return SolutionVerdict(Verdict.COMPILE_ERROR, [TestVerdict(0, Verdict.COMPILE_ERROR, compile_error)], 0,
                               compile_error)
    if raws and "sandbox_error" in raws[-1]:
        index = len(verdicts)
        verdicts.append(TestVerdict(index, Verdict.SANDBOX_FAILURE, raws[-1]["sandbox_error"]))
    if problem.checker:
        _apply_checker(backend, problem, verdicts, limits)
    first_failure = next((t for t in verdicts if t.verdict is not Verdict.OK), None)
    if first_failure is not None:
        return SolutionVerdict(first_failure.verdict, verdicts, first_failure.index, first_failure.reason)
    if len(verdicts) < len(problem.tests):
        return SolutionVerdict(Verdict.SANDBOX_FAILURE, verdicts, len(verdicts), "not every test was run")
    return SolutionVerdict(Verdict.OK, verdicts)


def _apply_checker(backend: Any, problem: Problem, verdicts: list[TestVerdict], limits: Limits) -> None:
    to_check = [t for t in verdicts if t.verdict is Verdict.OK]
    if not to_check:
        return
    inputs = [json.dumps({"input": problem.tests[t.index].input, "output": t.output,
                          "expected": problem.tests[t.index].output}) for t in to_check]
    compile_error, raws = run_program(backend, problem.checker, inputs, limits)
    for position, test in enumerate(to_check):
        raw = raws[position] if position < len(raws) else None
        if compile_error or raw is None or "sandbox_error" in raw:
            test.verdict, test.reason = Verdict.SANDBOX_FAILURE, f"checker failed: {compile_error or (raw or {}).get('sandbox_error', 'no result')}"
        elif raw.get("signal") or raw.get("killed_for"):
            test.verdict, test.reason = Verdict.SANDBOX_FAILURE, "checker crashed or timed out"
        elif raw.get("exit_code") != 0:
            test.verdict = Verdict.WRONG_ANSWER
            test.reason = "checker rejected: " + ((raw.get("stdout") or raw.get("stderr") or "").strip()[:200] or f"exit {raw.get('exit_code')}")


@dataclass
class JudgeStats:
    solutions: int = 0
    tests_run: int = 0
    seconds: float = 0.0

    @property
    def tests_per_s(self) -> float:
        return self.tests_run / self.seconds if self.seconds else 0.0


def judge_many(backend: Any, items: Sequence[tuple[Problem, str]], *, profile: str = "strict",
               limits: Limits | None = None, workers: int = 2, stop_on_failure: bool = True
               ) -> tuple[list[SolutionVerdict], JudgeStats]:
    """Judge (problem, code) pairs in parallel; results in input order. A crash of one never stops the rest."""
    started = time.perf_counter()
    lock = threading.Lock()
    stats = JudgeStats()

    def one(item: tuple[Problem, str]) -> SolutionVerdict:
        problem, code = item
        try:
            result = judge_solution(backend, problem, code, profile=profile, limits=limits, stop_on_failure=stop_on_failure)
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
