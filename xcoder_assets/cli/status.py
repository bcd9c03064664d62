"""`xcoder status`: rows per asset, and the LLM requests and sandbox runs behind the current data."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from xcoder_assets.cli.common import NO_DAGSTER_HOME, connect, data_dir, silence_import_noise

SANDBOX_ASSETS = ("test_inputs", "verified_solutions")
# The sandbox figures of a run's metadata (present/figures.py: SandboxFigures.metadata), in the order they add up.
SANDBOX_TERMS = (
    ("executed", "sandbox_runs_executed"),
    ("cached", "sandbox_runs_cached"),
    ("skipped", "sandbox_runs_skipped_after_time_limit"),
    ("not_compiled", "sandbox_runs_not_compiled"),
    ("sandbox_failures", "sandbox_runs_sandbox_failures"),
)

STATUS_LEGEND = {
    "llm": [
        "LLM requests per asset, of the run that wrote its current data (the run metadata's llm_* figures):",
        "  behind data: answers the current rows use = requests + earlier runs",
        "  requests: what that run asked the gateway (llm_requests) = sent to model (llm_calls_made)",
        "    + cache hits (llm_cache_hits) + not sent (llm_requests_not_sent: an identical request of the batch failed)",
        "  earlier runs: answers reused without a request: rounds an earlier run had checkpointed (evolved_pool)",
        "  errors, truncated: answers behind the data that failed or were cut off at max_tokens",
        "  tokens, cost: spent by the calls that run sent to the model (cache hits cost nothing)",
    ],
    "sandbox": [
        "Sandbox runs (program x input) of the run that wrote the data (the run metadata's sandbox_runs_* figures):",
        "  runs = executed (run in a sandbox by that run) + cached (from sandbox_cache.sqlite) + skipped (the",
        "  candidate had already hit its time limit: verified_solutions stops a candidate after its first)",
        "  + not compiled (the program did not compile: run on no input) + sandbox failures (retried next time)",
    ],
}


def _sandbox_runs(runs_of: dict[str, list[tuple[str | None, str]]]) -> tuple[list[dict[str, Any]], str | None]:
    """The sandbox_runs_* metadata of the runs that wrote the sandbox assets, from the Dagster instance."""
    if not any(asset in runs_of for asset in SANDBOX_ASSETS):
        return [], None
    if not os.environ.get("DAGSTER_HOME"):
        return [], f"sandbox runs: {NO_DAGSTER_HOME}: the runs' metadata cannot be read"
    silence_import_noise()
    from dagster import AssetKey, DagsterEventType, DagsterInstance

    try:
        instance = DagsterInstance.get()
    except Exception as exc:  # e.g. DAGSTER_HOME names no directory: the rest of the status still holds
        return [], f"sandbox runs: cannot open DAGSTER_HOME {os.environ['DAGSTER_HOME']}: {str(exc).splitlines()[0]}"
    out = []
    with instance:
        for asset, batch, run_id in ((a, b, r) for a in SANDBOX_ASSETS for b, r in runs_of.get(a, [])):
            found = None
            for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
                materialization = record.dagster_event.event_specific_data.materialization
                if materialization.asset_key == AssetKey(asset):
                    found = {k: v.value for k, v in materialization.metadata.items() if k.startswith("sandbox_runs")}
            if found is None:
                out.append(
                    {"asset": asset, "batch": batch, "run_id": run_id, "note": "not in this DAGSTER_HOME's runs"}
                )
                continue
            row: dict[str, Any] = {"asset": asset, "batch": batch, "run_id": run_id, "runs": found.get("sandbox_runs")}
            row.update({name: found.get(key) for name, key in SANDBOX_TERMS})
            known = [row[name] for name, _ in SANDBOX_TERMS if row[name] is not None]
            if row["runs"] is not None and len(known) < len(SANDBOX_TERMS):
                # metadata of an older version: what its figures leave unexplained, named as such
                row["unaccounted"] = row["runs"] - sum(known)
            out.append(row)
    return out, None


def _written_by(runs: list[tuple[str | None, str]]) -> str:
    """One run's short id, or how many runs wrote the batches of a batched asset."""
    ids = {run for _, run in runs}
    if len(ids) <= 1:
        return next(iter(ids), "")[:8]
    return f"{len(ids)} runs ({len(runs)} batches)"


