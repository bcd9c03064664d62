"""Score generations with LiveCodeBench's official code (nvidia-livecodebench), in a process of its own.

Input (stdin): {"rows": [code_generation_lite rows], "code_lists": [[code, ...] per row], "as_is": bool}.
Rows with an empty contest_date get a placeholder date, unless as_is: then every row goes to the official
loader exactly as given (a row it refuses fails the run).
Output (the file named by argv[1]): {"pass@1": overall, "detail": {row index: pass@1}, "results": ...},
as the official custom evaluator computes them (codegen_metrics, timeout 6 s).
"""

import json
import subprocess
import sys
from pathlib import Path


def main() -> None:
    from livecodebench.benchmarks.code_generation import CodeGenerationProblem
    from livecodebench.evaluation.compute_code_generation_metrics import codegen_metrics

    given = json.load(sys.stdin)
    rows = (
        given["rows"]
        if given.get("as_is")
        else [dict(r, contest_date=r["contest_date"] or "2023-01-01T00:00:00") for r in given["rows"]]
    )
    problems = [CodeGenerationProblem(**row) for row in rows]
    samples = [p.get_evaluation_sample() for p in problems]
    metrics, results, metadata = codegen_metrics(
        samples, given["code_lists"], k_list=[1], num_process_evaluate=2, timeout=6
    )
    out = {
        "pass@1": metrics["pass@1"],
        "detail": {str(k): v for k, v in metrics["detail"]["pass@1"].items()},
        "results": {
            str(k): [[r if isinstance(r, bool) else int(r) for r in sample] for sample in v] for k, v in results.items()
        },
    }
    with open(sys.argv[1], "w") as handle:
        json.dump(out, handle)


def official_scores(rows: list[dict], code_lists: list[list[str]], out: Path, as_is: bool = False) -> dict:
    """Run this file in a fresh interpreter (the harness forks and runs code in-process) and read its scores."""
    run = subprocess.run(
        [sys.executable, __file__, str(out)],
        input=json.dumps({"rows": rows, "code_lists": code_lists, "as_is": as_is}),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-3000:])
    return json.loads(Path(out).read_text())


if __name__ == "__main__":
    main()
