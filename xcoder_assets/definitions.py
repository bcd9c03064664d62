"""The xcoder_assets code location: everything under defs/, merged. Nothing else lives here."""

from pathlib import Path

import warnings

import dagster as dg

import xcoder_assets  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)
import xcoder_assets.defs as defs_package
from xcoder_assets.defs.progress_logger import PROGRESS_LOGGER, progress_logger

CODE_LOCATION = "xcoder_assets"  # the location name in workspace.yaml and make serve's workspace


def _with_operations_tags(asset: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The asset's concurrency pool and partitions definition also as tags (`pool`, `partitions`):
    `dg list defs --json` lists tags but not pools or partitions, and the UI filters assets by tag."""
    tags = {}
    if getattr(asset.op, "pool", None):
        tags["pool"] = asset.op.pool
    if asset.partitions_def is not None:
        tags["partitions"] = getattr(asset.partitions_def, "name", None) or type(asset.partitions_def).__name__
    if not tags:
        return asset
    return asset.map_asset_specs(lambda spec: spec.merge_attributes(tags=tags))


@dg.definitions
def defs() -> dg.Definitions:
    # From the module, not the project's pyproject.toml: an installed wheel (the code image) has no
    # project file beside it.
    loaded = dg.load_defs(defs_root=defs_package, project_root=Path(__file__).resolve().parents[1])
    with warnings.catch_warnings():  # code references are a beta API; the notice is not the user's business
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = dg.with_source_code_references([_with_operations_tags(a) for a in loaded.assets or []])
    return dg.Definitions.merge(
        # every asset links to its source file and line in the UI
        dg.Definitions(assets=assets),
        dg.Definitions(
            asset_checks=loaded.asset_checks,
            resources=loaded.resources,
            jobs=loaded.jobs,
            schedules=loaded.schedules,
            sensors=loaded.sensors,
        ),
        # In-process: every stage parallelises inside itself (async LLM calls, sandbox workers), and a
        # process per step would pay litellm's import for nothing. Dagster's console logger stays the
        # default; `xcoder materialize` names its progress logger in the run config.
        dg.Definitions(
            executor=dg.in_process_executor,
            loggers={"console": dg.colored_console_logger, PROGRESS_LOGGER: progress_logger},
        ),
    )
