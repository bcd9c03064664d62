"""LiveCodeBench judging cases: the three real sample problems and an edge case for every rule.

Each case is (problem id, code, strict_passes): the official harness's verdict is not written here,
it is computed by running the official harness itself (nvidia-livecodebench) in the tests.
`strict_passes` is what our strict profile must say: it differs from the official verdict exactly
on the official harness's known false negatives and on what it wrongly accepts.
"""

import json
from pathlib import Path

LCB_SAMPLES = Path(__file__).resolve().parent / "data" / "lcb_code_generation_lite_sample.jsonl"


def stdin_problem(qid: str, tests: list[tuple[str, str]]) -> dict:
    cases = [{"input": i, "output": o, "testtype": "stdin"} for i, o in tests]
    return {
        "question_title": qid,
        "question_content": "",
        "platform": "atcoder",
        "question_id": qid,
        "contest_id": "",
        "contest_date": "",
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": json.dumps(cases[:1]),
        "private_test_cases": json.dumps(cases[1:]),
        "metadata": "{}",
    }


def functional_problem(qid: str, func_name: str, tests: list[tuple[str, str]]) -> dict:
    cases = [{"input": i, "output": o, "testtype": "functional"} for i, o in tests]
    return {
        "question_title": qid,
        "question_content": "",
        "platform": "leetcode",
        "question_id": qid,
        "contest_id": "",
        "contest_date": "",
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": json.dumps(cases[:1]),
        "private_test_cases": json.dumps(cases[1:]),
        "metadata": json.dumps({"func_name": func_name}),
    }


SUM_TESTS = [("1 2\n", "3\n"), ("10 20\n", "30\n"), ("-5 5\n", "0\n")]
HALF_TESTS = [("1\n", "0.50\n"), ("3\n", "1.5\n")]

EDGE_PROBLEMS = [
    stdin_problem("sum", SUM_TESTS),
    stdin_problem("half", HALF_TESTS),
    stdin_problem("third", [("1\n", "0.3333333333\n")]),
    stdin_problem("yes", [("1\n", "YES\n")]),
    stdin_problem("lines", [("2\n", "1\n2\n")]),
    stdin_problem("deep", [("20000\n", "20000\n")]),
    functional_problem("pair", "makePair", [("1\n2", "[1, 2]"), ("3\n4", "[3, 4]")]),
    functional_problem("nested", "nest", [("1", "[[1, 1]]")]),
    functional_problem("plain_fn", "double", [("21", "42"), ("0", "0")]),
]

SUM = "a, b = map(int, input().split())\nprint(a + b)\n"

# (problem id, code, strict verdict is a pass)
EDGE_CASES: list[tuple[str, str, bool]] = [
    ("sum", SUM, True),
    ("sum", "a, b = map(int, input().split())\nprint(a - b)\n", False),  # wrong answer
    ("sum", "a, b = map(int, input().split())\nprint(a + b if a > 0 else 'x')\n", False),  # fails on a later test
    ("sum", "print(undefined_name)\n", False),  # runtime error
    ("sum", "def broken(:\n    pass\n", False),  # syntax error
    ("sum", "import time\ntime.sleep(7)\nprint(3)\n", False),  # 6 s per test
    ("sum", "a, b = map(int, input().split())\nprint(a + b)\nprint()\n\n", True),  # trailing blank lines stripped
    ("sum", "a, b = map(int, input().split())\nprint('  ', a + b, '  ')\n", True),  # line whitespace stripped
    ("sum", "a, b = map(int, input().split())\nprint(a + b)\nprint(0)\n", False),  # line count differs
    (
        "sum",
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\nif __name__ == '__main__':\n    main()\n",
        True,
    ),
    # the implicit import block: official accepts code that never imports deque
    ("sum", "q = deque(map(int, input().split()))\nprint(q[0] + q[1])\n", False),
    # swallowed SystemExit: the official harness accepts sys.exit(1) after a right answer
    ("sum", "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(1)\n", False),
    ("sum", "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.exit(0)\n", True),
    ("sum", "a, b = map(int, input().split())\nprint(a + b)\nexit()\n", True),
    # known false negatives of the official harness: correct programs it rejects
    ("sum", "import sys\nfor line in sys.stdin:\n    a, b = map(int, line.split())\n    print(a + b)\n", True),
    ("sum", "import sys\na, b = map(int, sys.stdin.buffer.readline().split())\nprint(a + b)\n", True),
    ("sum", "a, b = map(int, open(0).read().split())\nprint(a + b)\n", True),
    ("sum", "import sys\na, b = map(int, input().split())\nsys.stdout.buffer.write(f'{a + b}\\n'.encode())\n", True),
    ("sum", "import os\na, b = map(int, input().split())\nos.write(1, f'{a + b}\\n'.encode())\n", True),
    (
        "sum",
        "total = 0\ndef add(x):\n    global total\n    total += x\nfor v in map(int, input().split()):\n    add(v)\nprint(total)\n",
        True,
    ),
    ("sum", "import resource\na, b = map(int, input().split())\nprint(a + b)\n", True),
    ("sum", "import os\nos.getcwd()\na, b = map(int, input().split())\nprint(a + b)\n", True),
    # decimal comparison: 0.5 == 0.50, no float tolerance
    ("half", "n = int(input())\nprint(n / 2)\n", True),
    ("half", "n = int(input())\nprint(f'{n / 2:.3f}')\n", True),
    ("third", "print(0.333333)\n", False),
    ("third", "print('0.3333333333')\n", True),
    ("yes", "print('yes')\n", False),  # case-sensitive
    ("lines", "print(1)\nprint(2)\n", True),
    ("lines", "print('1 2')\n", False),
    # recursion limit: official sets 50000, so this deep recursion passes there and fails under strict
    ("deep", "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(int(input())))\n", False),
    # functional: Solution class, tuple to list at the top level only
    ("pair", "class Solution:\n    def makePair(self, a, b):\n        return [a, b]\n", True),
    ("pair", "class Solution:\n    def makePair(self, a, b):\n        return (a, b)\n", True),
    ("pair", "class Solution:\n    def makePair(self, a, b):\n        return [b, a]\n", False),
    ("pair", "class Solution:\n    def makePair(self, a, b):\n        raise ValueError('no')\n", False),
    ("nested", "class Solution:\n    def nest(self, x):\n        return [(x, x)]\n", True),  # strict compares JSON
    ("plain_fn", "def double(x):\n    return 2 * x\n", True),
    (
        "plain_fn",
        "from typing import List\nclass Solution:\n    def double(self, x: int) -> int:\n        return x * 2\n",
        True,
    ),
]

