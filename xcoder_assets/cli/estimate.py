"""`xcoder estimate`: what materializing assets would cost (requests after the cache, tokens, price)."""

from __future__ import annotations

import argparse

from xcoder_assets.cli.common import CliError, data_dir, debug, load_run_config, silence_import_noise
from xcoder_assets.recipe.batches import DEFAULT_BATCH


def cmd_estimate(args: argparse.Namespace) -> int:
    """What materializing the selection would cost (defs/cost.estimate_selection, recipe/estimate.py)."""
    if not debug(args):
        silence_import_noise()
    from xcoder_assets.defs.cost import EstimateInputError, estimate_selection
    from xcoder_assets.defs.resources import build_resources
    from xcoder_assets.definitions import defs as load_defs

    run_config = load_run_config(args.config or [])
    repo = load_defs().get_repository_def()
    try:
        names, result = estimate_selection(
            repo.asset_graph,
            data_dir(args),
            args.select,
            run_config,
            args.batch,
            args.tokens or [],
            build_resources()["llm"],
        )
    except EstimateInputError as exc:
        raise CliError(f"--{exc}") from None  # --select: ..., --batch: ..., --config: ...
    except ValueError as exc:  # LLM settings, token figures (whose message names --tokens)
        raise CliError(str(exc)) from None
    print(f"estimate for {', '.join(names)} (batch {args.batch})")
    print(result.render())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    estimate = sub.add_parser(
        "estimate", help="what materializing assets would cost: requests after the cache, tokens, price, USD"
    )
    estimate.add_argument("--select", required=True, help="assets, as for materialize (e.g. 'problems+')")
    estimate.add_argument(
        "--config", action="append", help="run config YAML/JSON (its ops' config sizes the estimate); repeatable"
    )
    estimate.add_argument("--batch", default=DEFAULT_BATCH, help=f"generation batch (default {DEFAULT_BATCH})")
    estimate.add_argument(
        "--tokens",
        action="append",
        metavar="TEMPLATE=PROMPT,COMPLETION",
        help="tokens per request to assume for a template (name or id), instead of the history; repeatable",
    )
    estimate.set_defaults(func=cmd_estimate)
