"""Dual verification: code extraction, canonical outputs, the vote, the golden solution, a labelled study."""

import json

import pytest


from xcoder_assets.recipe import verification as v
from xcoder_assets.sandbox.judge import limits_for
from xcoder_assets.sandbox.runs import Program, RunCache, run_matrix


def test_exactly_one_python_block_that_parses():
    assert v.extract_solution_code("Reasoning...\n```python\nprint(1)\n```\nDone.").code == "print(1)\n"
    assert v.extract_solution_code("no code at all").status == "no_code_block"
    assert v.extract_solution_code("```python\na=1\n```\nor\n```python\na=2\n```").status == "multiple_code_blocks"
    broken = v.extract_solution_code("```python\ndef f(:\n```")
    assert broken.status == "syntax_error" and broken.reason.startswith("line 1") and broken.code is None
    assert v.extract_solution_code("```py\nx = 1\n```\n```text\nsample output\n```").code == "x = 1\n"


def test_test_programs_by_heading_or_order():
    answer = "### Generator\n```python\nprint(1)\n```\n\n### Validator\n```python\nimport sys\n```"
    programs = v.extract_test_programs(answer)
    assert programs.generator == "print(1)\n" and programs.validator == "import sys\n"
    assert v.extract_test_programs("```python\na=1\n```\n```python\nb=2\n```").validator == "b=2\n"
    assert v.extract_test_programs("```python\na=1\n```").reason == "no validator program in the answer"
    assert (
        "syntax error"
        in v.extract_test_programs("### Generator\n```python\n(\n```\n### Validator\n```python\nx\n```").reason
    )


def test_canonical_outputs_follow_the_comparison_rule():
    assert v.canonical_output("  0.50 \n1  2\n\n", False) == v.canonical_output("0.5\n1 2", False)
    assert v.canonical_output("-0.0", False) == v.canonical_output("0", False)
    assert v.canonical_output("YES", False) != v.canonical_output("yes", False)
    assert v.canonical_output('{"b": 1, "a": [1, 2]}', True) == v.canonical_output('{"a":[1,2],"b":1}', True)
    assert v.canonical_output("not json", True).startswith("\u0000unparseable")


def test_plurality_ties_and_agreement():
    assert v.vote("t", ["1", "1", "2", None]).expected == "1"
    tie = v.vote("t", ["1", "1", "2", "2"])
    assert not tie.verified and tie.reason == "tie" and tie.expected is None
    low = v.vote("t", ["1", "2", "3", "1", "4"], min_agreement=0.5)
    assert not low.verified and low.reason.startswith("agreement 0.40")
    assert v.vote("t", [None, None]).reason == "no run ended normally"
    only_voter = v.vote("t", ["7", None, None])
    assert only_voter.verified and only_voter.agreement == 1.0 and only_voter.voters == 1


def test_golden_is_confirmed_on_held_out_tests():
    tests = [f"t{i}" for i in range(10)]
    good, bad = ["x"] * 10, ["x"] * 5 + ["y"] * 5
    result = v.verify(tests, [good, good, good, bad], holdout_share=0.5, seed=1)
    assert result.status == "verified" and result.golden == 0 and result.verified_candidates == [0, 1, 2]
    assert set(result.selection) | set(result.holdout) == set(tests) and result.holdout
    none = v.verify(tests, [[None] * 10, [None] * 10])
    assert none.status == "rejected" and "0 verified tests" in none.reason


def test_a_golden_that_fails_held_out_tests_rejects_the_problem():
    tests = [f"t{i}" for i in range(12)]
    holdout = [t for t in tests if v.is_holdout(t, 0.5, seed=3)]
    selection = [t for t in tests if t not in holdout]
    assert holdout and selection
    selection_only = [("x" if t not in holdout else "w") for t in tests]
    # Candidate 0 is best on selection tests but wrong on every held-out test; candidate 1 is right
    # everywhere but one selection test, so it ranks second; the others split.
    one_selection_miss = ["v" if t == selection[0] else "x" for t in tests]
    halves = [["x" if i % 2 else "z" for i in range(12)], ["x" if i % 2 == 0 else "z" for i in range(12)]]
    result = v.verify(
        tests, [selection_only, one_selection_miss, *halves], holdout_share=0.5, seed=3, min_agreement=0.0
    )
    assert result.golden == 0 and result.status == "rejected" and result.rejection == "golden_fails_holdout"
    assert "held-out" in result.reason and result.verified_candidates == []
    # When candidate 1 passes every selection test too, the tie goes to the one that also passes the
    # held-out tests: the problem is verified with candidate 1 alone (0 fails held-out, 2 and 3 split).
    tied = v.verify(tests, [selection_only, ["x"] * 12, *halves], holdout_share=0.5, seed=3, min_agreement=0.0)
    assert tied.golden == 1 and tied.status == "verified" and tied.verified_candidates == [1]