def cmd_status(args: argparse.Namespace) -> int:
    from xcoder_assets.store import warehouse
    from xcoder_assets.present.render import text_table

    data = data_dir(args)
    con = connect(args, lineage=False, usage_log=False)  # status reads no lineage, and the usage log in SQLite
    figures = warehouse.table_figures(con)  # one query per table: rows, writing runs, example id
    funnel = figures.funnel
    verification = warehouse.verification_funnel(con)
    usage = warehouse.llm_usage(con)
    totals = {**warehouse.llm_totals(con), "cached_responses": warehouse.cached_responses(data)}
    runs_of = figures.runs
    sandbox, sandbox_note = _sandbox_runs(runs_of)
    damaged = warehouse.damaged_files(con)
    damaged_tables = {d["table"] for d in damaged}
    if args.json:
        print(
            json.dumps(
                {
                    "data_dir": str(data.resolve()),
                    "assets": dict(funnel),
                    "runs": runs_of,
                    "llm": totals,
                    "llm_by_asset": usage,
                    "sandbox_by_asset": sandbox,
                    "verification": dict(verification),
                    "notes": [sandbox_note] if sandbox_note else [],
                    "damaged_files": damaged,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    print(f"data directory: {data.resolve()}\n")
    examples = figures.examples
    print(
        text_table(
            [
                (
                    name,
                    "damaged" if name in damaged_tables else rows,
                    _written_by(runs_of.get(name, [])),
                    examples.get(name, ""),
                )
                for name, rows in funnel
            ],
            ["asset", "rows", "written by run", "example id (xcoder trace ID)"],
        )
    )
    if damaged:
        print("\ndamaged files (left out above; the other assets' figures stand):")
        for entry in damaged:
            print(
                f"  {entry['path'] or entry['table']}: {entry['reason']}"
                + (f"\n    rebuild: {entry['rebuild']}" if entry["rebuild"] else "")
            )
    batches = sorted({b for runs in runs_of.values() for b, _ in runs if b is not None})
    if batches:
        print(f"\ngeneration batches ({len(batches)}; batched assets count the rows of all): {', '.join(batches)}")
    if verification:
        print("\nverification: " + " -> ".join(f"{count} {stage}" for stage, count in verification))
    if usage:
        print("\n" + "\n".join(STATUS_LEGEND["llm"]))
        columns = [
            "asset",
            "batch",
            "model",
            "behind_data",
            "run_requests",
            "sent_to_model",
            "cache_hits",
            "not_sent",
            "from_earlier_runs",
            "errors",
            "truncated",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
        ]
        headers = [
            "asset",
            "batch",
            "model",
            "behind data",
            "requests",
            "sent to model",
            "cache hits",
            "not sent",
            "earlier runs",
            "errors",
            "truncated",
            "prompt tokens",
            "completion tokens",
            "cost usd",
        ]
        dropped = {"batch"} if all(u["batch"] is None for u in usage) else set()
        models = {u["model"] for u in usage}
        if len(models) == 1:  # one model for every role: said once, not on every row
            print(f"  model: {models.pop()}")
            dropped.add("model")
        headers = [h for c, h in zip(columns, headers) if c not in dropped]
        columns = [c for c in columns if c not in dropped]
        print(text_table([[u[k] for k in columns] for u in usage], headers))
    print(
        f"\nLLM, all runs so far ({totals['runs']} run{'s' if totals['runs'] != 1 else ''}): {totals['requests']} requests = {totals['sent_to_model']} sent "
        f"to the model + {totals['cache_hits']} cache hits + {totals['not_sent']} not sent; {totals['errors']} errors; "
        f"{totals['prompt_tokens']} prompt "
        f"+ {totals['completion_tokens']} completion tokens, ${totals['cost_usd']:.4f}; "
        f"{totals['cached_responses']} answers in the cache"
    )
    if sandbox:
        print("\n" + "\n".join(STATUS_LEGEND["sandbox"]))
        columns = ["asset", "batch", "run_id", "runs"] + [name for name, _ in SANDBOX_TERMS]
        headers = ["asset", "batch", "run", "runs", "executed", "cached", "skipped", "not compiled", "sandbox failures"]
        if any("unaccounted" in row for row in sandbox):
            columns.append("unaccounted")
            headers.append("not in the metadata")
        print(
            text_table(
                [
                    [
                        str(row.get(c))[:8]
                        if c == "run_id"
                        else (row.get(c) or "")
                        if c == "batch"
                        else row.get(c, row.get("note", "") if c == "runs" else "")
                        for c in columns
                    ]
                    for row in sandbox
                ],
                headers,
            )
        )
    if sandbox_note:
        print("\n" + sandbox_note)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="rows per asset, and the LLM requests and sandbox runs behind the current data"
    )
    status.add_argument("--json", action="store_true", help="machine-readable, keyed by asset name")
    status.set_defaults(func=cmd_status)
