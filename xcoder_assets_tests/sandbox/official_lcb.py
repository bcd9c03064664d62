"""Run LiveCodeBench's official harness (nvidia-livecodebench) on cases read as JSON from stdin.

It runs in a process of its own: the harness forks (multiprocessing) and executes programs
in-process, which must not happen inside a test process that has threads running.
Input: a JSON list of {"inputs", "outputs", "fn_name", "code"}; output (to the file named by the
first argument, as the harness prints to stdout): a JSON list of per-test results, as
`evaluate_generations_by_problem` records them (the path `codegen_metrics` takes: a solution whose
process dies gets its [-2] there, where `check_correctness` alone would raise). The second argument,
if given, is the per-test timeout in seconds (default 6, the harness's own).
"""

import json
import subprocess
import sys
from pathlib import Path


def official_results(cases: list[dict], timeout: int = 6) -> list[list]:
    """The official per-test results of `cases`, computed in a clean process (see the module doc)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "results.json"
        run = subprocess.run(
            [sys.executable, str(Path(__file__)), str(out), str(timeout)],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        return json.loads(out.read_text())


def main() -> None:
    from livecodebench.evaluation.compute_code_generation_metrics import evaluate_generations_by_problem

    timeout = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    cases = json.load(sys.stdin)
    out = []
    for case in cases:
        sample = {
            "input_output": json.dumps(
                {"inputs": case["inputs"], "outputs": case["outputs"], "fn_name": case["fn_name"]}
            )
        }
        results, _ = evaluate_generations_by_problem([[case["code"]], sample, False, timeout])
        out.append([r if isinstance(r, bool) else int(r) for r in results[0]])
    with open(sys.argv[1], "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