def test_a_best_candidate_that_fails_a_selection_test_verifies_nothing():
    # every candidate passes the held-out tests but none passes every selection test: there is no
    # verified solution, so the problem must be rejected (it was "verified" with no solution row, and
    # its LiveCodeBench row took the best candidate's wrong outputs)
    tests = [f"t{i}" for i in range(12)]
    holdout = {t for t in tests if v.is_holdout(t, 0.4, seed=5)}
    selection = [t for t in tests if t not in holdout]
    assert holdout and len(selection) >= 4
    truth = {t: "x" for t in tests}
    candidates = []
    for miss in selection[:3]:  # each candidate wrong on one selection test of its own
        candidates.append([("bad-" + miss) if t == miss else truth[t] for t in tests])
    result = v.verify(tests, candidates, holdout_share=0.4, seed=5, min_agreement=0.5)
    assert all(vote.verified for vote in result.votes)
    assert result.status == "rejected" and result.rejection == "golden_fails_selection", result.reason
    assert result.verified_candidates == [] and "fails 1 of" in result.reason


def test_labelled_study_recovers_truth_and_never_prefers_a_wrong_golden():
    """Problems with known true outputs; candidates correct, agreeing-wrong, crashing, timing out."""
    for seed in range(300):
        import random

        rng = random.Random(seed)
        truths = [f"o{t}" for t in range(8)]
        n_correct, n_wrong = rng.randint(0, 5), rng.randint(0, 4)
        outputs = [list(truths) for _ in range(n_correct)] + [[t + "!" for t in truths] for _ in range(n_wrong)]
        outputs += [[None] * 8 for _ in range(rng.randint(0, 3))]  # crashes and timeouts
        is_correct = [True] * n_correct + [False] * (len(outputs) - n_correct)
        if not outputs:
            continue
        result = v.verify([f"t{i}" for i in range(8)], outputs, min_agreement=0.0, min_verified_tests=1, seed=seed)
        for test, vote in enumerate(result.votes):
            if n_correct > n_wrong:  # a strict plurality of correct candidates
                assert vote.verified and vote.expected == truths[test]
            elif n_correct == n_wrong and n_correct:
                assert not vote.verified and vote.reason == "tie"
            elif n_correct < n_wrong:  # agreeing wrong candidates outvote the right ones: the vote's known limit
                assert vote.verified and vote.expected == truths[test] + "!"
            else:  # only crashes and timeouts
                assert not vote.verified and vote.reason == "no run ended normally"
        if n_correct > n_wrong:
            assert result.status == "verified" and is_correct[result.golden]
            assert all(is_correct[c] for c in result.verified_candidates)
        elif n_correct < n_wrong:  # the golden is one of the agreeing wrong candidates, and only they verify
            assert result.status == "verified" and not is_correct[result.golden]
            assert result.verified_candidates == list(range(n_correct, n_correct + n_wrong))
        else:  # a tie or no output on every test: no verified test, so the problem is rejected
            assert result.status == "rejected" and result.rejection == "too_few_verified_tests", result.reason


# ---- the same with real programs in the sandbox ------------------------------------------------

SUM_INPUTS = [f"{n}\n{' '.join(str(i * 7 % 11) for i in range(n))}\n" for n in range(1, 9)]
CORRECT = [
    "n = int(input())\nprint(sum(map(int, input().split())))\n",
    "import sys\nd = sys.stdin.read().split()\nprint(sum(int(x) for x in d[1:]))\n",
    "n = int(input())\ntotal = 0\nfor x in input().split():\n    total += int(x)\nprint(total)\n",
]
AGREEING_WRONG = [
    "n = int(input())\nprint(sum(map(int, input().split())) + 1)\n",
    "# the same bug, written again\nn = int(input())\nprint(1 + sum(map(int, input().split())))\n",
]
CRASH = ["n = int(input())\nprint([][n])\n"]
TIMEOUT = ["while True:\n    pass\n"]


