"""The `xcoder` command: materialize, status, trace, sql, judge, vote, eval, decontaminate, bench, and a local fake
LLM server."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import xcoder_assets  # noqa: F401  (LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)
from xcoder_assets.sandbox.backends import DEFAULT_IMAGE
from xcoder_assets.recipe.batches import DEFAULT_BATCH


class CliError(Exception):
    pass


NO_DAGSTER_HOME = (
    "DAGSTER_HOME is not set and there is no .dagster_home here (run from the project folder, or set DAGSTER_HOME)"
)
# What runs offline on embedded defaults: the GPU group (trained_model and its scores) is asked for by name.
DEFAULT_SELECTION = "* and not group:training"


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get("XCODER_DATA_DIR") or "data")


@contextlib.contextmanager
def _command_environment(args: argparse.Namespace):
    """For one command: --data-dir reaches everything that reads XCODER_DATA_DIR (the assets' storage
    resource among them), and without DAGSTER_HOME the project's `.dagster_home` in the working
    directory is used, as `make` sets it. The environment is restored afterwards."""
    saved = {name: os.environ.get(name) for name in ("XCODER_DATA_DIR", "DAGSTER_HOME")}
    if getattr(args, "data_dir", None):
        os.environ["XCODER_DATA_DIR"] = str(Path(args.data_dir).resolve())
    home = Path.cwd() / ".dagster_home"
    if not os.environ.get("DAGSTER_HOME") and (home / "dagster.yaml").is_file():
        os.environ["DAGSTER_HOME"] = str(home)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _connect(args: argparse.Namespace, views: bool = True, lineage: bool = True, usage_log: bool = True):
    from xcoder_assets.store import warehouse

    try:
        return warehouse.connect(_data_dir(args), views=views, lineage=lineage, usage_log=usage_log)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def _debug(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verbose", False)) or os.environ.get("XCODER_DEBUG", "") not in ("", "0")


# ---- materialize -------------------------------------------------------------------------------


def _silence_import_noise() -> None:
    """Warnings about our dependencies' own code, not the user's business (filtered narrowly, by text)."""
    # pydantic warns once per litellm TypedDict that uses ReadOnly, at litellm's import.
    warnings.filterwarnings("ignore", message=r".*TypedDict class .* the `ReadOnly` qualifier", category=UserWarning)
    import dagster as dg

    # Dagster's notices about the Dagster APIs this command itself uses (beta / preview / superseded).
    for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)


def _load_run_config(paths: list[str]) -> dict[str, Any]:
    import yaml

    merged: dict[str, Any] = {}

    def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    for path in paths:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"--config {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CliError(f"--config {path}: not YAML or JSON ({str(exc).splitlines()[0]})") from None
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise CliError(f"--config {path}: run config must be a mapping (ops: {{<asset>: {{config: ...}}}})")
        merge(merged, loaded)
    return merged


def _failure_message(event: Any, verbose: bool) -> str:
    """The failing step's own message: a dg.Failure's description, else the user's exception."""
    data = event.step_failure_data
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        message = user.description
    else:
        error = data.error
        while error.cause is not None and error.cls_name in (
            "DagsterExecutionStepExecutionError",
            "DagsterResourceFunctionError",
        ):
            error = error.cause  # Dagster's wrapper around the exception the step raised
        message = error.message.strip()
        head, _, rest = message.partition(": ")
        if error.cls_name and head.rsplit(".", 1)[-1] == error.cls_name:
            message = f"{error.cls_name}: {rest}"  # the class by its name, not its module path
        elif error.cls_name:
            message = f"{error.cls_name}: {message}"
    if verbose and data.error is not None:
        message += "\n\n" + data.error.to_string()
    return message.strip()


