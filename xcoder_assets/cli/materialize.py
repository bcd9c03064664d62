"""`xcoder materialize`: run selected assets in this process, recorded in $DAGSTER_HOME."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from xcoder_assets.cli.common import (
    NO_DAGSTER_HOME,
    CliError,
    debug,
    load_run_config,
    silence_import_noise,
)
from xcoder_assets.recipe.batches import DEFAULT_BATCH

# What runs offline on embedded defaults: the GPU group (trained_model and its scores) is asked for by name.
DEFAULT_SELECTION = "* and not group:training"


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
    verbose = debug(args)
    if not verbose:
        silence_import_noise()
    import dagster as dg
    from dagster import DagsterInstance

    run_config = load_run_config(args.config or [])
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


def add_parser(sub: argparse._SubParsersAction) -> None:
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
