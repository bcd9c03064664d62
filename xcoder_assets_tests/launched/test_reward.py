"""The RL reward runs completions in the real sandbox: 5 x the share of up to 10 tests passed, -2 without code."""

import pytest

from xcoder_assets.launched.reward import SandboxReward, answer_part, sampled_tests, score_completion
from xcoder_assets_tests.launched.shard_data import REWARD, SUM_CODE

TESTS = [
    {"input": "1 2\n", "output": "3\n"},
    {"input": "5 7\n", "output": "12\n"},
    {"input": "-1 1\n", "output": "0\n"},
]
BLOCK = "```python\n{}```"


def test_correct_code_gets_the_full_scale(bwrap_backend):
    outcome = score_completion(
        bwrap_backend, "<think>\nadd\n</think>\n" + BLOCK.format(SUM_CODE), "p", TESTS, None, REWARD
    )
    assert (outcome.status, outcome.reward, outcome.passed, outcome.tests) == ("scored", 5.0, 3, 3)


def test_partly_right_code_gets_its_share(bwrap_backend):
    # right only where the answer is positive: 2 of 3 tests
    code = "a, b = map(int, input().split())\nprint(abs(a + b) if a > 0 else 1)\n"
    outcome = score_completion(bwrap_backend, BLOCK.format(code), "p", TESTS, None, REWARD)
    assert outcome.passed == 2 and outcome.reward == pytest.approx(5.0 * 2 / 3)


def test_crashing_code_scores_zero_not_minus_two(bwrap_backend):
    outcome = score_completion(bwrap_backend, BLOCK.format("raise SystemExit(3)\n"), "p", TESTS, None, REWARD)
    assert outcome.status == "scored" and outcome.reward == 0.0


@pytest.mark.parametrize(
    "text,status",
    [
        ("I would add the numbers.", "no_code"),
        ("<think>\n" + BLOCK.format(SUM_CODE), "no_code"),  # still thinking when cut off: no answer yet
        (BLOCK.format("def f(:\n    pass\n"), "syntax_error"),
    ],
)
def test_no_code_or_unparseable_code_gets_minus_two(bwrap_backend, text, status):
    outcome = score_completion(bwrap_backend, text, "p", TESTS, None, REWARD)
    assert (outcome.status, outcome.reward) == (status, -2.0)


def test_functional_problems_call_the_method(bwrap_backend):
    code = "class Solution:\n    def add(self, a: int, b: int) -> int:\n        return a + b\n"
    tests = [{"input": "1\n2", "output": "3"}, {"input": "4\n4", "output": "8"}]
    outcome = score_completion(bwrap_backend, BLOCK.format(code), "f", tests, "add", REWARD)
    assert outcome.reward == 5.0, outcome


def test_at_most_max_tests_the_same_for_every_rollout():
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(25)]
    first = sampled_tests("p1", tests, 10)
    assert len(first) == 10 and first == sampled_tests("p1", tests, 10)
    assert first != sampled_tests("p2", tests, 10)  # another problem, another sample
    assert len(sampled_tests("p1", tests[:4], 10)) == 4


def test_reward_spec_from_the_row_applies():
    outcome = score_completion(None, "no code here", "p", TESTS, None, '{"scale": 1.0, "no_code": -1.0}')
    assert outcome.reward == -1.0
    with pytest.raises(ValueError, match="reward kind"):
        score_completion(None, "x", "p", TESTS, None, {"kind": "llm_judge"})


def test_answer_part_drops_the_reasoning():
    assert answer_part("<think>a ```x```</think>\nfinal") == "\nfinal"
    assert answer_part("plain") == "plain"


def test_the_trl_reward_function_scores_a_batch(bwrap_backend):
    reward = SandboxReward("bwrap", workers=2)
    try:
        completions = [
            [{"role": "assistant", "content": BLOCK.format(SUM_CODE)}],
            [{"role": "assistant", "content": "no idea"}],
        ]
        values = reward(
            completions,
            problem_id=["p", "p"],
            tests=[TESTS, TESTS],
            func_name=["", ""],
            reward=[REWARD, REWARD],
            prompts=None,
        )
    finally:
        reward.close()
    assert values == [5.0, -2.0]
    assert reward.counts == {"scored": 1, "no_code": 1}
