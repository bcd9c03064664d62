"""Checks with findings name the rows: a bounded list of ids with their count, and the command that traces one."""

import json

import polars as pl

from xcoder_assets.defs.checks import LISTED_ROWS, row_findings
from xcoder_assets.defs.synthesis import ProblemsConfig, _problem_checks
from xcoder_assets.defs.verification import (
    VerificationConfig,
    VerifiedSummary,
    _gate_check,
    _unverified_tests,
    _verification_checks,
)
from xcoder_assets.recipe.composition import ProblemShares, ProblemsTally
from xcoder_assets.recipe.verification import TestVoteRecord, VerificationGate, VerificationTally


def _meta(check) -> dict:
    return {k: getattr(v, "value", v) for k, v in check.metadata.items()}


def test_row_findings_are_bounded_counted_and_traceable():
    ids = [f"prob-{i:016x}" for i in range(LISTED_ROWS + 5)]
    found = row_findings("leaked_problems", ids + ids[:3])  # a repeated id counts once
    assert found["leaked_problems"] == LISTED_ROWS + 5
    assert found["leaked_problems_ids"] == ", ".join(ids[:LISTED_ROWS]) + " (and 5 more)"
    assert found["trace"] == f".venv/bin/xcoder trace {ids[0]}"
    assert row_findings("leaked_problems", []) == {"leaked_problems": 0}
    assert row_findings("x", [], counted=True) == {}
    assert row_findings("rejected", ["a.jsonl:2"], traceable=False) == {"rejected": 1, "rejected_ids": "a.jsonl:2"}


def test_problem_checks_list_the_leaked_and_duplicate_problems():
    # the problems stage's tally, counted as its rows were written
    tally = ProblemsTally()
    tally.add(
        [
            {"problem_id": f"prob-000000000000000{i}", "status": status, "style": "codeforces", "title": "t"}
            | {"feature_ids": [], "attempts": 2}
            for i, status in enumerate(["ok", "leak", "duplicate"], 1)
        ]
    )
    shares = ProblemShares(3, {"codeforces": 1.0}, {"codeforces": 0.0}, 1 / 3, 1 / 3, 5, 10)
    checks = {c.check_name: _meta(c) for c in _problem_checks(shares, ProblemsConfig(), tally)}
    assert checks["leak_share"]["leaked_problems"] == 1
    assert checks["leak_share"]["leaked_problems_ids"] == "prob-0000000000000002"
    assert checks["leak_share"]["trace"] == ".venv/bin/xcoder trace prob-0000000000000002"
    assert checks["duplicate_share"]["duplicate_problems"] == 1
    assert checks["duplicate_share"]["duplicate_problems_ids"] == "prob-0000000000000003"


def _votes(**verified: bool) -> str:
    """A votes_json cell in the writer's own form (TestVoteRecord.entry): two of two voters agree, or a tie."""
    records = [
        TestVoteRecord(test, ok, None, 2 if ok else 1, 2, 2, 1.0 if ok else 0.5, None if ok else "tie", {}, False)
        for test, ok in verified.items()
    ]
    return json.dumps({r.test_id: r.entry() for r in records})


def test_verification_checks_list_unverified_tests_easy_problems_and_thin_solutions():
    rows = [
        # problem 1: two verified solutions (the same votes on both rows), one unverified test, every candidate passes
        ("ver-01", "prob-1", True, 2, _votes(t1=True, t2=True, t3=False), 2, 2),
        ("ver-02", "prob-1", False, 2, _votes(t1=True, t2=True, t3=False), 2, 2),
        # problem 2: verified, 6 tests, half the candidates pass
        ("ver-03", "prob-2", True, 6, _votes(t4=True, t5=False), 4, 2),
        # problem 3: rejected after the vote
        ("ver-04", "prob-3", False, 0, _votes(t6=False), 3, 0),
    ]
    frame = VerifiedSummary(
        pl.DataFrame(
            rows,
            schema=[
                "verified_id",
                "problem_id",
                "is_golden",
                "tests_verified",
                "votes_json",
                "candidates_run",
                "candidates_passing",
            ],
            orient="row",
        )
    )  # the columns the checks read back from the written file
    tally = VerificationTally(tests=6, unverified=3, pass_rates=[1.0, 0.5, 0.0])
    checks = {c.check_name: _meta(c) for c in _verification_checks(frame, VerificationConfig(), tally)}
    unverified = checks["unverified_share"]
    assert unverified["unverified_tests"] == 3 and unverified["unverified_tests_ids"] == "t3, t5, t6"
    assert unverified["trace"] == ".venv/bin/xcoder trace t3"
    assert checks["easy_share"]["easy_problems_ids"] == "prob-1"
    few = checks["tests_per_problem"]
    assert few["solutions_with_few_tests"] == 1 and few["solutions_with_few_tests_ids"] == "ver-01"
    gate = _meta(_gate_check(VerificationGate(False, 0.5, 0.6, 6), _unverified_tests(frame)))
    assert gate["unverified_tests"] == 3 and gate["unverified_tests_ids"] == "t3, t5, t6"
