"""Running the pipeline every night: the batch schedule, the LiveCodeBench release sensor, the sensor
that evaluates the assets' automation conditions, and the trace_row job (a row's lineage in the UI). The
pools and the conditions themselves, which the asset modules declare, are in defs/automation.py.

The schedule and the sensor name their assets by key, so they keep working while the assets move
between files; the partitioned stage is BATCH_ASSET_KEYS (defs/partitions.py).
"""

from dataclasses import dataclass
from typing import Literal

import dagster as dg
from pydantic import Field

from xcoder_assets.defs.partitions import (
    BATCH_ASSET_KEYS,
    BATCH_PARTITIONS_NAME,
    add_batch,
    existing_batches,
    is_batched,
    remove_refused_batches,
)
from xcoder_assets.defs.resources import (  # noqa: F401  (re-exported)
    LcbReleaseSource,
    StorageResource,
    batch_shards_from_env,
    refused,
    release_source_from_env,
    sample_rows_metadata,
)
from xcoder_assets.recipe.releases import (  # noqa: F401  (the sensor's reading of a release; re-exported)
    LCB_FILE,
    ReleaseSourceError,
    ReleaseState,
    folder_digest,
    folder_release,
    hub_release,
)
from xcoder_assets.recipe.batches import plan_nightly
from xcoder_assets.present import lineage_view
from xcoder_assets.defs.automation import (  # noqa: F401  (re-exported for readers of the operations)
    GPU_CRON,
    GPU_POOL,
    LLM_POOL,
    NIGHTLY_CRON,
    POOL_LIMITS,
    SANDBOX_POOL,
    eager_downstream,
    gpu_cron_gate,
)

# Evaluates the conditions above; stopped until turned on, like the schedule.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "xcoder_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Evaluates the assets' automation conditions (eager downstream assets, the GPU cron gate).",
)

# ---- the nightly batch ----------------------------------------------------------------------------
BATCH_SELECTION = dg.AssetSelection.assets(*BATCH_ASSET_KEYS)
BATCH_TAG = "xcoder/batch"


def _unpartitioned(context: dg.ScheduleEvaluationContext, selection: dg.AssetSelection) -> list[str]:
    repository = context.repository_def
    if repository is None:
        return []
    graph = repository.asset_graph
    keys = selection.resolve(graph)
    return sorted(key.to_user_string() for key in keys if not is_batched(graph, key))


