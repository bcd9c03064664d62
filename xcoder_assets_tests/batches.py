"""dg.materialize for tests, in a generation batch when the selection holds batched assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import dagster as dg

from xcoder_assets.defs.partitions import add_batch
from xcoder_assets.recipe.batches import DEFAULT_BATCH
from xcoder_assets.store.tables import ALL_TABLES, batch_dir

# The batch make demo writes, so the tests' data is the demo's (its checks warn as docs/getting-started.md says).
TEST_BATCH = DEFAULT_BATCH


def batched_selected(assets: Sequence[Any], selection: Sequence[str] | None) -> bool:
    """Whether the selection (every asset when None) holds an asset partitioned by batch."""
    wanted = None if selection is None else set(selection)
    return any(
        isinstance(a, dg.AssetsDefinition)
        and a.partitions_def is not None
        and (wanted is None or any(k.to_user_string() in wanted for k in a.keys))
        for a in assets
    )


def materialize(
    assets: Sequence[Any],
    *,
    selection: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    batch: str = TEST_BATCH,
    **kwargs: Any,
) -> dg.ExecuteInProcessResult:
    """dg.materialize; for a selection with batched assets, `batch` is added to the instance and run."""
    instance = instance if instance is not None else dg.DagsterInstance.ephemeral()
    partition_key = None
    if batched_selected(assets, selection):
        add_batch(instance, batch)
        partition_key = batch
    return dg.materialize(assets, selection=selection, instance=instance, partition_key=partition_key, **kwargs)


def folder_of(data_dir: Path, asset: str, batch: str = TEST_BATCH) -> Path:
    """Where an asset's files are: its batch's folder for a batched asset, else the data directory."""
    table = ALL_TABLES.get(asset)
    return batch_dir(data_dir, batch) if table is not None and table.batched else Path(data_dir)


def materialize_location(
    data_dir: Path,
    selection: Sequence[str],
    llm: Any = None,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """The code location's assets and checks with its own resources, storage, llm and sandbox pointed at
    the test (other stages need theirs), in the test batch where the selection is batched."""
    from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource
    from xcoder_assets.definitions import defs as lazy_defs

    defs = lazy_defs()
    return materialize(
        [*defs.assets, *defs.asset_checks],
        resources={
            **(defs.resources or {}),
            "storage": StorageResource(data_dir=str(data_dir)),
            "llm": llm or LLMGatewayResource(),
            "sandbox": SandboxResource(),
        },
        run_config=run_config,
        raise_on_error=raise_on_error,
        instance=instance,
        selection=selection,
    )
