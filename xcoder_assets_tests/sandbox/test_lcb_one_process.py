"""Profile lcb keeps the official harness's one process per solution; strict keeps a process per test.

Each case is graded by the official harness (nvidia-livecodebench, run live) and by the lcb
profile, and the two per-test lists must be equal. The cases are the ones a process per test grades
differently, both ways: state one test leaves for the next (a `Solution()` memo, a class counter, a
`global` of the wrapped stdin program), a time limit in the middle, a process that dies in the
middle (the harness then records a single -2), an error after passing tests, an alarm the program
swallows, and the harness's whole-solution -4s. A short timeout (1 s, as `xcoder judge --timeout 1`)
keeps the time-limit cases quick; the global-timeout case costs (1 + 1) x 2 + 5 s on each side.
"""

import pytest

from xcoder_assets.sandbox.judge import Problem, TestCase, Verdict, judge_many, limits_for
from xcoder_assets_tests.sandbox.official_lcb import official_results_started

TIMEOUT = 1
COUNT = [TestCase(f"{i}\n", f"{i}\n") for i in range(1, 5)]  # stdin: n -> n
FUNC = [TestCase(str(i), str(i)) for i in range(1, 5)]  # functional f(n) -> n


def stdin(tests=COUNT) -> Problem:
    return Problem("count", tuple(tests))


def functional(tests=FUNC, name="f") -> Problem:
    return Problem("func", tuple(tests), func_name=name)


# (name, problem, code, passes under strict: a fresh process per test)
CASES = [
    # state carried from test to test makes a later test pass: here only in one process
    (
        "solution memo passes later tests",
        functional(),
        "class Solution:\n    def __init__(self):\n        self.seen = 0\n    def f(self, n):\n        self.seen += 1\n"
        "        return self.seen\n",
        False,
    ),
    (
        "class counter keeps counting",
        functional(),
        "class Solution:\n    calls = 0\n    def f(self, n):\n        Solution.calls += 1\n        return Solution.calls\n",
        False,
    ),
    (
        "global of a stdin program keeps counting",
        stdin(),
        "global c\ntry:\n    c += 1\nexcept NameError:\n    c = 1\nprint(c)\n",
        False,
    ),
    # ... or fail: a stale memo answers test 2 with test 1's result (a fresh process passes it)
    (
        "stale solution memo fails test 2",
        functional([TestCase("[1, 2]", "3"), TestCase("[5, 5]", "10")], "total"),
        "class Solution:\n    memo = {}\n    def total(self, a):\n        if len(a) not in self.memo:\n"
        "            self.memo[len(a)] = sum(a)\n        return self.memo[len(a)]\n",
        True,
    ),
    (
        "stale module memo fails test 2",
        stdin([TestCase("1 2\n", "3\n"), TestCase("5 5\n", "10\n")]),
        "global memo\ntry:\n    memo\nexcept NameError:\n    memo = []\nif not memo:\n"
        "    memo.append(sum(map(int, input().split())))\nprint(memo[0])\n",
        True,
    ),
    (
        "imported module's state carries",
        stdin(),
        "import math\nmath.calls = getattr(math, 'calls', 0) + 1\nprint(math.calls)\n",
        False,
    ),
    # a time limit in the middle: the list ends there
    ("stdin time limit on test 2 of 4", stdin(), "n = int(input())\nwhile n == 2:\n    pass\nprint(n)\n", False),
    (
        "functional time limit on test 2 of 4",
        functional(),
        "class Solution:\n    def f(self, n):\n        while n == 2:\n            pass\n        return n\n",
        False,
    ),
    # an exception whose name holds 'TimeoutException' is a time limit for the harness
    (
        "exception named like the alarm's",
        functional(),
        "class MyTimeoutException(Exception):\n    pass\nclass Solution:\n    def f(self, n):\n"
        "        if n == 3:\n            raise MyTimeoutException()\n        return n\n",
        False,
    ),
    # errors after passing tests
    ("runtime error on test 3", stdin(), "n = int(input())\nassert n != 3\nprint(n)\n", False),
    ("wrong answer on test 3", stdin(), "n = int(input())\nprint(n if n != 3 else 0)\n", False),
    # a process that dies in the middle: the harness loses every result, [-2]
    ("os._exit on test 3", stdin(), "import os\nn = int(input())\nif n == 3:\n    os._exit(0)\nprint(n)\n", False),
    (
        "segfault on test 2",
        stdin(),
        "import ctypes\nn = int(input())\nif n == 2:\n    ctypes.string_at(0)\nprint(n)\n",
        False,
    ),
    (
        "sys.exit in a functional solution",
        functional(),
        "import sys\nclass Solution:\n    def f(self, n):\n        if n == 2:\n            sys.exit(0)\n        return n\n",
        False,
    ),
    (
        "sys.exit at import of a functional solution",
        functional(),
        "import sys\nsys.exit(0)\nclass Solution:\n    def f(self, n):\n        return n\n",
        False,
    ),
    # an alarm the program swallows: test 2 goes on and passes; one swallowed forever: global timeout
    (
        "swallowed alarm, then the right answer",
        stdin(),
        "n = int(input())\nif n == 2:\n    try:\n        while True:\n            pass\n    except BaseException:\n"
        "        pass\nprint(n)\n",
        False,
    ),
    (
        "every alarm swallowed",
        stdin(COUNT[:2]),
        "n = int(input())\nwhile n == 2:\n    try:\n        while True:\n            pass\n    except BaseException:\n"
        "        pass\nprint(n)\n",
        False,
    ),
    # the harness's whole-solution -4s
    ("stdin program that defines class Solution", stdin(), "class Solution:\n    pass\nprint(int(input()))\n", True),
    (
        "an expected output that is not JSON",
        functional(FUNC[:2] + [TestCase("3", "three")]),
        "class Solution:\n    def f(self, n):\n        return n\n",
        False,
    ),
    ("no such method", functional(), "class Solution:\n    def g(self, n):\n        return n\n", False),
    ("closing the captured stdout", stdin(), "import sys\nprint(int(input()))\nsys.stdout.close()\n", True),
    # control: a plain correct solution of each kind
    ("correct stdin", stdin(), "print(int(input()))\n", True),
    ("correct functional", functional(), "class Solution:\n    def f(self, n):\n        return n\n", True),
]


