"""`xcoder bench llm` and `xcoder bench judge`: the gateway against plain litellm, our judge against
LiveCodeBench's official harness."""

from __future__ import annotations

import argparse
import os

from xcoder_assets.cli.common import CliError, default_image, workers_default


def cmd_bench_llm(args: argparse.Namespace) -> int:
    from xcoder_assets.llm.bench import bench_main, parse_requests
    from xcoder_assets.simulator import fake_server
    from xcoder_assets.llm.gateway import LLMConfigError

    try:
        levels = [int(part) for part in str(args.concurrency).split(",") if part.strip()]
    except ValueError:
        raise CliError(
            f"--concurrency {args.concurrency!r}: give a number or a comma-separated list, e.g. 1000,4000"
        ) from None
    if not levels or min(levels) < 1 or args.rounds < 1:
        raise CliError("--concurrency values and --rounds must be at least 1")
    try:
        for level in levels:
            parse_requests(args.requests, level)
    except ValueError as exc:
        raise CliError(
            f"--requests {args.requests!r}: a count per side (e.g. 2000) or a multiple of the concurrency (e.g. 2x); {exc}"
        ) from None
    if args.api_base and args.latency is not None:
        raise CliError("--latency is for the fake server the bench starts itself; drop it with --api-base")
    model = args.model or ("openai/fake-model" if not args.api_base else None)
    if model is None:
        raise CliError("--model is needed with --api-base (a litellm model name, e.g. openai/my-model)")
    try:
        bench_main(
            args.api_base,
            model,
            args.requests,
            levels,
            api_key=args.api_key,
            rounds=args.rounds,
            latency_s=0.2 if args.latency is None else args.latency,
            fake_server=fake_server.running,
        )
    except LLMConfigError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_bench_judge(args: argparse.Namespace) -> int:
    from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend
    from xcoder_assets.sandbox.bench import run_bench

    try:
        import livecodebench.evaluation  # noqa: F401
    except ImportError:
        raise CliError(
            "the official harness is not installed: .venv/bin/pip install --no-deps nvidia-livecodebench==26.3"
        ) from None
    if args.rounds < 1:
        raise CliError(f"--rounds must be at least 1, not {args.rounds}")
    try:
        backend = make_backend(args.sandbox, image=args.image or default_image(), fresh_sandbox=args.fresh_sandbox)
    except (SandboxUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None
    with backend:
        run_bench(backend, args.solutions, args.tests, args.workers, args.profile, rounds=args.rounds)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    bench_llm = bench_sub.add_parser("llm", help="gateway vs plain litellm against an OpenAI-compatible endpoint")
    bench_llm.add_argument(
        "--api-base", help="the endpoint; without it the bench starts the fake server on a free port"
    )
    bench_llm.add_argument(
        "--latency", type=float, default=None, help="seconds the bench's own fake server takes per answer (default 0.2)"
    )
    bench_llm.add_argument(
        "--model",
        help="litellm model name, e.g. openai/my-model (default openai/fake-model for the bench's own fake server)",
    )
    bench_llm.add_argument(
        "--requests", default="1000", help="requests per side: a count, or <k>x the concurrency (2x)"
    )
    bench_llm.add_argument(
        "--concurrency", default="64", help="requests in flight, or a comma-separated list: 1000,4000"
    )
    bench_llm.add_argument("--api-key", default=os.environ.get("XCODER_API_KEY", "EMPTY"))
    bench_llm.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    bench_llm.set_defaults(func=cmd_bench_llm)
    bench_judge = bench_sub.add_parser("judge", help="our judge vs LiveCodeBench's official harness, same workload")
    bench_judge.add_argument("--solutions", type=int, default=300)
    bench_judge.add_argument("--tests", type=int, default=10)
    bench_judge.add_argument("--workers", type=int, default=workers_default())
    bench_judge.add_argument("--sandbox", choices=["bwrap", "docker"], default="bwrap")
    bench_judge.add_argument("--profile", choices=["strict", "lcb"], default="strict")
    bench_judge.add_argument("--image", default=None)  # None: the sandbox's own DEFAULT_IMAGE
    bench_judge.add_argument("--fresh-sandbox", action="store_true", help="a new sandbox for every program")
    bench_judge.add_argument(
        "--rounds", type=int, default=1, help="run both judges this many times, alternating; prints the median ratio"
    )
    bench_judge.set_defaults(func=cmd_bench_judge)
