"""lcb/verified_problems.jsonl as LiveCodeBench's own code reads and scores it.

Verified problems (one stdin, three functional) are voted on in the sandbox as verified_solutions votes,
exported with `lcb_row`, written as JSON lines, and each line is given as it is to the official
`CodeGenerationProblem` loader and `codegen_metrics` (nvidia-livecodebench), live: every golden solution
scores 1, a wrong one 0.
"""

import base64
import json
import pickle
import zlib
from datetime import date, datetime

from xcoder_assets.recipe import verification as v
from xcoder_assets.recipe.benchmark import problem_from_record
from xcoder_assets.recipe.shards import rl_tests_from_lcb_row
from xcoder_assets.sandbox.judge import Verdict, judge_solution, limits_for
from xcoder_assets.sandbox.runs import Program, RunCache, run_matrix
from xcoder_assets_tests.recipe.official_scores import official_scores

# (problem row, tests as (kind, input), golden code, wrong code). Generated inputs end with a newline, as
# the test generators print them; the statement's examples do not.
PROBLEMS = [
    (
        {"problem_id": "prob-sum", "title": "Sum", "style": "codeforces", "function_name": None, "starter_code": None},
        [("example", "3\n1 2 3\n"), ("small", "1\n5\n"), ("random", "4\n1 1 1 1\n"), ("max", "2\n-3 3\n")],
        "n = int(input())\nprint(sum(map(int, input().split())))\n",
        "n = int(input())\nprint(sum(map(int, input().split())) + 1)\n",
    ),
    (
        {
            "problem_id": "prob-pairs",
            "title": "Pairs",
            "style": "leetcode",
            "function_name": "countPairs",
            "starter_code": "class Solution:\n    def countPairs(self, nums: List[int], k: int) -> int:\n        ",
        },
        [("example", "[1, 2, 3, 4]\n3"), ("small", "[5, 1]\n3\n"), ("random", "[2, 2, 2]\n2\n"), ("max", "[7]\n7\n")],
        "class Solution:\n    def countPairs(self, nums: List[int], k: int) -> int:\n"
        "        return sum((nums[i] + nums[j]) % k == 0 for i in range(len(nums)) for j in range(i + 1, len(nums)))\n",
        "class Solution:\n    def countPairs(self, nums: List[int], k: int) -> int:\n        return len(nums)\n",
    ),
    (
        {
            "problem_id": "prob-prefix",
            "title": "Prefix sums",
            "style": "leetcode",
            "function_name": "prefixSums",
            "starter_code": "class Solution:\n    def prefixSums(self, nums: List[int]) -> List[int]:\n        ",
        },
        [("example", "[1, 2, 3]"), ("small", "[4]\n"), ("random", "[0, -1, 5, 2]\n"), ("max", "[10, 20]\n\n")],
        "from itertools import accumulate\n\nclass Solution:\n"
        "    def prefixSums(self, nums: List[int]) -> List[int]:\n        return list(accumulate(nums))\n",
        "class Solution:\n    def prefixSums(self, nums: List[int]) -> List[int]:\n        return nums\n",
    ),
    (
        {
            "problem_id": "prob-word",
            "title": "Word",
            "style": "leetcode",
            "function_name": "hasLetter",
            "starter_code": "class Solution:\n    def hasLetter(self, word: str, letter: str) -> bool:\n        ",
        },
        [("example", '"abc"\n"b"'), ("small", '"a"\n"z"\n'), ("random", '"hello world"\n"o"\n'), ("max", '""\n"q"\n')],
        "class Solution:\n    def hasLetter(self, word: str, letter: str) -> bool:\n        return letter in word\n",
        "class Solution:\n    def hasLetter(self, word: str, letter: str) -> bool:\n        return True\n",
    ),
]


def exported_lines(backend, tmp_path) -> list[str]:
    """The problems voted on as verified_solutions votes (the golden program twice, the wrong one once) and
    written as defs/verification.py writes lcb/verified_problems.jsonl."""
    lines = []
    for problem, cases, golden, wrong in PROBLEMS:
        tests = [
            {"test_id": f"{problem['problem_id']}-t{i}", "kind": kind, "input": text}
            for i, (kind, text) in enumerate(cases)
        ]
        programs = [Program(code, problem["function_name"]) for code in (golden, golden, wrong)]
        runs, _ = run_matrix(
            backend,
            programs,
            [[t["input"] for t in tests]] * len(programs),
            limits_for("strict", 2),
            RunCache(tmp_path / "runs.sqlite"),
        )
        assert all(run.ended_normally for row in runs for run in row), runs
        result = v.vote_on_runs(
            [t["test_id"] for t in tests], runs, bool(problem["function_name"]), v.VoteSettings(holdout_share=0.25)
        )
        assert result.status == "verified" and result.golden in (0, 1), result
        row = v.lcb_row(problem, f"Solve {problem['title']}.", tests, result, runs[result.golden])
        lines.append(json.dumps(row) + "\n")
    return lines


