"""What a problem's generator and validator make of its test inputs (the runs are given, not executed)."""

import json
from dataclasses import dataclass

from xcoder_assets.recipe import test_inputs as ti


@dataclass
class Run:
    status: str = "ok"
    stdout: str = ""
    stderr: str = ""
    reason: str | None = None

    @property
    def ended_normally(self):
        return self.status == "ok"

    def describe(self):
        return self.status if not self.reason else f"{self.status}: {self.reason}"


def test_generator_jobs_cover_every_kind_with_the_seed():
    jobs = ti.generator_jobs(2, 3, 1, seed=7)
    assert [(j.kind, j.index) for j in jobs] == [
        ("small", 0),
        ("small", 1),
        ("random", 0),
        ("random", 1),
        ("random", 2),
        ("max", 0),
    ]
    assert json.loads(jobs[0].stdin) == {"seed": 7, "kind": "small", "index": 0}


def test_cases_are_classified_with_their_reasons():
    jobs = ti.generator_jobs(2, 2, 1, seed=1)
    generator_runs = [
        Run(stdout="1 2\n"),
        Run(stdout="1 2\n"),
        Run(stdout="x" * 50),
        Run(stdout="bad\n"),
        Run("runtime_error", reason="exit code 1: ValueError"),
    ]
    cases = ti.cases_of([{"input": "3 4\n", "output": "7"}], jobs, generator_runs)
    assert [c.kind for c in cases] == ["example", "small", "small", "random", "random", "max"]
    assert cases[-1].failure.status == "generator_error" and ti.to_validate(cases) == [
        "3 4\n",
        "1 2\n",
        "1 2\n",
        "x" * 50,
        "bad\n",
    ]
    validator_runs = [Run(), Run(), Run(), Run(), Run("runtime_error", stdout="n out of range\n")]
    rows, generator_row = ti.classify(
        "prob-1",
        cases,
        validator_runs,
        max_input_bytes=20,
        min_valid=2,
        call_id="call-1",
        generator="g",
        validator="v",
        run_id="r",
    )
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("example", "valid"),
        ("small", "valid"),
        ("small", "duplicate"),
        ("random", "oversized"),
        ("random", "invalid"),
        ("max", "generator_error"),
    ]
    assert rows[4]["reason"] == "n out of range" and rows[5]["reason"] == "runtime_error: exit code 1: ValueError"
    assert rows[3]["reason"] == "50 bytes > 20"
    assert len({r["test_id"] for r in rows}) == len(rows)
    assert generator_row["status"] == "ok" and generator_row["valid_inputs"] == 2
    assert json.loads(generator_row["dropped_json"]) == {
        "duplicate": 1,
        "oversized": 1,
        "invalid": 1,
        "generator_error": 1,
    }
    tally = ti.InputsTally()
    tally.add(rows, [generator_row])
    assert tally.dropped_share == 4 / 5  # the example is not a generated input
    assert tally.dropped.count == 4 and tally.generated == 5 and tally.valid_counts == [2]
    _, strict = ti.classify(
        "prob-1",
        cases,
        validator_runs,
        max_input_bytes=20,
        min_valid=3,
        call_id="call-1",
        generator="g",
        validator="v",
        run_id="r",
    )
    assert strict["status"] == "too_few_inputs" and strict["reason"] == "2 valid inputs (< 3)"


def test_prompt_values_follow_the_style():
    leetcode = ti.prompt_values(
        {"style": "leetcode", "signature": "def f(self, a: int) -> int", "constraints": None}, "Q"
    )
    assert (
        "one JSON value per line" in leetcode["input_instruction"] and leetcode["constraints"] == "(see the statement)"
    )
    assert (
        "format the statement gives"
        in ti.prompt_values({"style": "codeforces", "constraints": "1 <= n"}, "Q")["input_instruction"]
    )
