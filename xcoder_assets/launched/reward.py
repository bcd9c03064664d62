"""The RL reward: the sandbox pass rate of a completion's code on the problem's verified tests.

The recipe's reward (as the rl shards carry it in `reward`): scale (5.0) x the fraction of up to
max_tests (10) tests passed, no_code (-2.0) for an answer without code or with code that does not
parse. The code is taken as LiveCodeBench takes it (the last fenced block, after the reasoning) and
runs in our judge, `strict` profile, in the sandbox like every generated program: never in the
trainer's process.
"""

from __future__ import annotations

import ast
import hashlib
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from xcoder_assets.recipe.benchmark import extract_lcb_code
from xcoder_assets.sandbox.judge import Problem, TestCase, judge_solution
from xcoder_assets.sandbox.outcome import Verdict

RewardStatus = Literal["scored", "no_code", "syntax_error", "sandbox_failure"]
DEFAULT_SPEC = {"kind": "sandbox_pass_rate", "scale": 5.0, "no_code": -2.0, "max_tests": 10}


@dataclass(frozen=True)
class RewardOutcome:
    status: RewardStatus
    reward: float
    passed: int = 0
    tests: int = 0
    reason: str | None = None


def completion_text(completion: Any) -> str:
    """TRL hands a conversational completion as a list of messages, a plain one as a string."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    return str(completion or "")


def answer_part(text: str) -> str:
    """The answer after the reasoning: past the last </think>; nothing when a <think> never closed (cut off)."""
    lowered = text.lower()
    if "</think>" in lowered:
        return text[lowered.rindex("</think>") + len("</think>") :]
    if "<think>" in lowered:
        return ""
    return text


def sampled_tests(problem_id: str, tests: Sequence[dict[str, Any]], max_tests: int) -> tuple[TestCase, ...]:
    """Up to max_tests tests, the same ones for every rollout of a problem (ranked by a hash of problem and index)."""
    cases = [TestCase(str(t["input"]), str(t["output"])) for t in tests]
    if len(cases) <= max_tests:
        return tuple(cases)
    ranked = sorted(range(len(cases)), key=lambda i: hashlib.sha256(f"{problem_id}:{i}".encode()).hexdigest())
    return tuple(cases[i] for i in sorted(ranked[:max_tests]))


def score_completion(
    backend: Any,
    text: str,
    problem_id: str,
    tests: Sequence[dict[str, Any]],
    func_name: str | None,
    spec: dict[str, Any] | str | None = None,
) -> RewardOutcome:
    if isinstance(spec, str):  # the trainer's dataset carries it as JSON (one column type for every row)
        spec = json.loads(spec) if spec else None
    spec = {**DEFAULT_SPEC, **(spec or {})}
    if spec["kind"] != "sandbox_pass_rate":
        raise ValueError(f"reward kind {spec['kind']!r} is not known (sandbox_pass_rate)")
    answer = answer_part(text)
    code = extract_lcb_code(answer)
    if not code.strip():
        return RewardOutcome("no_code", float(spec["no_code"]), reason="no fenced code block")
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return RewardOutcome("syntax_error", float(spec["no_code"]), reason=f"line {exc.lineno}: {exc.msg}")
    cases = sampled_tests(problem_id, tests, int(spec["max_tests"]))
    if not cases:
        raise ValueError(f"problem {problem_id}: no verified tests to reward against")
    verdict = judge_solution(
        backend, Problem(problem_id, cases, func_name=func_name or None), code, profile="strict", stop_on_failure=False
    )
    passed = sum(t.verdict is Verdict.OK for t in verdict.tests)
    broken = [t for t in verdict.tests if t.verdict is Verdict.SANDBOX_FAILURE]
    reward = float(spec["scale"]) * passed / len(cases)
    if broken:  # the sandbox's failure, not the model's: scored on what ran, and counted apart
        return RewardOutcome("sandbox_failure", reward, passed, len(cases), broken[0].reason)
    return RewardOutcome("scored", reward, passed, len(cases))


class SandboxReward:
    """A TRL reward function (`f(completions, **columns) -> list[float]`) over one sandbox backend."""

    __name__ = "sandbox_pass_rate"  # TRL names the logged reward column after the function

    def __init__(self, backend_name: str = "bwrap", workers: int = 2, fresh_sandbox: bool = True):
        from xcoder_assets.sandbox.backends import make_backend

        # fresh_sandbox: a policy looking for reward finds no channel from one completion to the next
        self.backend = make_backend(backend_name, fresh_sandbox=fresh_sandbox)  # SandboxUnavailable: before training
        self.workers = max(1, workers)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(
        self,
        completions: list[Any],
        problem_id: list[str],
        tests: list[list[dict[str, Any]]],
        func_name: list[str | None] | None = None,
        reward: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> list[float]:
        n = len(completions)
        func_name = func_name or [None] * n
        reward = reward or [None] * n

        def one(i: int) -> RewardOutcome:
            return score_completion(
                self.backend, completion_text(completions[i]), problem_id[i], tests[i], func_name[i], reward[i]
            )

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            outcomes = list(pool.map(one, range(n)))
        with self._lock:
            self.counts.update(o.status for o in outcomes)
        return [o.reward for o in outcomes]

    def close(self) -> None:
        self.backend.close()
