"""`xcoder eval`: a model (or given code) scored on LiveCodeBench problems as the official harness scores it,
by the loop benchmark_scores runs (recipe/evaluation.py score_model). The sampling and gateway flags default
to the recipe's settings types (ScoringSettings, GatewayConfig): a flag left out passes nothing."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from xcoder_assets.cli.common import (
    CliError,
    RecipeDefault,
    given,
    open_backend,
    progress_meter,
    sandbox_name,
    workers_default,
)

# flag dest -> the ScoringSettings field it sets
SCORING_FLAGS = {"n": "n", "seed": "seed", "temperature": "temperature", "top_p": "top_p", "max_tokens": "max_tokens"}
# flag dest -> the GatewayConfig field it sets
GATEWAY_FLAGS = {"max_in_flight": "max_in_flight", "max_retries": "max_retries", "request_timeout": "request_timeout_s"}


def _scoring_default(name: str) -> Any:
    from xcoder_assets.recipe.evaluation import OFFLINE_N, REAL_N, ScoringSettings

    if name == "n":
        return f"{REAL_N}, the paper's avg@{REAL_N}; {OFFLINE_N} with the offline simulator"
    return getattr(ScoringSettings(), name)


def _gateway_default(name: str) -> Any:
    from xcoder_assets.llm.gateway import GatewayConfig

    return getattr(GatewayConfig(), name)


def _window_spec(args: argparse.Namespace) -> dict[str, list[str | None]] | None:
    if not args.window:
        return None  # the recipe's (the papers' windows)
    spec = {}
    for text in args.window:
        name, _, bounds = text.partition("=")
        start, _, end = bounds.partition("..")
        if not name or not _:
            raise CliError(f"--window {text!r}: write NAME=START..END (either side may be empty)")
        spec[name] = [start or None, end or None]
    return spec


def _settings(args: argparse.Namespace):
    from xcoder_assets.recipe.evaluation import ScoringSettings

    values: dict[str, Any] = given(args, SCORING_FLAGS)
    windows = _window_spec(args)
    if windows is not None:
        values["windows"] = windows
    try:
        return ScoringSettings(**values, model_cutoff=args.model_cutoff)
    except ValueError as exc:  # BenchmarkInputError among them: a bad window or cutoff
        raise CliError(str(exc)) from None


def cmd_eval(args: argparse.Namespace) -> int:
    from xcoder_assets.recipe.benchmark import BenchmarkInputError, load_problems, parse_date
    from xcoder_assets.recipe.evaluation import write_lcb_outputs
    from xcoder_assets.sandbox.lcb_format import FormatError, load_generations

    try:
        start, end = parse_date(args.start_date, "--start-date"), parse_date(args.end_date, "--end-date")
        parse_date(args.model_cutoff, "--model-cutoff")  # named as the user wrote it
    except BenchmarkInputError as exc:
        raise CliError(str(exc)) from None
    settings = _settings(args)
    try:
        loaded = load_problems(
            [(Path(p), Path(p).stem) for p in args.problems],
            start=start,
            end=end,
            skip_bad_records=args.skip_bad_records,
        )
        codes = load_generations(Path(args.generations)) if args.generations else None
    except (BenchmarkInputError, FormatError) as exc:
        raise CliError(str(exc)) from None
    for reject in loaded.rejected:
        print(f"skipped {reject.location}: {reject.reason}", file=sys.stderr)
    if not loaded.problems:
        raise CliError(
            f"no problems to score in {', '.join(args.problems)}"
            + (f" between {start or '...'} and {end or '...'}" if start or end else "")
        )
    if codes is None and not args.model:
        raise CliError("give --model MODEL (with --api-base URL for a server) or --generations FILE")
    backend = open_backend(args)
    meter = progress_meter("eval: problems " + ("judged" if codes is not None else "generated and judged"))
    with backend:
        if codes is not None:
            scoring, model = _judge_given(args, loaded.problems, codes, backend, settings, meter.update)
        else:
            scoring, model = _generate_and_judge(args, loaded.problems, backend, settings, meter.update)
    meter.finish()
    run, scored = scoring.run, scoring.scores
    scored["model"] = model
    files = write_lcb_outputs(run.results, scored, Path(args.out))
    failed = scored["generations"]["failed"]
    print(
        f"{scored['problems']} problems x n={scored['n']}: {run.tests_run} tests judged in {run.wall_seconds:.1f} s; "
        f"{failed} of {scored['samples']} generations failed (counted wrong) -> {files['scores']}",
        file=sys.stderr,
    )
    for name, value in scored["by_difficulty"].items():
        print(f"  {name}: pass@1 {value:.4f} ({scored['problems_by_difficulty'][name]} problems)", file=sys.stderr)
    for name, window in scored["by_window"].items():
        value = "-" if window["pass@1"] is None else f"{window['pass@1']:.4f}"
        print(
            f"  window {name} ({window['start']} .. {window['end']}): pass@1 {value} ({window['problems']} problems)",
            file=sys.stderr,
        )
    print(f"pass@1 {scored['pass@1']:.4f}")
    return 0


def _judge_given(args: argparse.Namespace, problems, codes, backend, settings, progress):
    from xcoder_assets.recipe.evaluation import score_generations

    unknown = sorted(set(codes) - {p.question_id for p in problems})
    if unknown:
        print(
            f"note: {len(unknown)} question ids in {args.generations} are not among the problems "
            f"(ignored): {', '.join(unknown[:5])}",
            file=sys.stderr,
        )
    missing = [p.question_id for p in problems if p.question_id not in codes]
    if missing:
        print(
            f"note: {len(missing)} problems have no generations (not scored): {', '.join(missing[:5])}",
            file=sys.stderr,
        )
    scoring = score_generations(problems, codes, backend, settings, workers=args.workers, on_progress=progress)
    return scoring, f"generations from {args.generations}"


def _generate_and_judge(args: argparse.Namespace, problems, backend, settings, progress):
    from xcoder_assets.llm.cache import ResponseCache
    from xcoder_assets.llm.gateway import GatewayConfig, LLMConfigError, LLMGateway, check_role_settings
    from xcoder_assets.llm.settings import RoleSettings
    from xcoder_assets.recipe.evaluation import ROLE, score_model
    from xcoder_assets.recipe.prompts import load_template

    role = RoleSettings(
        role=ROLE,
        model=args.model,
        api_base=args.api_base,
        api_key=os.environ.get("XCODER_API_KEY"),
        params=settings.params(),
    )
    if role.is_offline:
        from xcoder_assets.simulator.provider import register_offline_provider

        register_offline_provider()
    try:
        check_role_settings(role)
    except LLMConfigError as exc:
        raise CliError(str(exc)) from None
    # --cache names a file; else the output folder's, or XCODER_CACHE_URL's database as for the scoring assets
    cache = ResponseCache(Path(args.cache)) if args.cache else ResponseCache.at(args.out)
    gateway = LLMGateway({ROLE: role}, cache, GatewayConfig(**given(args, GATEWAY_FLAGS)))
    scoring = score_model(
        problems,
        gateway,
        load_template("solve"),
        backend,
        settings,
        offline=role.is_offline,
        workers=args.workers,
        on_progress=progress,
    )
    stats = gateway.stats
    print(
        f"LLM: {stats.requests} requests = {stats.llm_calls} sent to {args.model} + {stats.cache_hits} cache hits; "
        f"{stats.errors} errors",
        file=sys.stderr,
    )
    return scoring, args.model


def add_parser(sub: argparse._SubParsersAction) -> None:
    evaluate = sub.add_parser(
        "eval",
        help="score a model (or given code) on LiveCodeBench problems as the official "
        "harness scores them: pass@1 over n samples, per difficulty and date window",
    )
    evaluate.add_argument(
        "--problems",
        action="append",
        required=True,
        help="code_generation_lite rows (JSONL or Parquet, as on the Hub); repeatable",
    )
    evaluate.add_argument("--model", help="litellm model name, e.g. openai/X-Coder-7B (with --api-base for a server)")
    evaluate.add_argument("--api-base", help="an OpenAI-compatible endpoint (vLLM, SGLang); key from XCODER_API_KEY")
    evaluate.add_argument(
        "--generations",
        help='score this code instead of generating: JSON list of {"question_id", '
        '"code_list"} (lcb_runner\'s custom-evaluator input)',
    )
    evaluate.add_argument(
        "--out", required=True, help="folder for scores.json, eval_all.json and LiveCodeBench's files"
    )
    scoring = RecipeDefault.factory(_scoring_default)
    evaluate.add_argument(
        "--n", type=int, default=scoring("n"), help="samples per problem (avg@n; default %(default)s)"
    )
    evaluate.add_argument("--temperature", type=float, default=scoring("temperature"), help="default %(default)s")
    evaluate.add_argument("--top-p", type=float, default=scoring("top_p"), help="default %(default)s")
    evaluate.add_argument("--max-tokens", type=int, default=scoring("max_tokens"), help="default %(default)s")
    evaluate.add_argument(
        "--seed", type=int, default=scoring("seed"), help="sample i uses seed + i (default %(default)s)"
    )
    evaluate.add_argument("--start-date", help="score only problems dated on or after this day (YYYY-MM-DD)")
    evaluate.add_argument("--end-date", help="score only problems dated on or before this day")
    evaluate.add_argument(
        "--window",
        action="append",
        help="NAME=START..END, scored apart (repeatable; default: the papers' v5 and v6 windows)",
    )
    evaluate.add_argument("--model-cutoff", help="the model's training cutoff: pass@1 before vs after it")
    evaluate.add_argument(
        "--skip-bad-records", action="store_true", help="skip malformed rows (listed) instead of stopping"
    )
    gateway = RecipeDefault.factory(_gateway_default)
    evaluate.add_argument(
        "--max-in-flight",
        type=int,
        default=gateway("max_in_flight"),
        help="requests in flight at once (default %(default)s)",
    )
    evaluate.add_argument("--max-retries", type=int, default=gateway("max_retries"), help="default %(default)s")
    evaluate.add_argument(
        "--request-timeout", type=float, default=gateway("request_timeout_s"), help="seconds (default %(default)s)"
    )
    evaluate.add_argument(
        "--cache", help="LLM response cache (default: XCODER_CACHE_URL's database when set, else OUT/llm_cache.sqlite)"
    )
    evaluate.add_argument("--sandbox", type=sandbox_name, default="bwrap")
    evaluate.add_argument("--workers", type=int, default=workers_default(), help="judge workers")
    evaluate.add_argument("--image", default=None, help="docker image with python3")  # None: the sandbox's own
    evaluate.add_argument("--allow-unsafe-sandbox", action="store_true", help="permit --sandbox none (no isolation)")
    evaluate.set_defaults(func=cmd_eval)
