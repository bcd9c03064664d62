"""What an asset's data was made with, written next to the data: settings/<asset>.json.

Run config and resource settings are kept apart: `run_config` can be pasted as the asset's
launchpad config (`ops.<asset>.config`) as it is; `resources` are settings of the resources the
asset used (set through the environment or the resource, never in run config); `made_with` holds
what neither of them sets (models, prompt template versions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from xcoder_assets.store.parquet import write_text
from xcoder_assets.store.tables import settings_path

NOTE = (
    "run_config is the asset's run config (paste it under ops.<asset>.config in the launchpad); resources are "
    "settings of the resources it used (environment variables or the resource's own config, not run config); "
    "made_with names the models and prompt templates behind the data."
)


def record_settings(
    data_dir: Path,
    asset: str,
    run_config: Mapping[str, Any],
    resources: Mapping[str, Mapping[str, Any]] | None = None,
    made_with: Mapping[str, Any] | None = None,
) -> Path:
    record = {
        "asset": asset,
        "note": NOTE,
        "run_config": dict(run_config),
        "resources": {name: dict(values) for name, values in (resources or {}).items()},
        "made_with": dict(made_with or {}),
    }
    return write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", settings_path(data_dir, asset))


def read_settings(data_dir: Path, asset: str) -> dict[str, Any]:
    path = settings_path(data_dir, asset)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: materialize {asset} first")
    record = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(record, dict) or "run_config" not in record:
        raise ValueError(f"{path}: not a settings record (no run_config); written by an older version?")
    return record
