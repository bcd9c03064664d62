"""Small shard folders in the training_shards layout (notes: the shard spec), written by the tests."""

from __future__ import annotations

from pathlib import Path

from xcoder_assets.launched.shards import write_shards

SUM_CODE = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
PROBLEMS = [
    ("p-sum", "Read two integers and print their sum.", [("1 2\n", "3\n"), ("5 7\n", "12\n"), ("0 0\n", "0\n")]),
    ("p-sum3", "Read integers and print their sum.", [("1 2 3\n", "6\n"), ("10 -4\n", "6\n")]),
    ("p-add", "Print a + b for the two integers a and b.", [("2 2\n", "4\n"), ("100 1\n", "101\n")]),
    ("p-total", "Print the total of the numbers on the input.", [("9\n", "9\n"), ("4 4 4\n", "12\n")]),
]
REWARD = {"kind": "sandbox_pass_rate", "scale": 5.0, "no_code": -2.0, "max_tests": 10}


def sft_row(i: int, problem_id: str, prompt: str) -> dict:
    answer = f"<think>\nAdd them up.\n</think>\n\n```python\n{SUM_CODE}```"
    return {
        "example_id": f"ex-{i}",
        "problem_id": problem_id,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
    }


def rl_row(i: int, problem_id: str, prompt: str, tests: list[tuple[str, str]]) -> dict:
    return {
        "example_id": f"rl-{i}",
        "problem_id": problem_id,
        "prompt": [{"role": "user", "content": prompt}],
        "mode": "stdin",
        "func_name": None,
        "tests": [{"input": a, "output": b} for a, b in tests],
        "reward": REWARD,
    }


def make_shards(root: Path, version: str = "v-test", copies: int = 2) -> Path:
    sft = [sft_row(i, pid, prompt) for i, (pid, prompt, _) in enumerate(PROBLEMS * copies)]
    rl = [rl_row(i, pid, prompt, tests) for i, (pid, prompt, tests) in enumerate(PROBLEMS)]
    folder = root / "training_shards" / version
    return write_shards(
        folder,
        {
            "sft/messages/train-00000.jsonl": ("messages", "train", sft),
            "rl/train-00000.jsonl": ("rl", "train", rl),
        },
        version=version,
        created_from={"verified_solutions": "dv-test"},
    )