@pytest.fixture(scope="module")
def official_started():
    """The official harness grading every case, in clean processes, while the lcb and strict profiles do."""
    return official_results_started(
        [
            {
                "inputs": [t.input for t in p.tests],
                "outputs": [t.output for t in p.tests],
                "fn_name": p.func_name,
                "code": code,
            }
            for _, p, code, _ in CASES
        ],
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def official(official_started):
    return official_started.result()


@pytest.fixture(scope="module")
def ours(bwrap_backend):
    items = [(p, code) for _, p, code, _ in CASES]
    lcb, _ = judge_many(bwrap_backend, items, profile="lcb", limits=limits_for("lcb", TIMEOUT), workers=2)
    strict, _ = judge_many(bwrap_backend, items, profile="strict", limits=limits_for("strict", TIMEOUT), workers=2)
    return lcb, strict


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_lcb_profile_matches_the_official_harness_test_by_test(official_started, ours, official, index):
    result = ours[0][index]
    assert result.lcb_results == official[index], (result.verdict, result.reason)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_strict_runs_every_test_in_a_fresh_process(ours, index):
    result = ours[1][index]
    assert result.passed is CASES[index][3], (result.verdict, result.reason)


def test_the_stateful_cases_are_graded_differently_by_the_two_profiles(ours, official):
    """The point of the two semantics: official and lcb pass the counters, strict fails them; the
    stale memos the other way round."""
    for index, (name, _, _, strict_passes) in enumerate(CASES[:6]):
        official_passes = all(r is True for r in official[index])
        assert official_passes is not strict_passes, name
        assert ours[0][index].passed is official_passes, name


def test_whole_solution_results(ours):
    by_name = {name: index for index, (name, *_) in enumerate(CASES)}
    lost = ours[0][by_name["os._exit on test 3"]]
    assert lost.lcb_results == [-2] and [t.verdict for t in lost.tests] == [
        Verdict.OK,
        Verdict.OK,
        Verdict.RUNTIME_ERROR,
    ]
    assert lost.first_failing_test == 2 and not lost.passed
    forever = ours[0][by_name["every alarm swallowed"]]
    assert forever.verdict is Verdict.TIME_LIMIT and forever.lcb_results == [-2], forever.reason
    assert ours[0][by_name["no such method"]].lcb_results == [-4]
    timed = ours[0][by_name["stdin time limit on test 2 of 4"]]
    assert timed.verdict is Verdict.TIME_LIMIT and timed.first_failing_test == 1 and len(timed.tests) == 2