# The real samples (data/README.md): correct and wrong solutions.
SAMPLE_CASES: list[tuple[str, str, bool]] = [
    (
        "1873_A",
        "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n"
        "    print('YES' if sum(a != b for a, b in zip(s, 'abc')) in (0, 2) else 'NO')\n",
        True,
    ),
    (
        "1873_A",
        "t = int(input())\nfor _ in range(t):\n    s = input().strip()\n    print('YES' if s == 'abc' else 'NO')\n",
        False,
    ),
    (
        "2727",
        "class Solution:\n    def countSeniors(self, details: List[str]) -> int:\n"
        "        return sum(int(d[11:13]) > 60 for d in details)\n",
        True,
    ),
    (
        "2727",
        "class Solution:\n    def countSeniors(self, details: List[str]) -> int:\n"
        "        return sum(int(d[11:13]) >= 60 for d in details)\n",
        False,
    ),
    (
        "abc301_a",
        "n = int(input())\ns = input().strip()\nt, a = s.count('T'), s.count('A')\n"
        "if t != a:\n    print('T' if t > a else 'A')\nelse:\n    print('A' if s[-1] == 'T' else 'T')\n",
        True,
    ),
    ("abc301_a", "n = int(input())\ns = input().strip()\nprint('T' if s.count('T') >= s.count('A') else 'A')\n", False),
]


def all_problem_rows() -> list[dict]:
    rows = [json.loads(line) for line in LCB_SAMPLES.read_text().splitlines() if line.strip()]
    return rows + EDGE_PROBLEMS


def all_cases() -> list[tuple[str, str, bool]]:
    return SAMPLE_CASES + EDGE_CASES


def case_problems() -> dict:
    """Every case's problem as the judge takes it (sandbox.judge.Problem), by problem id."""
    from xcoder_assets.sandbox.lcb_format import problem_from_row

    return {p.problem_id: p for p in map(problem_from_row, all_problem_rows())}


def parity_inputs(n: int = 3) -> tuple[list[dict], dict[str, list[str]]]:
    """Every known case as LiveCodeBench rows and code lists of n programs each (the official evaluator
    wants one n for every problem): one copy of a problem per n of its programs, ids `<qid>~<k>`."""
    rows = {r["question_id"]: r for r in all_problem_rows()}
    by_problem: dict[str, list[str]] = {}
    for qid, code, _ in all_cases():
        by_problem.setdefault(qid, []).append(code)
    code_lists, chosen = {}, []
    for qid, codes in by_problem.items():
        for start in range(0, len(codes), n):
            copy = dict(rows[qid], question_id=f"{qid}~{start // n}")
            code_lists[copy["question_id"]] = (codes[start : start + n] + codes * n)[:n]
            chosen.append(copy)
    return chosen, code_lists