def test_official_livecodebench_loads_every_exported_row_and_golden_solutions_score_1(bwrap_backend, tmp_path):
    lines = exported_lines(bwrap_backend, tmp_path)
    rows = [json.loads(line) for line in lines]
    scores = official_scores(rows, [[p[2], p[3]] for p in PROBLEMS], tmp_path / "scores.json", as_is=True)
    for index, (problem, cases, _, _) in enumerate(PROBLEMS):
        golden, wrong = scores["results"][str(index)]
        assert golden == [True] * len(cases), (problem["problem_id"], golden)
        assert not all(r is True for r in wrong), (problem["problem_id"], wrong)
        assert scores["detail"][str(index)] == 0.5  # one of its two samples passes: the golden one
    # the fields as the dataset writes them
    for row, (problem, cases, _, _) in zip(rows, PROBLEMS):
        assert datetime.fromisoformat(row["contest_date"]).date() == v.SYNTHETIC_CONTEST_DATE
        public = json.loads(row["public_test_cases"])
        private = json.loads(pickle.loads(zlib.decompress(base64.b64decode(row["private_test_cases"]))))
        assert len(public) == 1 and len(public) + len(private) == len(cases)
        metadata = json.loads(row["metadata"])
        if problem["function_name"]:
            assert metadata == {"func_name": problem["function_name"]}
            for case in public + private:
                assert case["testtype"] == "functional" and not case["input"].endswith("\n")
                [json.loads(line) for line in case["input"].split("\n")]  # each line one JSON value
                assert case["output"] == json.dumps(json.loads(case["output"]))  # a bare JSON value
        else:
            assert metadata == {} and all(c["testtype"] == "stdin" for c in public + private)
            assert public[0] == {"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}


def test_exported_rows_read_back_through_our_readers_and_the_lcb_judge(bwrap_backend, tmp_path):
    lines = exported_lines(bwrap_backend, tmp_path)
    for line, (problem, cases, golden, wrong) in zip(lines, PROBLEMS):
        record = json.loads(line)
        lcb = problem_from_record(record, source="xcoder-verified", location="verified_problems.jsonl:1")
        assert lcb.func_name == problem["function_name"] and lcb.contest_date == v.SYNTHETIC_CONTEST_DATE
        assert len(lcb.public_tests) + len(lcb.private_tests) == len(cases)
        assert [t for t, _ in rl_tests_from_lcb_row(record)] == [t.input for t in lcb.judge_problem().tests]
        # benchmark_scores' judge: the official harness's semantics in the sandbox
        verdict = judge_solution(bwrap_backend, lcb.judge_problem(), golden, profile="lcb")
        assert verdict.verdict is Verdict.OK, (problem["problem_id"], verdict.reason)
        assert judge_solution(bwrap_backend, lcb.judge_problem(), wrong, profile="lcb").verdict is not Verdict.OK


def test_a_nightly_batch_dates_its_problems():
    assert v.synthetic_contest_date("nightly-2026-03-04") == date(2026, 3, 4)
    assert v.synthetic_contest_date("nightly-2026-03-04.s3-of-8") == date(2026, 3, 4)  # a shard of that night
    assert v.synthetic_contest_date("demo") == v.synthetic_contest_date(None) == v.SYNTHETIC_CONTEST_DATE
    assert v.synthetic_contest_date("nightly-2026-13-40") == v.SYNTHETIC_CONTEST_DATE
    problem, cases, _, _ = PROBLEMS[0]
    tests = [{"test_id": f"t{i}", "kind": kind, "input": text} for i, (kind, text) in enumerate(cases)]
    result = v.verify([t["test_id"] for t in tests], [["6"] * 4, ["6"] * 4])

    class Run:
        stdout = "6\n"

    row = v.lcb_row(problem, "q", tests, result, [Run()] * 4, batch="nightly-2026-03-04")
    assert row["contest_date"] == "2026-03-04T00:00:00"
    assert v.lcb_row({**problem, "batch": "nightly-2025-12-31"}, "q", tests, result, [Run()] * 4)["contest_date"] == (
        "2025-12-31T00:00:00"
    )


def test_functional_inputs_are_one_json_value_per_line():
    assert v.lcb_functional_input("[1, 2]\n12\n") == "[1, 2]\n12"
    assert v.lcb_functional_input("[1, 2]\r\n\n12\n\n") == "[1, 2]\n12"
    assert v.lcb_functional_input('"a b"') == '"a b"'
