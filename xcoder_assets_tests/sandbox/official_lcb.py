"""Run LiveCodeBench's official harness (nvidia-livecodebench) on cases read as JSON from stdin.

It runs in a process of its own: the harness forks (multiprocessing) and executes programs
in-process, which must not happen inside a test process that has threads running.
Input: a JSON list of {"inputs", "outputs", "fn_name", "code"}; output (to the file named by the
first argument, as the harness prints to stdout): a JSON list of per-test results.
"""

import json
import sys

from livecodebench.evaluation.compute_code_generation_metrics import check_correctness


def main() -> None:
    cases = json.load(sys.stdin)
    out = []
    for case in cases:
        sample = {"input_output": json.dumps({"inputs": case["inputs"], "outputs": case["outputs"],
                                              "fn_name": case["fn_name"]})}
        results, _ = check_correctness(sample, case["code"], timeout=6, debug=False)
        out.append([r if isinstance(r, bool) else int(r) for r in results])
    with open(sys.argv[1], "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