@contextlib.contextmanager
def _runs_the_ui_can_reexecute(instance: Any, repository_name: str, job_name: str):
    """Runs created meanwhile carry the origin of the code location the UI loads (workspace.yaml's
    location name, this repository and job): without one, the UI's "Re-execute" of a run started here
    fails (Dagster reads the parent run's origin to find its code location)."""
    from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from xcoder_assets.definitions import CODE_LOCATION

    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name="xcoder_assets.definitions", working_directory=os.getcwd()
    )
    origin = RemoteRepositoryOrigin(
        ManagedGrpcPythonEnvCodeLocationOrigin(target, CODE_LOCATION), repository_name
    ).get_job_origin(job_name)
    create_run_for_job = instance.create_run_for_job

    def with_origin(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("remote_job_origin", origin)
        return create_run_for_job(*args, **kwargs)

    instance.create_run_for_job = with_origin
    try:
        yield
    finally:
        del instance.create_run_for_job  # the class's method again


def cmd_materialize(args: argparse.Namespace) -> int:
    verbose = _debug(args)
    if not verbose:
        _silence_import_noise()
    import dagster as dg
    from dagster import DagsterInstance

    run_config = _load_run_config(args.config or [])
    try:
        from xcoder_assets.definitions import defs as load_defs

        project = load_defs()
    except Exception as exc:  # a broken environment or code location: say what, not where
        if verbose:
            raise
        raise CliError(
            f"could not load the definitions: {type(exc).__name__}: {exc} (XCODER_DEBUG=1 for the stack)"
        ) from None
    try:
        repo = project.get_repository_def()
        keys = dg.AssetSelection.from_coercible([s.strip() for s in args.select.split(",")]).resolve(repo.asset_graph)
    except (dg.DagsterError, KeyError, ValueError) as exc:  # an unknown asset, a malformed selection string
        raise CliError(f"--select {args.select!r}: {str(exc).splitlines()[0]}") from None
    if not keys:
        raise CliError(f"--select {args.select!r} selects no asset")
    asset_steps = {key.to_user_string() for key in keys}
    if not verbose:
        # Only our logger: Dagster's console logger would print every DEBUG event and the stack twice.
        from xcoder_assets.defs.progress_logger import progress_run_config

        run_config.setdefault("loggers", progress_run_config(asset_steps)["loggers"])
    job = repo.get_implicit_job_def_for_assets(list(keys))
    if job is None:
        raise CliError(f"--select {args.select!r}: these assets cannot run in one job")
    if os.environ.get("DAGSTER_HOME"):
        instance = DagsterInstance.get()
    else:
        print(f"note: {NO_DAGSTER_HOME}: this run is not recorded for the UI", file=sys.stderr)
        instance = DagsterInstance.ephemeral()
    from xcoder_assets.defs.partitions import add_batch, is_batched
    from xcoder_assets.recipe.batches import BatchKeyError, check_batch_key

    partition_key = None
    if any(is_batched(repo.asset_graph, k) for k in keys):
        try:
            partition_key = check_batch_key(args.batch)
        except BatchKeyError as exc:
            raise CliError(f"--batch: {exc}") from None
    print(
        f"materializing {len(keys)} asset(s): {', '.join(sorted(asset_steps))}"
        + (f" (batch {partition_key})" if partition_key else "")
    )
    try:
        with instance:
            if partition_key and add_batch(instance, partition_key):
                print(f"added generation batch {partition_key} (its own seed offset)")
            with _runs_the_ui_can_reexecute(instance, repo.name, job.name):
                result = job.execute_in_process(
                    run_config=run_config,
                    instance=instance,
                    asset_selection=list(keys),
                    raise_on_error=False,
                    partition_key=partition_key,
                )
    except dg.DagsterInvalidConfigError as exc:
        details = "; ".join(error.message for error in exc.errors) or str(exc)
        raise CliError(f"invalid run config: {details}") from None
    failures = [event for event in result.all_events if event.is_step_failure]
    if result.success:
        print(f"run {result.run_id}: {len(asset_steps)} asset(s) materialized")
        return 0
    done = {
        event.asset_key.to_user_string()
        for event in result.all_events
        if event.is_step_materialization and event.asset_key is not None
    }
    left = sorted(asset_steps - done - {event.step_key for event in failures})
    if left:
        print(f"not materialized (upstream of them failed): {', '.join(left)}")
    for event in failures:
        print(f"xcoder: error: {event.step_key}: {_failure_message(event, verbose)}", file=sys.stderr)
    if not failures:
        print(f"xcoder: error: run {result.run_id} failed (see its events in the UI)", file=sys.stderr)
    if not verbose:
        print("(run with --verbose or XCODER_DEBUG=1 for the stack)", file=sys.stderr)
    return 1


# ---- status ------------------------------------------------------------------------------------

SANDBOX_ASSETS = ("test_inputs", "verified_solutions")
# The sandbox figures of a run's metadata (store/figures.py: SandboxFigures.metadata), in the order they add up.
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
    _silence_import_noise()
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
    from xcoder_assets.store.render import text_table

    data_dir = _data_dir(args)
    con = _connect(args, lineage=False, usage_log=False)  # status reads no lineage, and the usage log in SQLite
    figures = warehouse.table_figures(con)  # one query per table: rows, writing runs, example id
    funnel = figures.funnel
    verification = warehouse.verification_funnel(con)
    usage = warehouse.llm_usage(con)
    totals = {**warehouse.llm_totals(con), "cached_responses": warehouse.cached_responses(data_dir)}
    runs_of = figures.runs
    sandbox, sandbox_note = _sandbox_runs(runs_of)
    damaged = warehouse.damaged_files(con)
    damaged_tables = {d["table"] for d in damaged}
    if args.json:
        print(
            json.dumps(
                {
                    "data_dir": str(data_dir.resolve()),
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
    print(f"data directory: {data_dir.resolve()}\n")
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


# ---- trace -------------------------------------------------------------------------------------


def _call_text(call: dict[str, Any] | None, call_id: str, shown_calls: set[str], model: bool = False) -> str:
    if call is None:
        return f"{call_id} (not in llm_calls: re-materialized since?)"
    if call_id in shown_calls:
        return f"{call['template']} {call_id} (shown above)"
    shown_calls.add(call_id)
    source = "cache hit" if call["cache_hit"] else "sent to the model"
    return (
        f"{call['template']} {call_id} ({source}"
        + (f", {call['model']}" if model else "")
        + f", {call['prompt_tokens']}+{call['completion_tokens']} tokens, finish {call['finish_reason']}"
        + (f", error: {call['error']}" if call["error"] else "")
        + ")"
    )


def _vote_lines(row: dict[str, Any], full: bool) -> list[str]:
    """The vote behind a verified_solutions row (its votes_json and mean_agreement). Per test, agreement =
    top votes / runs that ended normally (a candidate whose run crashed, timed out or was skipped casts no
    vote); mean agreement is the mean of that over the tests."""
    votes = json.loads(row["votes_json"]) if row.get("votes_json") else {}
    if not votes:
        return []
    verified = sum(1 for v in votes.values() if v["verified"])
    held_out = sum(1 for v in votes.values() if v["verified"] and v.get("holdout"))
    lines = [
        f"votes on {len(votes)} tests: {verified} verified ({held_out} held out to confirm the golden solution), "
        f"{len(votes) - verified} unverified; agreement = top votes / runs that ended normally, "
        f"mean {row['mean_agreement']:.2f} over the tests"
    ]
    if full:
        for test_id, v in votes.items():
            state = "verified" if v["verified"] else f"unverified ({v['reason']})"
            lines.append(
                f"  {test_id}: {v['top_votes']} of {v['voters']} normal runs agree (agreement {v['agreement']:.2f}; "
                f"{v['candidates']} candidates ran, {v['candidates'] - v['voters']} did not end normally), {state}"
                + (", held out" if v.get("holdout") else "")
            )
    else:
        shapes = Counter((v["top_votes"], v["voters"], v["candidates"]) for v in votes.values())
        lines.append(
            "  "
            + "; ".join(
                f"{n} test{'s' if n > 1 else ''}: {top} of {voters} normal runs agree ({top / voters if voters else 0:.2f}), "
                f"{cands - voters} of {cands} candidates' runs did not end normally"
                for (top, voters, cands), n in shapes.most_common()
            )
        )
    return lines


def cmd_trace(args: argparse.Namespace) -> int:
    from xcoder_assets.store import warehouse
    from xcoder_assets.store.ids import ID_KINDS, kind_of

    row_id = args.row_id.strip()
    if kind_of(row_id) is None:
        raise CliError(
            f"{row_id!r} is not a row id: ids look like <kind>-<16 hex digits>, kinds: "
            + ", ".join(f"{k} ({v})" for k, v in ID_KINDS.items())
        )
    con = _connect(args, views=False, usage_log=False)  # the walk reads only the files of the rows it visits
    if kind_of(row_id) == "call":
        call = warehouse.llm_call(con, row_id)
        if call is None:
            raise CliError(f"unknown LLM call id {row_id}: no asset's llm_calls holds it")
        _print_call(call, show_prompt=True)
        return 0
    walk = warehouse.trace_walk(con, row_id)
    chain = walk.steps
    if not chain:
        raise CliError(
            f"unknown row id {row_id}: no row of {ID_KINDS[kind_of(row_id)]} has it "
            "(it may come from an older materialization; run `xcoder status` to see what exists)"
        )
    if args.json:
        print(json.dumps(chain, indent=2, default=str))
        return 0
    by_id = {step["row_id"]: step for step in chain}
    calls = warehouse.trace_calls(con, walk)

    def votes_of(verified_id: str) -> dict[str, Any]:  # read from the row's own batch
        return warehouse.trace_row_values(con, walk, verified_id, ["votes_json", "mean_agreement"])

    lines = (_trace_full if args.full else _trace_short)(votes_of, row_id, by_id, calls)
    print("\n".join(lines))
    return 0


def _asset_rank() -> dict[str, int]:
    from xcoder_assets.store.tables import ASSET_TABLES

    return {t.name: i for i, t in enumerate(ASSET_TABLES)}


def _trace_short(votes_of, root: str, by_id: dict[str, dict], calls: dict[str, dict]) -> list[str]:
    """The row, then its ancestors stage by stage up to the seeds: one line per ancestor, and one line
    for three or more of one stage (what they are, a few ids, the LLM calls behind them). Every
    ancestor and every LLM call appears once."""
    rank = _asset_rank()
    shown_calls: set[str] = set()
    step = by_id[root]
    lines = [_node_line(step, calls, shown_calls, "") + f"  (run {step['run_id']})"]
    if step["asset"] == "verified_solutions":
        lines += ["  " + line for line in _vote_lines(votes_of(root), full=False)]
    ancestors = [s for s in by_id.values() if s["row_id"] != root]
    stages: dict[str, list[dict]] = {}
    for ancestor in sorted(ancestors, key=lambda s: (s["depth"], s["row_id"])):
        stages.setdefault(ancestor["asset"], []).append(ancestor)
    for level, asset in enumerate(sorted(stages, key=lambda a: -rank.get(a, -1)), start=1):
        members, indent = stages[asset], "  " * level
        if len(members) < 3:
            lines += [_node_line(m, calls, shown_calls, indent) for m in members]
        else:
            lines.append(_group_line(asset, members, calls, shown_calls, indent))
    missing = sorted({p for s in by_id.values() for p in s["parent_ids"] or [] if p not in by_id})
    if missing:
        lines.append(
            f"{len(missing)} parent(s) missing from their table (re-materialized since?): "
            + ", ".join(missing[:3])
            + (" …" if len(missing) > 3 else "")
        )
    lines.append(
        f"(xcoder trace {root} --full: every ancestor, each LLM call with its prompt and answer, the vote per test)"
    )
    return lines


def _node_line(step: dict, calls: dict[str, dict], shown_calls: set[str], indent: str) -> str:
    text = f"{indent}{step['asset']} {step['row_id']}: {' '.join(str(step['summary']).split())[:140]}"
    made_by = [_call_text(calls.get(c), c, shown_calls) for c in step["llm_call_ids"] or []]
    return text + ("  <- " + "; ".join(made_by) if made_by else "")


def _group_line(asset: str, steps: list[dict], calls: dict[str, dict], shown_calls: set[str], indent: str) -> str:
    labels = Counter(str(s["label"] or asset) for s in steps)
    # "<kind> inputs from the test generator" of several kinds: one figure, with the kinds inside it
    generated = {label.split(" inputs from ")[0]: n for label, n in labels.items() if " inputs from " in label}
    parts = [f"{n} {label}" for label, n in labels.most_common() if " inputs from " not in label or len(generated) < 2]
    if len(generated) >= 2:
        source = next(label for label in labels if " inputs from " in label).split(" inputs from ")[1]
        parts.append(
            f"{sum(generated.values())} inputs from {source} ("
            + ", ".join(f"{n} {kind}" for kind, n in sorted(generated.items(), key=lambda kv: -kv[1]))
            + ")"
        )
    ids = [s["row_id"] for s in steps]
    text = (
        f"{indent}{asset} x{len(steps)}: " + ", ".join(parts) + f" ({', '.join(ids[:3])}{' …' if len(ids) > 3 else ''})"
    )
    call_ids = list(dict.fromkeys(c for s in steps for c in s["llm_call_ids"] or []))
    if len(call_ids) == 1:
        text += "  <- " + _call_text(calls.get(call_ids[0]), call_ids[0], shown_calls)
    elif call_ids:
        hits = sum(1 for c in call_ids if calls.get(c) and calls[c]["cache_hit"])
        templates = sorted({calls[c]["template"] for c in call_ids if calls.get(c)})
        text += f"  <- {len(call_ids)} {'/'.join(templates)} calls ({hits} cache hits)"
        shown_calls.update(call_ids)
    return text


def _trace_full(votes_of, root: str, by_id: dict[str, dict], calls: dict[str, dict]) -> list[str]:
    """Every ancestor as a tree (each printed once; a shared one is referred back to), with each LLM
    call's request and answer printed once, and the vote of a verified solution test by test."""
    lines: list[str] = []
    shown_calls: set[str] = set()

    def show(row: str, depth: int, seen: set[str]) -> None:
        step = by_id[row]
        indent = "  " * depth
        lines.append(f"{indent}{step['asset']}  {step['row_id']}  (run {step['run_id']})")
        lines.append(f"{indent}  {' '.join(str(step['summary']).split())[:200]}")
        for call_id in step["llm_call_ids"] or []:
            first = call_id not in shown_calls
            lines.append(f"{indent}  LLM call: {_call_text(calls.get(call_id), call_id, shown_calls, model=True)}")
            if first and calls.get(call_id):
                lines.extend(_call_lines(calls[call_id], show_prompt=True, indent=indent + "    ")[1:])
        if step["asset"] == "verified_solutions":
            lines.extend(indent + "  " + line for line in _vote_lines(votes_of(row), full=True))
        for parent in step["parent_ids"] or []:
            if parent in seen:
                lines.append(f"{indent}  (parent {parent}: shown above)")
            elif parent in by_id:
                seen.add(parent)
                show(parent, depth + 1, seen)
            else:
                lines.append(f"{indent}  parent {parent} is missing from its table (re-materialized since?)")

    show(root, 0, {root})
    return lines


def _call_lines(call: dict[str, Any], show_prompt: bool, indent: str = "") -> list[str]:
    lines = [
        f"{indent}call {call['call_id']} ({call['asset']}, role {call['role']}, model {call['model']}, "
        f"template {call['template']})"
    ]
    if show_prompt:
        request = json.loads(call["request_json"])
        for message in request.get("messages", []):
            lines.append(f"{indent}--- {message['role']} ---")
            lines.extend(indent + line for line in str(message["content"]).splitlines())
        if call["reasoning"]:
            lines.append(f"{indent}--- reasoning ---")
            lines.extend(indent + line for line in str(call["reasoning"]).splitlines())
        lines.append(f"{indent}--- answer (finish_reason {call['finish_reason']}) ---")
        lines.extend(indent + line for line in (call["content"] or "").splitlines())
        if call["error"]:
            lines.append(f"{indent}--- error ---")
            lines.append(f"{indent}{call['error']}")
    return lines


def _print_call(call: dict[str, Any], show_prompt: bool, indent: str = "") -> None:
    print("\n".join(_call_lines(call, show_prompt, indent)))


# ---- sql ---------------------------------------------------------------------------------------


def _sql_cell(value: Any, width: int) -> str:
    text = "" if value is None else json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
    text = " ".join(text.split())
    return text if width <= 0 or len(text) <= width else text[: width - 1] + "…"


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from xcoder_assets.store import warehouse
    from xcoder_assets.store.render import text_table

    query = sys.stdin.read() if args.query == "-" else args.query
    if not query.strip():
        raise CliError('give a query, e.g. xcoder sql "SELECT status, count(*) FROM problems GROUP BY status"')
    con = _connect(args)
    try:
        names, rows = warehouse.query(con, query)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        tables = f" (tables: {', '.join(_view_names(con))})" if isinstance(exc, duckdb.CatalogException) else ""
        raise CliError(f"query failed: {first}{tables}") from None
    if args.json:
        print(json.dumps([dict(zip(names, row)) for row in rows], indent=2, default=str))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(
            [[json.dumps(v, default=str) if isinstance(v, (list, dict)) else v for v in row] for row in rows]
        )
    elif names:
        shown = rows if args.max_rows <= 0 else rows[: args.max_rows]
        print(text_table([[_sql_cell(v, args.width) for v in row] for row in shown], names))
        more = len(rows) - len(shown)
        print(
            f"({len(rows)} row{'s' if len(rows) != 1 else ''}"
            + (f", {more} not shown: --max-rows 0 for all, or --csv / --json" if more else "")
            + ")"
        )
    return 0


def _view_names(con) -> list[str]:
    return [
        row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    ]


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
    return problems, generations, _open_backend(args)


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
        backend = make_backend(args.sandbox, image=args.image, fresh_sandbox=args.fresh_sandbox)
    except (SandboxUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None
    with backend:
        run_bench(backend, args.solutions, args.tests, args.workers, args.profile, rounds=args.rounds)
    return 0


def cmd_vote(args: argparse.Namespace) -> int:
    from xcoder_assets.recipe.verification import VoteSettings, VoteTask, run_and_vote, vote_report
    from xcoder_assets.sandbox.judge import limits_for
    from xcoder_assets.sandbox.runs import RunCache, run_matrix
    from xcoder_assets.store.figures import SandboxFigures
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
    settings = VoteSettings(min_agreement=args.min_agreement, holdout_share=args.holdout_share, min_verified_tests=1)
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


def _sandbox_name(text: str) -> str:
    """--sandbox: bwrap, docker, none, or judge servers (http(s)://host:port, comma-separated)."""
    if text in ("bwrap", "docker", "none"):
        return text
    addresses = text.split(",")
    if all(a.startswith(("http://", "https://")) and len(a.split("://", 1)[1]) > 0 for a in addresses):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r}: choose bwrap, docker, none or http(s)://judge-server[,...] (xcoder judge-server)"
    )


def _open_backend(args: argparse.Namespace):
    """The sandbox the judge commands run programs in, or one clear error."""
    from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend

    try:
        return make_backend(
            args.sandbox,
            image=args.image,
            allow_unsafe=args.allow_unsafe_sandbox,
            fresh_sandbox=getattr(args, "fresh_sandbox", False),
        )
    except (SandboxUnavailable, ValueError) as exc:
        raise CliError(str(exc)) from None


def _progress_meter(label: str):
    from xcoder_assets.store.progress import ProgressMeter

    return ProgressMeter(label, lambda line: print(line, file=sys.stderr, flush=True))


# ---- eval ---------------------------------------------------------------------------------------


def _windows(args: argparse.Namespace):
    from xcoder_assets.recipe.benchmark import PAPER_WINDOWS, parse_windows

    if not args.window:
        return parse_windows(PAPER_WINDOWS)
    spec = {}
    for text in args.window:
        name, _, bounds = text.partition("=")
        start, _, end = bounds.partition("..")
        if not name or not _:
            raise CliError(f"--window {text!r}: write NAME=START..END (either side may be empty)")
        spec[name] = [start or None, end or None]
    return parse_windows(spec)


def cmd_eval(args: argparse.Namespace) -> int:
    from xcoder_assets.recipe.benchmark import BenchmarkInputError, load_problems, parse_date, scores
    from xcoder_assets.recipe.evaluation import write_lcb_outputs
    from xcoder_assets.sandbox.lcb_format import FormatError, load_generations

    try:
        start, end = parse_date(args.start_date, "--start-date"), parse_date(args.end_date, "--end-date")
        cutoff = parse_date(args.model_cutoff, "--model-cutoff")
        windows = _windows(args)
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
    backend = _open_backend(args)
    meter = _progress_meter("eval: problems " + ("judged" if codes is not None else "generated and judged"))
    progress = meter.update
    with backend:
        if codes is not None:
            from xcoder_assets.recipe.evaluation import evaluate_generations

            unknown = sorted(set(codes) - {p.question_id for p in loaded.problems})
            if unknown:
                print(
                    f"note: {len(unknown)} question ids in {args.generations} are not among the problems "
                    f"(ignored): {', '.join(unknown[:5])}",
                    file=sys.stderr,
                )
            missing = [p.question_id for p in loaded.problems if p.question_id not in codes]
            if missing:
                print(
                    f"note: {len(missing)} problems have no generations (not scored): {', '.join(missing[:5])}",
                    file=sys.stderr,
                )
            run = evaluate_generations(loaded.problems, codes, backend, workers=args.workers, on_progress=progress)
            model = f"generations from {args.generations}"
        else:
            run, model = _generate_and_judge(args, loaded.problems, backend, progress)
    meter.finish()
    scored = scores(run.results, windows, cutoff)
    scored["model"] = model
    out = Path(args.out)
    files = write_lcb_outputs(run.results, scored, out)
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


def _generate_and_judge(args: argparse.Namespace, problems, backend, progress):
    from xcoder_assets.llm.cache import ResponseCache
    from xcoder_assets.llm.gateway import GatewayConfig, LLMConfigError, LLMGateway, check_role_settings
    from xcoder_assets.llm.settings import GenerationParams, RoleSettings
    from xcoder_assets.recipe.evaluation import ROLE, evaluate_model
    from xcoder_assets.recipe.prompts import load_template

    settings = RoleSettings(
        role=ROLE,
        model=args.model,
        api_base=args.api_base,
        api_key=os.environ.get("XCODER_API_KEY"),
        params=GenerationParams(temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens),
    )
    if settings.is_offline:
        from xcoder_assets.simulator.provider import register_offline_provider

        register_offline_provider()
    try:
        check_role_settings(settings)
    except LLMConfigError as exc:
        raise CliError(str(exc)) from None
    cache = ResponseCache(Path(args.cache) if args.cache else Path(args.out) / "llm_cache.sqlite")
    gateway = LLMGateway(
        {ROLE: settings},
        cache,
        GatewayConfig(
            max_in_flight=args.max_in_flight, max_retries=args.max_retries, request_timeout_s=args.request_timeout
        ),
    )
    run = evaluate_model(
        problems,
        gateway,
        load_template("solve"),
        backend,
        n=args.n,
        seed=args.seed,
        workers=args.workers,
        on_progress=progress,
    )
    stats = gateway.stats
    print(
        f"LLM: {stats.requests} requests = {stats.llm_calls} sent to {args.model} + {stats.cache_hits} cache hits; "
        f"{stats.errors} errors",
        file=sys.stderr,
    )
    return run, args.model


def cmd_decontaminate(args: argparse.Namespace) -> int:
    """The training data's benchmark check on any two files: candidates ({id, text} per line) against
    LiveCodeBench rows; writes [{id, benchmark_id, method, score}] per flagged candidate."""
    import time

    from xcoder_assets.recipe.decontamination import (
        DecontaminationInputError,
        DecontaminationSettings,
        decontaminate_files,
    )
    from xcoder_assets.store.parquet import write_text

    try:
        settings = DecontaminationSettings(
            ngram=args.ngram, ngram_min_matches=args.min_matches, minhash_threshold=args.threshold, shingle=args.shingle
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    started = time.monotonic()
    try:
        flagged = decontaminate_files(Path(args.candidates), [Path(p) for p in args.benchmark], settings)
    except DecontaminationInputError as exc:
        raise CliError(str(exc)) from None
    write_text(json.dumps(flagged, indent=2) + "\n", Path(args.out))
    methods = {m: sum(1 for f in flagged if f["method"] == m) for m in ("ngram", "minhash")}
    print(
        f"{len(flagged)} flagged candidates ({methods['ngram']} by {args.ngram}-gram overlap, {methods['minhash']} "
        f"by MinHash >= {args.threshold}) in {time.monotonic() - started:.2f} s -> {args.out}"
    )
    return 0


def add_decontaminate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from xcoder_assets.recipe.decontamination import DecontaminationSettings

    defaults = DecontaminationSettings()
    parser = subparsers.add_parser(
        "decontaminate",
        help="flag candidate texts that match benchmark problems (n-gram overlap, MinHash)",
        description="Checks each candidate ({id, text} per line) against LiveCodeBench-format benchmark rows on "
        "normalized text: word n-gram overlap and MinHash similarity. Writes the flagged ones as a JSON "
        "list of {id, benchmark_id, method, score}.",
    )
    parser.add_argument("--candidates", required=True, help='JSONL, one {"id": str, "text": str} per line')
    parser.add_argument(
        "--benchmark",
        required=True,
        action="append",
        help="code_generation_lite rows (JSONL or Parquet); repeat for several files",
    )
    parser.add_argument("--out", required=True, help="where to write the flagged candidates (JSON)")
    parser.add_argument(
        "--ngram", type=int, default=defaults.ngram, help=f"words per n-gram (default {defaults.ngram})"
    )
    parser.add_argument(
        "--min-matches",
        type=int,
        default=defaults.ngram_min_matches,
        help=f"shared n-grams that flag (default {defaults.ngram_min_matches})",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=defaults.minhash_threshold,
        help=f"MinHash (Jaccard) similarity that flags (default {defaults.minhash_threshold})",
    )
    parser.add_argument(
        "--shingle", type=int, default=defaults.shingle, help=f"words per MinHash shingle (default {defaults.shingle})"
    )
    parser.set_defaults(func=cmd_decontaminate)
    return parser


def cmd_estimate(args: argparse.Namespace) -> int:
    """What materializing the selection would cost (xcoder_assets/llm/estimate.py does the work)."""
    if not _debug(args):
        _silence_import_noise()
    import dagster as dg
    from dagster._config import process_config

    from xcoder_assets.recipe import estimate as cost
    from xcoder_assets.llm.limits import LLMConfigError
    from xcoder_assets.recipe.batches import BatchKeyError, check_batch_key

    run_config = _load_run_config(args.config or [])
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
        result = cost.estimate(_data_dir(args), names, configs, roles, batch, tokens)
    except (LLMConfigError, ValueError) as exc:
        raise CliError(str(exc)) from None
    skipped = [n for n in names if n not in cost.PLANS and "llm" in (repo.asset_graph.get(dg.AssetKey(n)).kinds or ())]
    if skipped:
        result.notes.append(f"not estimated (their LLM calls are not modelled here): {', '.join(skipped)}")
    print(f"estimate for {', '.join(names)} (batch {batch})")
    print(result.render())
    return 0


def cmd_fake_server(args: argparse.Namespace) -> int:
    from xcoder_assets.simulator import fake_server

    fake_server.main(["--port", str(args.port), "--latency", str(args.latency), "--hang", str(args.hang)])
    return 0


def cmd_judge_server(args: argparse.Namespace) -> int:
    from xcoder_assets.sandbox.backends import SandboxUnavailable
    from xcoder_assets.sandbox.service import ServerSettings, read_token, run_forever

    try:
        settings = ServerSettings(
            host=args.host,
            port=args.port,
            token=read_token(args.token_file),
            backend=args.sandbox,
            image=args.image,
            jobs=args.jobs,
            queue=args.queue,
            max_request_bytes=args.max_request_mb << 20,
            fresh_sandbox=args.fresh_sandbox,
        )
        run_forever(settings, announce=lambda line: print(line, flush=True))
    except (SandboxUnavailable, ValueError, OSError) as exc:
        raise CliError(f"judge-server: {exc}") from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xcoder", description="xcoder-assets: the SynthSmith pipeline, from the command line."
    )
    parser.add_argument("--data-dir", help="data directory (default: $XCODER_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)

    materialize = sub.add_parser(
        "materialize",
        help="materialize assets in this process, recorded in $DAGSTER_HOME (the UI shows the run)",
        description="Runs the selected assets in this process against the DAGSTER_HOME instance. Prints the assets' "
        "progress lines and, on failure, the failing step's message once; exits 1 on failure.",
    )
    materialize.add_argument(
        "--select",
        default=DEFAULT_SELECTION,
        help=f"asset selection (default {DEFAULT_SELECTION!r}: what runs offline; the training group, "
        "trained_model and trained_model_scores, by name), e.g. 'problems+', 'seed_problems,features'",
    )
    materialize.add_argument(
        "--config",
        action="append",
        metavar="FILE",
        help="run config (YAML or JSON), e.g. {ops: {seed_problems: {config: {paths: [my.jsonl]}}}}; "
        "repeat to merge several",
    )
    materialize.add_argument(
        "--batch",
        default=DEFAULT_BATCH,
        help=f"the generation batch the batched assets (feature_configs ... verified_solutions) write; added when "
        f"new (default {DEFAULT_BATCH!r}; the nightly schedule adds nightly-<date>)",
    )
    materialize.add_argument(
        "--verbose",
        action="store_true",
        help="Dagster's own console log (DEBUG events) and the stack of a failure (also XCODER_DEBUG=1)",
    )
    materialize.set_defaults(func=cmd_materialize)

    status = sub.add_parser(
        "status", help="rows per asset, and the LLM requests and sandbox runs behind the current data"
    )
    status.add_argument("--json", action="store_true", help="machine-readable, keyed by asset name")
    status.set_defaults(func=cmd_status)

    trace = sub.add_parser(
        "trace", help="the lineage of a row back to its seeds (one line per ancestor; --full for all)"
    )
    trace.add_argument("row_id")
    trace.add_argument("--json", action="store_true")
    trace.add_argument(
        "--full",
        action="store_true",
        help="every ancestor with its LLM calls' prompts and answers, and the vote test by test",
    )
    trace.add_argument("--show-prompts", dest="full", action="store_true", help=argparse.SUPPRESS)  # the old name
    trace.set_defaults(func=cmd_trace)

    sql = sub.add_parser(
        "sql",
        help="run a DuckDB query on the warehouse's views (one per asset, lineage, llm_calls ...)",
        description="Runs one query over the data directory's views (the same as data/xcoder.duckdb's) "
        "and the LLM usage log (llm_usage_log). - reads the query from stdin.",
    )
    sql.add_argument("query", help='e.g. "SELECT status, count(*) FROM problems GROUP BY status"')
    fmt = sql.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout (every row)")
    fmt.add_argument("--json", action="store_true", help="a JSON list of objects (every row)")
    sql.add_argument("--max-rows", type=int, default=100, help="rows the table shows (0: all; default 100)")
    sql.add_argument("--width", type=int, default=60, help="characters per cell in the table (0: no limit; default 60)")
    sql.set_defaults(func=cmd_sql)

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
    bench_judge.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    bench_judge.add_argument("--sandbox", choices=["bwrap", "docker"], default="bwrap")
    bench_judge.add_argument("--profile", choices=["strict", "lcb"], default="strict")
    bench_judge.add_argument("--image", default=DEFAULT_IMAGE)
    bench_judge.add_argument("--fresh-sandbox", action="store_true", help="a new sandbox for every program")
    bench_judge.add_argument(
        "--rounds", type=int, default=1, help="run both judges this many times, alternating; prints the median ratio"
    )
    bench_judge.set_defaults(func=cmd_bench_judge)

    judge = sub.add_parser("judge", help="judge LiveCodeBench-format generations in a sandbox")
    judge.add_argument("--problems", required=True, help="code_generation_lite rows (JSONL)")
    judge.add_argument("--generations", required=True, help='JSON list of {"question_id", "code_list"}')
    judge.add_argument("--out", required=True, help="where to write the results (JSON)")
    judge.add_argument("--profile", choices=["strict", "lcb"], default="strict")
    judge.add_argument("--sandbox", type=_sandbox_name, default="bwrap")
    judge.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per test (strict: CPU time, default 2; lcb: wall time, default 6)",
    )
    judge.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    judge.add_argument("--image", default=DEFAULT_IMAGE, help="docker image with python3")
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
    vote.add_argument("--min-agreement", type=float, default=0.5)
    vote.add_argument("--holdout-share", type=float, default=0.3)
    vote.add_argument("--sandbox", type=_sandbox_name, default="bwrap")
    vote.add_argument("--timeout", type=float, default=None, help="CPU seconds per run (default 2)")
    vote.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    vote.add_argument("--image", default=DEFAULT_IMAGE)
    vote.add_argument("--allow-unsafe-sandbox", action="store_true")
    vote.set_defaults(func=cmd_vote)

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
    evaluate.add_argument("--n", type=int, default=8, help="samples per problem (avg@n; default 8, the paper's avg@8)")
    evaluate.add_argument("--temperature", type=float, default=0.6)
    evaluate.add_argument("--top-p", type=float, default=0.95)
    evaluate.add_argument("--max-tokens", type=int, default=32768)
    evaluate.add_argument("--seed", type=int, default=0, help="sample i uses seed + i")
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
    evaluate.add_argument("--max-in-flight", type=int, default=64, help="requests in flight at once")
    evaluate.add_argument("--max-retries", type=int, default=6)
    evaluate.add_argument("--request-timeout", type=float, default=600.0)
    evaluate.add_argument("--cache", help="LLM response cache (default OUT/llm_cache.sqlite)")
    evaluate.add_argument("--sandbox", type=_sandbox_name, default="bwrap")
    evaluate.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="judge workers")
    evaluate.add_argument("--image", default=DEFAULT_IMAGE, help="docker image with python3")
    evaluate.add_argument("--allow-unsafe-sandbox", action="store_true", help="permit --sandbox none (no isolation)")
    evaluate.set_defaults(func=cmd_eval)

    add_decontaminate_parser(sub)

    server = sub.add_parser(
        "judge-server",
        help="serve the sandbox over HTTP to judges on other hosts (token: $XCODER_JUDGE_TOKEN or --token-file)",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind; beyond loopback only with a token")
    server.add_argument("--port", type=int, default=8080, help="0: a free port, printed at start")
    server.add_argument("--token-file", help="file holding the bearer token (default: $XCODER_JUDGE_TOKEN_FILE)")
    server.add_argument("--sandbox", choices=["bwrap", "docker"], default="bwrap")
    server.add_argument("--image", default=DEFAULT_IMAGE, help="the docker backend's image")
    server.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="programs run at once")
    server.add_argument("--queue", type=int, default=64, help="programs waiting for a slot; more get 503")
    server.add_argument("--max-request-mb", type=int, default=64, help="largest request (one program, its tests)")
    server.add_argument("--fresh-sandbox", action="store_true", help="a new sandbox for every program")
    server.set_defaults(func=cmd_judge_server)

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

    fake = sub.add_parser("fake-llm-server", help="serve a local OpenAI-compatible fake (for bench and tests)")
    fake.add_argument("--port", type=int, default=0, help="0 (default): a free port, printed at start")
    fake.add_argument("--latency", type=float, default=0.2, help="seconds before every answer")
    fake.add_argument("--hang", type=float, default=3600.0, help="seconds a 'timeout' scenario hangs")
    fake.set_defaults(func=cmd_fake_server)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _command_environment(args):
            return args.func(args)
    except CliError as exc:
        print(f"xcoder: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `xcoder trace ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
