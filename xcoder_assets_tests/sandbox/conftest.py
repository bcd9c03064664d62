"""What several of the judge's test modules compare against: the local bwrap judge's verdicts on every known
case (lcb_cases), graded once per session for each profile."""

import pytest

from xcoder_assets.sandbox.judge import judge_many
from xcoder_assets.sandbox.lcb_format import problem_from_row
from xcoder_assets_tests.lcb_cases import all_cases, all_problem_rows

CASE_PROBLEMS = {p.problem_id: p for p in map(problem_from_row, all_problem_rows())}
CASES = all_cases()


@pytest.fixture(scope="session")
def local_case_verdicts(bwrap_backend):
    """profile -> the local judge's results for every case, in CASES order (judge_many, two workers)."""
    items = [(CASE_PROBLEMS[qid], code) for qid, code, _ in CASES]
    return {profile: judge_many(bwrap_backend, items, profile=profile, workers=2)[0] for profile in ("lcb", "strict")}
