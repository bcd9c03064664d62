"""Generation batches as Dagster dynamic partitions: one key per batch (nightly-<date> or a campaign name).

The synthesis and verification assets (feature_configs, problems, test_inputs, candidate_solutions,
verified_solutions) take `partitions_def=batch_partitions`; the evolved pool and its inputs stay
unpartitioned (one pool, grown over time). The key rules and the seed offset live in recipe/batches.py.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from xcoder_assets.defs.resources import DataFolder, StorageResource, refused
from xcoder_assets.recipe.batches import BatchKeyError, batch_seed, check_batch_key

BATCH_PARTITIONS_NAME = "generation_batches"
batch_partitions = dg.DynamicPartitionsDefinition(name=BATCH_PARTITIONS_NAME)

# The partitioned stage, by asset key; the nightly schedule and the definitions test both read this one list.
BATCH_ASSET_KEYS = ("feature_configs", "problems", "test_inputs", "candidate_solutions", "verified_solutions")


def is_batched(asset_graph: Any, key: dg.AssetKey) -> bool:
    """Whether an asset of a repository's asset graph is partitioned by generation batch."""
    return getattr(asset_graph.get(key).partitions_def, "name", None) == BATCH_PARTITIONS_NAME


def batch_key(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> str:
    """The batch a partitioned materialization writes; a clear Failure when it has no (valid) partition."""
    if not context.has_partition_key:
        raise refused(
            f"{context.op_def.name}: no batch selected: materialize one partition of "
            f"{BATCH_PARTITIONS_NAME} (add a batch in the UI or let the nightly schedule add one)"
        )
    try:
        return check_batch_key(context.partition_key)
    except BatchKeyError as exc:
        # Dagster adds any key the UI is given; one the project refuses would stay listed for good
        removed = remove_refused_batches(context.instance)
        raise refused(
            f"{exc}" + (f"; removed from {BATCH_PARTITIONS_NAME}: {', '.join(removed)}" if removed else "")
        ) from None


def seed_for_batch(context: dg.AssetExecutionContext | dg.OpExecutionContext, base_seed: int) -> int:
    """The sampling seed of the batch being materialized (base seed + the batch's offset)."""
    return batch_seed(base_seed, batch_key(context))


def batch_folder(context: dg.AssetExecutionContext, storage: StorageResource) -> DataFolder:
    """The folder the batch being materialized reads its upstream batch tables from and writes to."""
    return storage.batch(batch_key(context))


def existing_batches(instance: dg.DagsterInstance) -> list[str]:
    """Every batch key, in the order the batches were added."""
    return list(instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME))


def refused_batches(instance: dg.DagsterInstance) -> dict[str, str]:
    """The batch keys of the instance that the project refuses (added in the UI, which takes any key),
    each with the rule it breaks."""
    refused = {}
    for key in existing_batches(instance):
        try:
            check_batch_key(key)
        except BatchKeyError as exc:
            refused[key] = str(exc)
    return refused


def remove_refused_batches(instance: dg.DagsterInstance) -> dict[str, str]:
    """Delete the refused batch keys from the dynamic partitions; the keys deleted, with the rule each
    broke. Dagster has no hook that validates a dynamic partition key before the UI adds it, so they
    are removed after the fact (by the batch_key_guard sensor, or by a run launched on one)."""
    refused = refused_batches(instance)
    for key in refused:
        instance.delete_dynamic_partition(BATCH_PARTITIONS_NAME, key)
    return refused


def add_batch(instance: dg.DagsterInstance, key: str) -> bool:
    """Add a batch (a campaign by name, or a nightly key); False when it already existed."""
    check_batch_key(key)
    if instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, key):
        return False
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [key])
    return True


__all__ = [
    "BATCH_ASSET_KEYS",
    "BATCH_PARTITIONS_NAME",
    "add_batch",
    "batch_folder",
    "batch_key",
    "batch_partitions",
    "is_batched",
    "existing_batches",
    "refused_batches",
    "remove_refused_batches",
    "seed_for_batch",
]