def build_batch_schedule(
    selection: dg.AssetSelection = BATCH_SELECTION,
    cron: str = NIGHTLY_CRON,
    name: str = "nightly_batch",
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
    shards: int | None = None,
) -> dg.ScheduleDefinition:
    """A schedule that adds the tick's batch partition (nightly-<date>), or its `shards` shards
    (nightly-<date>.s<i>-of-<n>, XCODER_BATCH_SHARDS), and materializes each end to end: one run per
    shard, which a run launcher can put on a machine of its own."""
    shards = batch_shards_from_env() if shards is None else shards

    @dg.schedule(
        name=name,
        cron_schedule=cron,
        execution_timezone="UTC",
        target=selection,
        default_status=default_status,
        description="Adds tonight's generation batch (nightly-<date>, its own seed offset)"
        + (f", split into {shards} shards (one run each)," if shards > 1 else "")
        + " and materializes the synthesis and verification assets for it. Off until turned on.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        missing = _unpartitioned(context, selection)
        if missing:
            return dg.SkipReason(
                f"{', '.join(missing)} not partitioned by {BATCH_PARTITIONS_NAME}: "
                "give them partitions_def=batch_partitions (defs/partitions.py)"
            )
        plans = plan_nightly(context.scheduled_execution_time, existing_batches(context.instance), shards)
        requests, skipped = [], []
        for plan in plans:
            if plan.status == "collides":
                skipped.append(plan.reason)
                continue
            if plan.status == "new":
                add_batch(context.instance, plan.key)
            elif context.instance.get_run_records(dg.RunsFilter(tags={BATCH_TAG: plan.key}), limit=1):
                # a later tick of the same day: the batch ran (a rerun is a backfill from the UI)
                skipped.append(f"{plan.reason} and has run")
                continue
            # exists without a run: this tick evaluated again after a crash between adding and launching;
            # run_key: within one tick Dagster launches a key once
            requests.append(
                dg.RunRequest(
                    run_key=plan.key,
                    partition_key=plan.key,
                    tags={BATCH_TAG: plan.key, "xcoder/seed_offset": str(plan.seed_offset)},
                )
            )
        return requests or dg.SkipReason("; ".join(skipped))

    return _schedule


nightly_batch = build_batch_schedule()

# ---- batch keys the project refuses ----------------------------------------------------------------
BATCH_KEY_GUARD = "batch_key_guard"


@dg.sensor(
    name=BATCH_KEY_GUARD,
    minimum_interval_seconds=30,
    # on by default, unlike the others: it launches nothing, it only undoes what the project cannot run
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Removes batch keys the project refuses (a key must be 1-64 characters of a-z, 0-9, '.', "
    f"'_' or '-'; the UI's add partition takes any key) from {BATCH_PARTITIONS_NAME}, so a mistyped batch "
    "such as Campaign_A does not stay listed with a run that can only fail.",
)
def batch_key_guard(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    removed = remove_refused_batches(context.instance)
    if not removed:
        return dg.SkipReason("every batch key is valid")
    return dg.SkipReason(f"removed from {BATCH_PARTITIONS_NAME}: " + "; ".join(removed.values()))


# ---- the LiveCodeBench release sensor ------------------------------------------------------------
# a new release re-reads the benchmark, re-decontaminates the shards against it and re-scores
LCB_SELECTION = dg.AssetSelection.assets("lcb_problems", "training_shards", "benchmark_scores")


@dataclass(frozen=True)
class ReleaseDecision:
    status: Literal["new", "unchanged", "touched", "empty", "error"]
    reason: str
    state: ReleaseState | None


def decide_release(source: LcbReleaseSource, cursor: str | None) -> ReleaseDecision:
    """Compare the source with the cursor: `new` (a release not seen: run), `touched` (files rewritten with
    the same content: only the cursor moves), `unchanged`, `empty`, or `error` with the reason."""
    seen = ReleaseState.from_cursor(cursor)
    try:
        state = source.current(seen)
    except ReleaseSourceError as exc:
        return ReleaseDecision("error", str(exc), None)
    if state is None:
        return ReleaseDecision("empty", f"no test*.jsonl in {source.dataset_dir} yet", None)
    if seen is not None and (seen.source, seen.digest) == (state.source, state.digest):
        if seen.stat == state.stat:
            return ReleaseDecision("unchanged", f"{state.release} ({state.digest}) already seen", state)
        return ReleaseDecision("touched", f"{state.release}: files touched, content unchanged ({state.digest})", state)
    return ReleaseDecision("new", f"new {state.release} at {state.source} ({state.digest})", state)


def build_lcb_release_sensor(
    selection: dg.AssetSelection = LCB_SELECTION,
    name: str = "lcb_release_sensor",
    minimum_interval_seconds: int = 300,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """A sensor that requests lcb_problems (reading exactly the new release), the decontamination of
    training_shards and benchmark_scores when a LiveCodeBench release appears; its cursor is the release seen."""

    @dg.sensor(
        name=name,
        target=selection,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Watches for a new LiveCodeBench release (a folder's test*.jsonl by content, or a Hugging "
        "Face dataset's commit) and re-runs lcb_problems, training_shards and benchmark_scores.",
    )
    def _sensor(context: dg.SensorEvaluationContext, lcb_release_source: LcbReleaseSource):
        decision = decide_release(lcb_release_source, context.cursor)
        if decision.status == "touched":
            context.update_cursor(decision.state.cursor())
        if decision.status != "new":
            return dg.SkipReason(decision.reason)
        state = decision.state
        context.update_cursor(state.cursor())
        return dg.RunRequest(
            run_key=f"{state.source}@{state.digest}",
            run_config={"ops": {"lcb_problems": {"config": lcb_release_source.lcb_config(state)}}},
            tags={"xcoder/lcb_release": state.release, "xcoder/lcb_digest": state.digest},
        )

    return _sensor


lcb_release_sensor = build_lcb_release_sensor()


# ---- lineage in the UI ------------------------------------------------------------------------------
TRACE_JOB = "trace_row"


class TraceRowConfig(dg.Config):
    row_id: str = Field(description="The row to trace, e.g. ver-0123456789abcdef (any asset's sample_rows show ids).")
    show_prompts: bool = Field(default=True, description="Include each LLM call's request and answer.")
    max_chars: int = Field(default=3000, description="Longest message text shown per request or answer.")


@dg.op(
    name="trace_lineage",
    description="Renders a row's lineage (rows, LLM requests and answers, votes, "
    "sandbox verdicts) as markdown metadata, and records it as an observation of the row's asset.",
)
def trace_lineage(context: dg.OpExecutionContext, config: TraceRowConfig, storage: StorageResource) -> dg.Output:
    from xcoder_assets.store import warehouse
    from xcoder_assets.store.ids import ID_KINDS, kind_of

    row_id = config.row_id.strip()
    kind = kind_of(row_id)
    if kind is None or kind == "call":
        raise refused(
            f"trace_row: {row_id!r} is not a row id: ids look like <kind>-<16 hex digits>, "
            f"kinds: {', '.join(k for k in ID_KINDS if k != 'call')}"
        )
    try:
        # the walk reads only the files of the rows it visits: no view, no usage log
        con = warehouse.connect(storage.root, views=False, usage_log=False)
    except FileNotFoundError as exc:
        raise refused(f"trace_row: {exc}") from None
    lineage = lineage_view.read_lineage(con, row_id)  # point lookups, a level at a time: never all lineage
    if lineage is None:
        raise refused(
            f"trace_row: no row of {ID_KINDS[kind]} has id {row_id} (it may come from an older materialization)"
        )
    options = lineage_view.Options(view="full", prompts=config.show_prompts, max_chars=config.max_chars)
    text = lineage_view.render(lineage, lineage_view.MarkdownWriter(), options)
    metadata = {
        "row_id": row_id,
        "asset": lineage.root.asset,
        "ancestors": len(lineage.ancestors),
        "llm_calls": len(lineage.calls),
        "lineage": dg.MetadataValue.md(text),
    }
    # on the row's asset too, so its page lists the traces made of its rows
    context.log_event(dg.AssetObservation(asset_key=lineage.root.asset, metadata=metadata))
    return dg.Output(text, metadata=metadata)


@dg.job(
    name=TRACE_JOB,
    description="The whole lineage of one row (run config: row_id) as markdown in the UI.",
    tags={"xcoder/kind": "debug"},
)
def trace_row() -> None:
    trace_lineage()


@dg.definitions
def operations() -> dg.Definitions:
    # the lcb_release_source resource comes from build_resources (defs/resources.py), with the others
    return dg.Definitions(
        schedules=[nightly_batch],
        sensors=[lcb_release_sensor, automation_sensor, batch_key_guard],
        jobs=[trace_row],
    )


__all__ = [
    "GPU_POOL",
    "LLM_POOL",
    "POOL_LIMITS",
    "SANDBOX_POOL",
    "BATCH_KEY_GUARD",
    "LcbReleaseSource",
    "ReleaseState",
    "build_batch_schedule",
    "batch_key_guard",
    "build_lcb_release_sensor",
    "decide_release",
    "eager_downstream",
    "gpu_cron_gate",
    "nightly_batch",
    "lcb_release_sensor",
    "sample_rows_metadata",
    "trace_row",
]
