"""A model scored end to end: a scripted model over real HTTP, the gateway, the lcb judge, the scores."""

import json
from datetime import date

import pytest

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway
from xcoder_assets.llm.settings import GenerationParams, RoleSettings
from xcoder_assets.recipe.benchmark import PAPER_WINDOWS, parse_windows, problem_from_record, scores
from xcoder_assets.recipe.evaluation import ROLE, evaluate_model
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets_tests.fake_lcb_model import FakeLcbModel
from xcoder_assets_tests.lcb_cases import HALF_TESTS, SUM_TESTS, functional_problem, stdin_problem


def fenced(code: str) -> str:
    return f"Here is the program.\n```python\n{code}```\n"


SUM_OK = "a, b = map(int, input().split())\nprint(a + b)\n"
SUM_WRONG = "a, b = map(int, input().split())\nprint(a - b)\n"
PAIR_OK = "class Solution:\n    def makePair(self, a, b):\n        return [a, b]\n"
PAIR_TUPLE = "class Solution:\n    def makePair(self, a, b):\n        return (a, b)\n"
PAIR_WRONG = "class Solution:\n    def makePair(self, a, b):\n        return [b, a]\n"
HALF_OK = "n = int(input())\nprint(n / 2)\n"

# (row, answers by seed): sum 2 of 4 (one answer has no code), pair 3 of 4, half 4 of 4
SCRIPT = [
    (
        dict(
            stdin_problem("sum", SUM_TESTS),
            question_content="Print the sum of two integers.",
            difficulty="easy",
            contest_date="2024-09-01T00:00:00",
        ),
        [fenced(SUM_OK), fenced(SUM_OK), fenced(SUM_WRONG), "The answer is the sum; no code needed."],
    ),
    (
        dict(
            functional_problem("pair", "makePair", [("1\n2", "[1, 2]"), ("3\n4", "[3, 4]")]),
            question_content="Return the two arguments as a list.",
            difficulty="medium",
            contest_date="2025-03-01T00:00:00",
            starter_code="class Solution:\n    def makePair(self, a: int, b: int) -> list:\n        ",
        ),
        [fenced(PAIR_OK), fenced(PAIR_TUPLE), fenced(PAIR_WRONG), fenced(PAIR_OK)],
    ),
    (
        dict(
            stdin_problem("half", HALF_TESTS),
            question_content="Print half of n.",
            difficulty="hard",
            contest_date="2024-07-01T00:00:00",
        ),
        [fenced(HALF_OK)],
    ),
]
PROBLEMS = [problem_from_record(row, source="test", location=row["question_id"]) for row, _ in SCRIPT]
ANSWERS = {row["question_content"]: answers for row, answers in SCRIPT}


def _gateway(url: str, cache_path, retries: int = 2) -> LLMGateway:
    settings = RoleSettings(ROLE, "openai/fake-coder", GenerationParams(0.6, 0.95, 2048), api_base=url, api_key="k")
    return LLMGateway(
        {ROLE: settings},
        ResponseCache(cache_path),
        GatewayConfig(max_in_flight=8, max_retries=retries, backoff_base_s=0.01, backoff_max_s=0.02),
    )


def test_scores_over_real_http_and_a_rerun_makes_no_calls(bwrap_backend, tmp_path):
    template = load_template("solve")
    with FakeLcbModel(ANSWERS) as model:
        gateway = _gateway(model.url, tmp_path / "cache.sqlite")
        run = evaluate_model(PROBLEMS, gateway, template, bwrap_backend, n=4, seed=100, workers=2)
        sent = list(model.requests)
        again = _gateway(model.url, tmp_path / "cache.sqlite")
        rerun = evaluate_model(PROBLEMS, again, template, bwrap_backend, n=4, seed=100, workers=2)
    # n samples are n distinct requests (seeds 100..103 for each problem), and a rerun sends none
    assert len(sent) == 12 and sorted(r["seed"] for r in sent) == sorted(list(range(100, 104)) * 3)
    assert again.stats.llm_calls == 0 and again.stats.cache_hits == 12
    assert len(model.requests) == 12
    # LiveCodeBench's prompt: its system message, and the starter code of functional problems
    pair_request = next(r for r in sent if "Return the two arguments" in r["messages"][-1]["content"])
    assert pair_request["messages"][0]["content"].startswith("You are an expert Python programmer.")
    assert "def makePair(self, a: int, b: int)" in pair_request["messages"][-1]["content"]

    scored = scores(run.results, parse_windows(PAPER_WINDOWS), cutoff=date(2024, 8, 15))
    by_id = {r.problem.question_id: r for r in run.results}
    assert [by_id[q].pass_at_1 for q in ("sum", "pair", "half")] == [0.5, 0.75, 1.0]
    assert scored["pass@1"] == pytest.approx(0.75)
    assert scored["by_difficulty"] == {"easy": 0.5, "hard": 1.0, "medium": 0.75}
    assert scored["by_window"]["v5"] == {"pass@1": 0.5, "problems": 1, "start": "2024-08-01", "end": "2025-02-01"}
    assert scored["by_window"]["v6"]["pass@1"] == 0.75 and scored["by_window"]["v6"]["problems"] == 1
    assert scored["contamination"]["pass@1_before"] == 1.0
    assert scored["contamination"]["pass@1_after"] == pytest.approx(0.625)
    assert scored["contamination"]["gap"] == pytest.approx(0.375)
    assert scored["generations"] == {"ok": 11, "failed": 1, "by_status": {"no_code": 1, "ok": 11}}
    # half has one scripted answer: its four seeds all get it, and each is judged
    assert by_id["half"].graded == (True, True, True, True)
    assert scores(rerun.results, [])["pass@1"] == pytest.approx(0.75)


def test_an_endpoint_that_refuses_every_request_gives_error_rows_not_a_crash(bwrap_backend, tmp_path):
    with FakeLcbModel(ANSWERS, refuse=True) as model:
        run = evaluate_model(
            PROBLEMS,
            _gateway(model.url, tmp_path / "c.sqlite", retries=1),
            load_template("solve"),
            bwrap_backend,
            n=2,
            workers=2,
        )
    scored = scores(run.results, [])
    assert scored["pass@1"] == 0.0 and scored["problems"] == 3
    assert scored["generations"]["by_status"] == {"error": 6}
    assert all(s.verdict is None and "503" in (s.generation.reason or "") for s in run.samples), json.dumps(
        [s.generation.reason for s in run.samples]
    )


def test_generation_keeps_the_gateway_limit_full_while_judging(bwrap_backend, tmp_path):
    # 6 problems x n=4 with 8 in flight: two whole problems at a time, judged as they come back
    rows = [
        (
            dict(row, question_id=f"{row['question_id']}{k}", question_content=f"{row['question_content']} ({k})"),
            answers,
        )
        for k in range(2)
        for row, answers in SCRIPT
    ]
    problems = [problem_from_record(row, source="t", location="t") for row, _ in rows]
    with FakeLcbModel({row["question_content"]: answers for row, answers in rows}, latency_s=0.5) as model:
        run = evaluate_model(
            problems, _gateway(model.url, tmp_path / "c.sqlite"), load_template("solve"), bwrap_backend, n=4, workers=2
        )
    assert model.peak_in_flight == 8 and len(model.requests) == 24
    assert scores(run.results, [])["pass@1"] == pytest.approx(0.75)
