"""`xcoder judge` and `xcoder vote`: LiveCodeBench-format generations judged, or voted on, in a sandbox."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xcoder_assets.cli.common import CliError, RecipeDefault, given, open_backend, sandbox_name, workers_default

# flag dest -> the VoteSettings field it sets
VOTE_FLAGS = {"min_agreement": "min_agreement", "holdout_share": "holdout_share"}


def _vote_default(name: str) -> object:
    from xcoder_assets.recipe.verification import VoteSettings

    return getattr(VoteSettings(), name)


def _lcb_inputs(args: argparse.Namespace):
    """Problems, generations and a sandbox backend from the judge/vote arguments, or one clear error."""
    from xcoder_assets.sandbox.lcb_format import FormatError, load_generations, load_problems

    try:
        problems = load_problems(Path(args.problems))
        generations = load_generations(Path(args.generations))
    except FormatError as exc:
        raise CliError(str(exc)) from None
    known = {p.problem_id for p in problems}
    unknown = [qid for qid in generations if qid not in known]
    if unknown:
        raise CliError(
            f"{args.generations}: question_id {unknown[0]!r} is not in {args.problems}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
    return problems, generations, open_backend(args)


def cmd_judge(args: argparse.Namespace) -> int:
    from xcoder_assets.sandbox.judge import judge_many, limits_for
    from xcoder_assets.sandbox.lcb_format import result_rows
    from xcoder_assets.store.parquet import write_text

    problems, generations, backend = _lcb_inputs(args)
    limits = limits_for(args.profile, args.timeout)
    items = [(p, code) for p in problems for code in generations.get(p.problem_id, [])]
    with backend:
        results, stats = judge_many(backend, items, profile=args.profile, limits=limits, workers=args.workers)
    by_problem: dict[str, list] = {}
    for (problem, _), result in zip(items, results):
        by_problem.setdefault(problem.problem_id, []).append(result)
    rows = result_rows(problems, generations, by_problem)
    write_text(json.dumps(rows, indent=2), Path(args.out))
    solved = sum(r["pass@1"] for r in rows) / len(rows) if rows else 0.0
    print(
        f"profile {args.profile}, sandbox {args.sandbox}: mean pass@1 {solved:.4f} over {len(rows)} problems -> {args.out}"
    )
    uids = sorted(getattr(backend, "used_uids", ()))
    print(
        f"sandboxes: {getattr(backend, 'started', 0)} started"
        + (f", host uids {','.join(map(str, uids))}" if uids else "")
    )
    print(
        f"judged {stats.solutions} solutions, {stats.tests_run} tests run, {stats.seconds:.2f} s, "
        f"{stats.tests_per_s:.1f} tests/s"
    )
    return 0


def cmd_vote(args: argparse.Namespace) -> int:
    from xcoder_assets.recipe.verification import VoteSettings, VoteTask, run_and_vote, vote_report
    from xcoder_assets.sandbox.judge import limits_for
    from xcoder_assets.sandbox.runs import RunCache, run_matrix
    from xcoder_assets.present.figures import SandboxFigures
    from xcoder_assets.store.parquet import write_text

    problems, generations, backend = _lcb_inputs(args)
    limits = limits_for("strict", args.timeout)
    chosen = [p for p in problems if generations.get(p.problem_id)]
    tasks = [
        VoteTask(
            p.problem_id,
            p.func_name,
            [f"{p.problem_id}#{i}" for i in range(len(p.tests))],
            [t.input for t in p.tests],
            generations[p.problem_id],
        )
        for p in chosen
    ]

    def run(label, programs, inputs, meter):
        runs, stats = run_matrix(
            backend, programs, inputs, limits, RunCache(None), workers=args.workers, abandon_after_timeouts=1
        )
        return runs, SandboxFigures.of(stats, runs)

    # the same runs and vote as verified_solutions (recipe.verification.run_and_vote); any test may decide alone
    settings = VoteSettings(**given(args, VOTE_FLAGS), min_verified_tests=1)
    with backend:
        voted, figures = run_and_vote(tasks, run, None, settings)
    report = [
        {
            "question_id": task.problem_id,
            "status": result.status,
            "reason": result.reason,
            "tests": [{"index": i, **entry} for i, entry in enumerate(vote_report(result, with_outputs=True))],
            "golden_index": result.golden,
            "golden_passed_holdout": result.golden_passes_holdout,
            "verified_indices": result.verified_candidates,
        }
        for task, (result, _) in zip(tasks, voted)
    ]
    write_text(json.dumps(report, indent=2), Path(args.out))
    verified = sum(1 for r in report if r["status"] == "verified")
    print(
        f"voted on {len(report)} problems: {verified} with a golden solution that passed its held-out tests -> {args.out}"
    )
    print(
        f"{figures.runs} sandbox runs = {figures.executed} executed + {figures.skipped} skipped after a time limit + "
        f"{figures.not_compiled} not run (no compile) + {figures.sandbox_failures} lost to a broken sandbox, "
        f"in {figures.seconds:.2f} s, {figures.executed_per_s:.1f} executed/s"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    judge = sub.add_parser("judge", help="judge LiveCodeBench-format generations in a sandbox")
    judge.add_argument("--problems", required=True, help="code_generation_lite rows (JSONL)")
    judge.add_argument("--generations", required=True, help='JSON list of {"question_id", "code_list"}')
    judge.add_argument("--out", required=True, help="where to write the results (JSON)")
    judge.add_argument("--profile", choices=["strict", "lcb"], default="strict")
    judge.add_argument("--sandbox", type=sandbox_name, default="bwrap")
    judge.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per test (strict: CPU time, default 2; lcb: wall time, default 6)",
    )
    judge.add_argument("--workers", type=int, default=workers_default())
    judge.add_argument("--image", default=None, help="docker image with python3")  # None: the sandbox's own
    judge.add_argument("--allow-unsafe-sandbox", action="store_true", help="permit --sandbox none (no isolation)")
    judge.add_argument(
        "--fresh-sandbox",
        action="store_true",
        help="a new sandbox for every program instead of warm, wiped ones (adversarial programs)",
    )
    judge.set_defaults(func=cmd_judge)

    vote = sub.add_parser("vote", help="majority vote of candidate solutions on LiveCodeBench-format problems")
    vote.add_argument(
        "--problems", required=True, help="code_generation_lite rows (their expected outputs are ignored)"
    )
    vote.add_argument("--generations", required=True, help='JSON list of {"question_id", "code_list"}: the candidates')
    vote.add_argument("--out", required=True)
    default = RecipeDefault.factory(_vote_default)  # recipe.verification.VoteSettings owns them
    vote.add_argument("--min-agreement", type=float, default=default("min_agreement"))
    vote.add_argument("--holdout-share", type=float, default=default("holdout_share"))
    vote.add_argument("--sandbox", type=sandbox_name, default="bwrap")
    vote.add_argument("--timeout", type=float, default=None, help="CPU seconds per run (default 2)")
    vote.add_argument("--workers", type=int, default=workers_default())
    vote.add_argument("--image", default=None)  # None: the sandbox's own
    vote.add_argument("--allow-unsafe-sandbox", action="store_true")
    vote.set_defaults(func=cmd_vote)
