"""`xcoder estimate`: what materializing assets would cost (requests after the cache, tokens, price)."""

from __future__ import annotations

import argparse

from xcoder_assets.cli.common import CliError, data_dir, debug, load_run_config, silence_import_noise
from xcoder_assets.recipe.batches import DEFAULT_BATCH


def cmd_estimate(args: argparse.Namespace) -> int:
    """What materializing the selection would cost (xcoder_assets/llm/estimate.py does the work)."""
    if not debug(args):
        silence_import_noise()
    import dagster as dg
    from dagster._config import process_config

    from xcoder_assets.recipe import estimate as cost
    from xcoder_assets.llm.limits import LLMConfigError
    from xcoder_assets.recipe.batches import BatchKeyError, check_batch_key

    run_config = load_run_config(args.config or [])
    from xcoder_assets.definitions import defs as load_defs

    repo = load_defs().get_repository_def()
    try:
        keys = dg.AssetSelection.from_coercible([s.strip() for s in args.select.split(",")]).resolve(repo.asset_graph)
    except (dg.DagsterInvalidSubsetError, dg.DagsterInvalidDefinitionError, KeyError, ValueError) as exc:
        raise CliError(f"--select {args.select!r}: {str(exc).splitlines()[0]}") from None
    if not keys:
        raise CliError(f"--select {args.select!r} selects no asset")
    try:
        batch = check_batch_key(args.batch)
    except BatchKeyError as exc:
        raise CliError(f"--batch: {exc}") from None
    configs = {}
    for name in cost.CONFIG_ASSETS:  # upstream sizes come from these even when they are not selected
        op = repo.asset_graph.get(dg.AssetKey(name)).assets_def.op
        given = (((run_config.get("ops") or {}).get(name) or {}).get("config")) or {}
        processed = process_config(op.config_schema.config_type, given)
        if not processed.success:
            raise CliError(f"--config: ops.{name}.config: {'; '.join(e.message for e in processed.errors)}")
        configs[name] = processed.value
    names = [key.to_user_string() for key in repo.asset_graph.toposorted_asset_keys if key in keys]
    from xcoder_assets.defs.resources import build_resources

    llm_config = ((run_config.get("resources") or {}).get("llm") or {}).get("config") or {}
    try:
        llm = build_resources()["llm"].model_copy(update=llm_config).process_config_and_initialize()
        roles_needed = {role for name in names for role in cost.ROLE_OF.get(name, ())}
        roles = {role: llm.settings(role) for role in roles_needed}
        tokens = cost.parse_token_figures(args.tokens or [])
        result = cost.estimate(data_dir(args), names, configs, roles, batch, tokens)
    except (LLMConfigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    skipped = [n for n in names if n not in cost.PLANS and "llm" in (repo.asset_graph.get(dg.AssetKey(n)).kinds or ())]
    if skipped:
        result.notes.append(f"not estimated (their LLM calls are not modelled here): {', '.join(skipped)}")
    print(f"estimate for {', '.join(names)} (batch {batch})")
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
