"""What several of the judge's test modules compare against: the local bwrap judge's verdicts on every known
case (lcb_cases), graded once per session for each profile."""

import pytest

from xcoder_assets.sandbox.judge import judge_many
from xcoder_assets_tests.lcb_cases import all_cases, case_problems


@pytest.fixture(scope="session")
def local_case_verdicts(bwrap_backend):
    """profile -> the local judge's results for every case, in all_cases() order (judge_many, two workers)."""
    problems = case_problems()
    items = [(problems[qid], code) for qid, code, _ in all_cases()]
    return {profile: judge_many(bwrap_backend, items, profile=profile, workers=2)[0] for profile in ("lcb", "strict")}