def test_labelled_study_in_the_sandbox(bwrap_backend, tmp_path):
    programs = [Program(code) for code in CORRECT + AGREEING_WRONG + CRASH + TIMEOUT]
    limits = limits_for("strict", 1)
    cache = RunCache(tmp_path / "runs.sqlite")
    runs, stats = run_matrix(
        bwrap_backend, programs, [SUM_INPUTS] * len(programs), limits, cache, abandon_after_timeouts=1
    )
    assert stats.executed == stats.runs - 7  # the timing-out program was abandoned after its first input
    assert runs[-1][0].status == "time_limit" and runs[-1][1].status == "abandoned"
    assert runs[-2][0].status == "runtime_error" and "IndexError" in runs[-2][0].reason
    outputs = [[v.canonical_output(run.stdout, False) if run.ended_normally else None for run in row] for row in runs]
    result = v.verify([f"t{i}" for i in range(len(SUM_INPUTS))], outputs)
    truths = [str(sum(i * 7 % 11 for i in range(n))) for n in range(1, 9)]
    assert [vote.expected for vote in result.votes] == truths
    assert result.status == "verified" and result.golden == 0 and result.verified_candidates == [0, 1, 2]
    again, stats_again = run_matrix(
        bwrap_backend, programs, [SUM_INPUTS] * len(programs), limits, cache, abandon_after_timeouts=1
    )
    assert stats_again.executed == 0 and stats_again.cached == stats.executed  # nothing is run twice
    tie = [Program(CORRECT[0]), Program(AGREEING_WRONG[0])]
    runs, _ = run_matrix(bwrap_backend, tie, [SUM_INPUTS] * 2, limits, RunCache(None))
    outputs = [[v.canonical_output(run.stdout, False) for run in row] for row in runs]
    tied = v.verify([f"t{i}" for i in range(len(SUM_INPUTS))], outputs)
    assert tied.status == "rejected" and all(vote.reason == "tie" for vote in tied.votes)


def test_vote_command(tmp_path, capsys):
    from xcoder_assets.cli import main as xcoder
    from xcoder_assets_tests.lcb_cases import LCB_SAMPLES

    gens = [
        {
            "question_id": "1873_A",
            "code_list": [
                "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n    print('YES' if sum(a != b for a, b in zip(s, 'abc')) in (0, 2) else 'NO')\n",
                "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n    print('YES' if s in ('abc', 'acb', 'bac', 'cba') else 'NO')\n",
                "t = int(input())\nfor _ in range(t):\n    print('YES' if input().strip() == 'abc' else 'NO')\n",
                "raise SystemExit(1)\n",
            ],
        }
    ]
    (tmp_path / "g.json").write_text(json.dumps(gens))
    out = tmp_path / "v.json"
    assert (
        xcoder(
            [
                "vote",
                "--problems",
                str(LCB_SAMPLES),
                "--generations",
                str(tmp_path / "g.json"),
                "--out",
                str(out),
                "--workers",
                "2",
            ]
        )
        == 0
    )
    (report,) = json.loads(out.read_text())
    assert report["status"] == "verified" and report["golden_index"] == 0 and report["verified_indices"] == [0, 1]
    assert report["golden_passed_holdout"] is True
    assert report["tests"][0]["voted_output"] == "YES\nYES\nYES\nNO\nNO\nYES" and report["tests"][0]["top_votes"] == 2
    assert "sandbox runs" in capsys.readouterr().out.strip().splitlines()[-1]


# ---- one vote for verified_solutions and `xcoder vote`: rows and reports ---------------------------


class FakeRun:
    def __init__(self, stdout=None, status="ok", wall_s=0.1, max_rss_kb=100):
        self.stdout, self.status, self.wall_s, self.max_rss_kb = stdout or "", status, wall_s, max_rss_kb

    @property
    def ended_normally(self):
        return self.status == "ok"


def test_vote_on_runs_and_its_rows():
    tests = [f"test-{i}" for i in range(6)]
    good = [FakeRun(f"{i}\n") for i in range(6)]
    wrong = [FakeRun(f"{i + 1}\n") for i in range(6)]
    slow = [FakeRun(status="time_limit")] + [FakeRun(status="abandoned")] * 5
    runs = [good, list(good), wrong, slow]
    settings = v.VoteSettings(min_agreement=0.5, holdout_share=0.3, min_verified_tests=3, seed=1)
    result = v.vote_on_runs(tests, runs, False, settings)
    assert result.status == "verified" and result.verified_candidates == [0, 1]
    report = v.vote_report(result, with_outputs=True)
    assert [e["voted_output"] for e in report] == [str(i) for i in range(6)]
    assert report[0]["voters"] == 3 and report[0]["top_votes"] == 2 and report[0]["candidates"] == 4
    assert {e["test_id"] for e in report if e["holdout"]} == set(result.holdout)
    assert "voted_output" not in v.vote_report(result)[0]

    cands = [{"candidate_id": f"cand-{c}", "code": f"code {c}"} for c in range(4)]
    rows = v.solution_rows("prob-1", tests, cands, runs, result, "all", "run")
    assert [r["candidate_id"] for r in rows] == ["cand-0", "cand-1"] and [r["is_golden"] for r in rows] == [True, False]
    assert rows[0]["candidates_passing"] == 2 and rows[0]["tests_verified"] == 6
    assert set(json.loads(rows[0]["votes_json"])) == set(tests)
    assert [r["candidate_id"] for r in v.solution_rows("prob-1", tests, cands, runs, result, "golden", "run")] == [
        "cand-0"
    ]

    tally = v.VerificationTally()
    tally.add(result)
    assert tally.tests == 6 and tally.unverified == 0 and tally.pass_rates == [0.5] and tally.easy == 0


