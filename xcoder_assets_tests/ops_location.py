"""A code location for the deployment tests: the project's schedule and sensor factories, ticking
every minute and polling every few seconds, over a small partitioned asset and the real lcb_problems.

The real nightly schedule targets the synthesis stage, which takes minutes per batch; this one
targets `batch_rows`, which writes one file per batch with the batch's seed, so a test sees which
batches ran and that no run wrote another's file.
"""

import json

import dagster as dg

from xcoder_assets.defs import operations as ops
from xcoder_assets.defs.benchmark import lcb_problems
from xcoder_assets.defs.partitions import batch_partitions, seed_for_batch
from xcoder_assets.defs.resources import StorageResource, build_resources
from xcoder_assets.store.parquet import write_text


@dg.asset(partitions_def=batch_partitions, pool=ops.SANDBOX_POOL)
def batch_rows(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """One file per batch: its key, seed and run."""
    seed = seed_for_batch(context, 42)
    write_text(
        json.dumps({"batch": context.partition_key, "seed": seed, "run_id": context.run.run_id}),
        storage.root / "batches" / f"{context.partition_key}.json",
    )
    return dg.MaterializeResult(metadata={"seed": seed})


defs = dg.Definitions(
    assets=[batch_rows, lcb_problems],
    schedules=[ops.build_batch_schedule(dg.AssetSelection.assets("batch_rows"), cron="* * * * *")],
    sensors=[ops.build_lcb_release_sensor(dg.AssetSelection.assets("lcb_problems"), minimum_interval_seconds=5)],
    jobs=[ops.trace_row],
    resources={**build_resources(), "lcb_release_source": ops.release_source_from_env()},
)
