"""The `xcoder` command: status, trace, bench, and a local fake LLM server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import xcoder_assets  # noqa: F401  (LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)


class CliError(Exception):
    pass


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("XCODER_DATA_DIR") or "data")


def cmd_status(args: argparse.Namespace) -> int:
    from xcoder_assets.defs.resources import CACHE_FILE
    from xcoder_assets.llm.cache import read_totals
    from xcoder_assets.store import warehouse
    from xcoder_assets.store.render import text_table

    data_dir = _data_dir(args)
    try:
        con = warehouse.connect(data_dir)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    funnel = warehouse.funnel(con)
    verification = warehouse.verification_funnel(con)
    usage = warehouse.llm_usage(con)
    totals = read_totals(data_dir / CACHE_FILE) or {"llm_calls": 0, "cache_hits": 0, "errors": 0, "prompt_tokens": 0,
                                                    "completion_tokens": 0, "cost_usd": 0.0, "cached_responses": 0}
    if args.json:
        print(json.dumps({"data_dir": str(data_dir.resolve()), "assets": dict(funnel), "llm": totals,
                          "llm_by_asset": usage, "verification": dict(verification)}, indent=2, default=str))
        return 0
    print(f"data directory: {data_dir.resolve()}\n")
    examples = warehouse.example_ids(con)
    print(text_table([(name, rows, examples.get(name, "")) for name, rows in funnel], ["asset", "rows", "example id (xcoder trace ID)"]))
    if verification:
        print("\nverification: " + " -> ".join(f"{count} {stage}" for stage, count in verification))
    print("\nLLM so far (all runs): "
          f"{totals['llm_calls']} calls made, {totals['cache_hits']} cache hits, {totals['errors']} errors, "
          f"{totals['prompt_tokens']} prompt + {totals['completion_tokens']} completion tokens, ${totals['cost_usd']:.4f}")
    if usage:
        print("\nLLM requests behind the current data (calls made by the run that wrote it; the rest came from the cache):")
        columns = ("asset", "model", "requests", "calls_made", "cache_hits", "errors", "truncated", "prompt_tokens",
                   "completion_tokens", "cost_usd")
        print(text_table([[u[k] for k in columns] for u in usage], [c.replace("_", " ") for c in columns]))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from xcoder_assets.store import warehouse
    from xcoder_assets.store.ids import ID_KINDS, kind_of

    row_id = args.row_id.strip()
    if kind_of(row_id) is None:
        raise CliError(f"{row_id!r} is not a row id: ids look like <kind>-<16 hex digits>, kinds: "
                       + ", ".join(f"{k} ({v})" for k, v in ID_KINDS.items()))
    try:
        con = warehouse.connect(_data_dir(args))
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    if kind_of(row_id) == "call":
        call = warehouse.llm_call(con, row_id)
        if call is None:
            raise CliError(f"unknown LLM call id {row_id}: no asset's llm_calls holds it")
        _print_call(call, show_prompt=True)
        return 0
    chain = warehouse.trace(con, row_id)
    if not chain:
        raise CliError(f"unknown row id {row_id}: no row of {ID_KINDS[kind_of(row_id)]} has it "
                       "(it may come from an older materialization; run `xcoder status` to see what exists)")
    if args.json:
        print(json.dumps(chain, indent=2, default=str))
        return 0
    by_id = {step["row_id"]: step for step in chain}

    def show(row: str, depth: int, seen: set[str]) -> None:
        step = by_id[row]
        indent = "  " * depth
        print(f"{indent}{step['asset']}  {step['row_id']}  (run {step['run_id']})")
        print(f"{indent}  {' '.join(str(step['summary']).split())[:160]}")
        for call_id in step["llm_call_ids"] or []:
            call = warehouse.llm_call(con, call_id)
            if call is None:
                print(f"{indent}  LLM call {call_id}: not in llm_calls (re-materialized since?)")
                continue
            print(f"{indent}  LLM call {call_id}: model {call['model']}, template {call['template']}, "
                  f"{'cache hit' if call['cache_hit'] else 'called'}, finish {call['finish_reason']}, "
                  f"{call['prompt_tokens']}+{call['completion_tokens']} tokens"
                  + (f", error: {call['error']}" if call["error"] else ""))
            if args.show_prompts:
                _print_call(call, show_prompt=True, indent=indent + "    ")
        if step["asset"] == "verified_solutions":
            _print_votes(con, step["row_id"], indent + "  ")
        for parent in step["parent_ids"] or []:
            if parent in seen:
                print(f"{indent}  (already shown: {parent})")
            elif parent in by_id:
                seen.add(parent)
                show(parent, depth + 1, seen)
            else:
                print(f"{indent}  parent {parent} is missing from its table (re-materialized since?)")

    show(row_id, 0, {row_id})
    return 0


def _print_votes(con, verified_id: str, indent: str) -> None:
    row = con.execute("SELECT votes_json FROM verified_solutions WHERE verified_id = ?", [verified_id]).fetchone()
    votes = json.loads(row[0]) if row and row[0] else {}
    for test_id, vote in votes.items():
        state = "verified" if vote["verified"] else f"unverified ({vote['reason']})"
        print(f"{indent}vote on {test_id}: {vote['top_votes']}/{vote['candidates']} agree "
              f"({vote['voters']} ran normally), {state}{', held out' if vote.get('holdout') else ''}")


def _print_call(call: dict[str, Any], show_prompt: bool, indent: str = "") -> None:
    print(f"{indent}call {call['call_id']} ({call['asset']}, role {call['role']}, model {call['model']}, template {call['template']})")
    if show_prompt:
        request = json.loads(call["request_json"])
        for message in request.get("messages", []):
            print(f"{indent}--- {message['role']} ---")
            print("\n".join(indent + line for line in str(message["content"]).splitlines()))
        if call["reasoning"]:
            print(f"{indent}--- reasoning ---\n{indent}{call['reasoning']}")
        print(f"{indent}--- answer (finish_reason {call['finish_reason']}) ---")
        print("\n".join(indent + line for line in (call["content"] or "").splitlines()))
        if call["error"]:
            print(f"{indent}--- error ---\n{indent}{call['error']}")


def cmd_bench_llm(args: argparse.Namespace) -> int:
    from xcoder_assets.llm.bench import bench_main, parse_requests
    from xcoder_assets.llm.gateway import LLMConfigError

    try:
        levels = [int(part) for part in str(args.concurrency).split(",") if part.strip()]
    except ValueError:
        raise CliError(f"--concurrency {args.concurrency!r}: give a number or a comma-separated list, e.g. 1000,4000") from None
    if not levels or min(levels) < 1 or args.rounds < 1:
        raise CliError("--concurrency values and --rounds must be at least 1")
    try:
        for level in levels:
            parse_requests(args.requests, level)
    except ValueError as exc:
        raise CliError(f"--requests {args.requests!r}: a count per side (e.g. 2000) or a multiple of the concurrency (e.g. 2x); {exc}") from None
    if args.api_base and args.latency is not None:
        raise CliError("--latency is for the fake server the bench starts itself; drop it with --api-base")
    model = args.model or ("openai/fake-model" if not args.api_base else None)
    if model is None:
        raise CliError("--model is needed with --api-base (a litellm model name, e.g. openai/my-model)")
    try:
        bench_main(args.api_base, model, args.requests, levels, api_key=args.api_key, rounds=args.rounds,
                   latency_s=0.2 if args.latency is None else args.latency)
    except LLMConfigError as exc:
        raise CliError(str(exc)) from None
    return 0


def _lcb_inputs(args: argparse.Namespace):
    """Problems, generations and a sandbox backend from the judge/vote arguments, or one clear error."""
    from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend
    from xcoder_assets.sandbox.lcb_format import FormatError, load_generations, load_problems

    try:
        problems = load_problems(Path(args.problems))
        generations = load_generations(Path(args.generations))
    except FormatError as exc:
        raise CliError(str(exc)) from None
    known = {p.problem_id for p in problems}
    unknown = [qid for qid in generations if qid not in known]
    if unknown:
        raise CliError(f"{args.generations}: question_id {unknown[0]!r} is not in {args.problems}"
                       + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    try:
        backend = make_backend(args.sandbox, image=args.image, allow_unsafe=args.allow_unsafe_sandbox,
                               fresh_sandbox=getattr(args, "fresh_sandbox", False))
    except (SandboxUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None
    return problems, generations, backend


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
    print(f"profile {args.profile}, sandbox {args.sandbox}: mean pass@1 {solved:.4f} over {len(rows)} problems -> {args.out}")
    uids = sorted(getattr(backend, "used_uids", ()))
    print(f"sandboxes: {getattr(backend, 'started', 0)} started"
          + (f", host uids {','.join(map(str, uids))}" if uids else ""))
    print(f"judged {stats.solutions} solutions, {stats.tests_run} tests run, {stats.seconds:.2f} s, "
          f"{stats.tests_per_s:.1f} tests/s")
    return 0


def cmd_bench_judge(args: argparse.Namespace) -> int:
    from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend
    from xcoder_assets.sandbox.bench import run_bench

    try:
        import livecodebench.evaluation  # noqa: F401
    except ImportError:
        raise CliError("the official harness is not installed: .venv/bin/pip install --no-deps nvidia-livecodebench==26.3") from None
    try:
        backend = make_backend(args.sandbox, image=args.image, fresh_sandbox=args.fresh_sandbox)
    except (SandboxUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None
    with backend:
        run_bench(backend, args.solutions, args.tests, args.workers, args.profile)
    return 0


def cmd_vote(args: argparse.Namespace) -> int:
    from xcoder_assets.recipe.verification import canonical_output, verify
    from xcoder_assets.sandbox.judge import limits_for
    from xcoder_assets.sandbox.runs import Program, RunCache, run_matrix
    from xcoder_assets.store.parquet import write_text

    problems, generations, backend = _lcb_inputs(args)
    limits = limits_for("strict", args.timeout)
    chosen = [p for p in problems if generations.get(p.problem_id)]
    programs, inputs, owners = [], [], []
    for problem in chosen:
        for index, code in enumerate(generations[problem.problem_id]):
            programs.append(Program(code, problem.func_name))
            inputs.append([t.input for t in problem.tests])
            owners.append((problem.problem_id, index))
    with backend:
        runs, stats = run_matrix(backend, programs, inputs, limits, RunCache(None), workers=args.workers,
                                 abandon_after_timeouts=1)
    runs_of = dict(zip(owners, runs))
    report = []
    for problem in chosen:
        functional = bool(problem.func_name)
        codes = generations[problem.problem_id]
        test_ids = [f"{problem.problem_id}#{i}" for i in range(len(problem.tests))]
        outputs = [[canonical_output(run.stdout, functional) if run.ended_normally else None
                    for run in runs_of[(problem.problem_id, c)]] for c in range(len(codes))]
        result = verify(test_ids, outputs, min_agreement=args.min_agreement, holdout_share=args.holdout_share,
                        min_verified_tests=1)
        report.append({
            "question_id": problem.problem_id,
            "status": result.status,
            "reason": result.reason,
            "tests": [{"index": i, "voted_output": v.expected, "verified": v.verified, "agreement": round(v.agreement, 4),
                       "top_votes": v.top_votes, "voters": v.voters, "reason": v.reason,
                       "held_out": v.test_id in result.holdout} for i, v in enumerate(result.votes)],
            "golden_index": result.golden,
            "golden_passed_holdout": result.golden_passes_holdout,
            "verified_indices": result.verified_candidates,
        })
    write_text(json.dumps(report, indent=2), Path(args.out))
    verified = sum(1 for r in report if r["status"] == "verified")
    print(f"voted on {len(report)} problems: {verified} with a golden solution that passed its held-out tests -> {args.out}")
    print(f"{stats.runs} sandbox runs ({stats.executed} executed) in {stats.seconds:.2f} s, {stats.runs_per_s:.1f} runs/s")
    return 0


def cmd_fake_server(args: argparse.Namespace) -> int:
    from xcoder_assets.llm import fake_server

    fake_server.main(["--port", str(args.port), "--latency", str(args.latency), "--hang", str(args.hang)])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xcoder", description="xcoder-assets: the SynthSmith pipeline, from the command line.")
    parser.add_argument("--data-dir", help="data directory (default: $XCODER_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)

    status = sub.add_parser("status", help="rows per asset (the funnel) and LLM usage so far")
    status.add_argument("--json", action="store_true", help="machine-readable, keyed by asset name")
    status.set_defaults(func=cmd_status)

    trace = sub.add_parser("trace", help="the lineage of a row back to its seed, with the LLM calls behind it")
    trace.add_argument("row_id")
    trace.add_argument("--json", action="store_true")
    trace.add_argument("--show-prompts", action="store_true", help="print each LLM call's request and answer")
    trace.set_defaults(func=cmd_trace)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    bench_llm = bench_sub.add_parser("llm", help="gateway vs plain litellm against an OpenAI-compatible endpoint")
    bench_llm.add_argument("--api-base", help="the endpoint; without it the bench starts the fake server on a free port")
    bench_llm.add_argument("--latency", type=float, default=None,
                           help="seconds the bench's own fake server takes per answer (default 0.2)")
    bench_llm.add_argument("--model", help="litellm model name, e.g. openai/my-model (default openai/fake-model "
                                           "for the bench's own fake server)")
    bench_llm.add_argument("--requests", default="1000", help="requests per side: a count, or <k>x the concurrency (2x)")
    bench_llm.add_argument("--concurrency", default="64", help="requests in flight, or a comma-separated list: 1000,4000")
    bench_llm.add_argument("--api-key", default=os.environ.get("XCODER_API_KEY", "EMPTY"))
    bench_llm.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    bench_llm.set_defaults(func=cmd_bench_llm)
    bench_judge = bench_sub.add_parser("judge", help="our judge vs LiveCodeBench's official harness, same workload")
    bench_judge.add_argument("--solutions", type=int, default=300)
    bench_judge.add_argument("--tests", type=int, default=10)
    bench_judge.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    bench_judge.add_argument("--sandbox", choices=["bwrap", "docker"], default="bwrap")
    bench_judge.add_argument("--profile", choices=["strict", "lcb"], default="strict")
    bench_judge.add_argument("--image", default="xcoder-sandbox:bookworm")
    bench_judge.add_argument("--fresh-sandbox", action="store_true", help="a new sandbox for every program")
    bench_judge.set_defaults(func=cmd_bench_judge)

    judge = sub.add_parser("judge", help="judge LiveCodeBench-format generations in a sandbox")
    judge.add_argument("--problems", required=True, help="code_generation_lite rows (JSONL)")
    judge.add_argument("--generations", required=True, help='JSON list of {"question_id", "code_list"}')
    judge.add_argument("--out", required=True, help="where to write the results (JSON)")
    judge.add_argument("--profile", choices=["strict", "lcb"], default="strict")
    judge.add_argument("--sandbox", choices=["bwrap", "docker", "none"], default="bwrap")
    judge.add_argument("--timeout", type=float, default=None,
                       help="seconds per test (strict: CPU time, default 2; lcb: wall time, default 6)")
    judge.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    judge.add_argument("--image", default="xcoder-sandbox:bookworm", help="docker image with python3")
    judge.add_argument("--allow-unsafe-sandbox", action="store_true", help="permit --sandbox none (no isolation)")
    judge.add_argument("--fresh-sandbox", action="store_true",
                       help="a new sandbox for every program instead of warm, wiped ones (adversarial programs)")
    judge.set_defaults(func=cmd_judge)

    vote = sub.add_parser("vote", help="majority vote of candidate solutions on LiveCodeBench-format problems")
    vote.add_argument("--problems", required=True, help="code_generation_lite rows (their expected outputs are ignored)")
    vote.add_argument("--generations", required=True, help='JSON list of {"question_id", "code_list"}: the candidates')
    vote.add_argument("--out", required=True)
    vote.add_argument("--min-agreement", type=float, default=0.5)
    vote.add_argument("--holdout-share", type=float, default=0.3)
    vote.add_argument("--sandbox", choices=["bwrap", "docker", "none"], default="bwrap")
    vote.add_argument("--timeout", type=float, default=None, help="CPU seconds per run (default 2)")
    vote.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    vote.add_argument("--image", default="xcoder-sandbox:bookworm")
    vote.add_argument("--allow-unsafe-sandbox", action="store_true")
    vote.set_defaults(func=cmd_vote)

    fake = sub.add_parser("fake-llm-server", help="serve a local OpenAI-compatible fake (for bench and tests)")
    fake.add_argument("--port", type=int, default=0, help="0 (default): a free port, printed at start")
    fake.add_argument("--latency", type=float, default=0.2, help="seconds before every answer")
    fake.add_argument("--hang", type=float, default=3600.0, help="seconds a 'timeout' scenario hangs")
    fake.set_defaults(func=cmd_fake_server)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"xcoder: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `xcoder trace ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