def test_votes_json_reads_back_as_the_records_the_vote_wrote():
    tests = [f"test-{i}" for i in range(6)]
    good = [FakeRun(f"{i}\n") for i in range(6)]
    runs = [good, list(good), [FakeRun(f"{i + 1}\n") for i in range(6)], [FakeRun(status="time_limit")] * 6]
    result = v.vote_on_runs(tests, runs, False, v.VoteSettings(seed=1))
    (row, _) = v.solution_rows(
        "prob-1", tests, [{"candidate_id": f"c{c}", "code": ""} for c in range(4)], runs, result, "all", "r"
    )
    read = v.read_votes(row["votes_json"])
    assert read == v.vote_records(result)  # what the vote wrote, typed, in test order
    assert [r.test_id for r in read] == tests and all(r.verified and not r.has_output for r in read)
    assert read[0].top_votes == 2 and read[0].voters == 3 and read[0].candidates == 4
    assert {r.test_id for r in read if r.holdout} == set(result.holdout)
    with_outputs = v.vote_records(result, with_outputs=True)
    assert v.read_votes(json.dumps({r.test_id: r.entry() for r in with_outputs})) == with_outputs
    assert v.read_votes("{}") == [] and v.read_votes(None) == [] and v.read_votes("") == []
    with pytest.raises(ValueError, match="test 't1' is malformed"):
        v.read_votes(json.dumps({"t1": {"verified": True}}))
    with pytest.raises(ValueError, match="expected an object"):
        v.read_votes("[]")


def test_the_vote_settings_own_every_default():
    """One owner: the recipe's VoteSettings; verify(), verified_solutions' run config agree with it."""
    from xcoder_assets.defs.verification import VerificationConfig

    defaults = v.VoteSettings()
    assert VerificationConfig().settings() == defaults
    tests = [f"t{i}" for i in range(40)]
    outputs = [[str(i) for i in range(40)]] * 3
    assert v.verify(tests, outputs).holdout == v.verify(tests, outputs, seed=defaults.seed).holdout
    assert v.verify(tests, outputs).holdout != v.verify(tests, outputs, seed=defaults.seed + 1).holdout


def test_rejections_are_typed_and_rows_keep_the_vote():
    tests = ["t0", "t1"]
    runs = [[FakeRun("1"), FakeRun("2")], [FakeRun("3"), FakeRun("4")]]
    result = v.vote_on_runs(tests, runs, False, v.VoteSettings())
    assert result.status == "rejected" and result.rejection == "too_few_verified_tests"
    (row,) = v.solution_rows("prob-1", tests, [{"candidate_id": "a"}, {"candidate_id": "b"}], runs, result, "all", "r")
    assert row["status"] == "rejected" and row["tests_total"] == 2 and row["candidate_id"] is None
    tally = v.VerificationTally()
    tally.add(result)
    assert tally.rejections == {"too_few_verified_tests": 1} and tally.unverified_share == 1.0

    work, rejected = v.plan(["p1", "p2", "p3", "p4"], {"p1": "ok", "p2": "too_few_inputs", "p4": "ok"}, {"p1"})
    assert work == ["p1"]
    assert rejected == {
        "p2": ("too_few_test_inputs", "too few valid test inputs"),
        "p3": ("no_test_inputs", "no test inputs"),
        "p4": ("no_usable_candidate", "no usable candidate solution"),
    }
    assert v.rejected_row("p3", "no test inputs", "r")["verified_id"].startswith("ver-")


def test_histogram_includes_the_upper_edge():
    assert v.histogram([0.0, 0.3, 0.5, 1.0, 1.0], [0, 0.5, 1.0]) == [("0.00-0.50", 2), ("0.50-1.00", 3)]


def test_the_gate_opens_at_its_threshold_closes_without_tests_and_survives_its_record():
    tally = v.VerificationTally(tests=10, unverified=4)
    open_gate = v.VerificationGate.of(tally, 0.6)
    assert open_gate.passed and open_gate.verified_test_share == 0.6
    closed = v.VerificationGate.of(tally, 0.61)
    assert not closed.passed and closed.reason == "verified_test_share 0.6 < 0.61"
    empty = v.VerificationGate.of(v.VerificationTally(), 0.0)
    assert not empty.passed and empty.reason == "no test was voted on"
    assert v.VerificationGate.from_record(closed.as_record()) == closed
    assert v.VerificationGate.from_record(None) is None
