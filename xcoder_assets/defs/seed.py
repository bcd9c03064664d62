"""seed_problems: TACO-style seed records, loaded from files or a Hugging Face dataset."""

from pathlib import Path
from typing import Any, Sequence

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import OWNERS, StorageResource, in_stage, publish, refused, relative_path
from xcoder_assets.recipe.seeds import (
    BUNDLED_SEEDS,
    SeedLoadError,
    SeedRecord,
    SeedReject,
    load_usable_seeds,
    reject_rows,
    reject_share,
    seed_rows,
)
from xcoder_assets.present.render import frame_markdown
from xcoder_assets.store.tables import SEED_PROBLEMS, SEED_REJECTS

REJECT_SHARE = "reject_share"


class SeedConfig(dg.Config):
    paths: list[str] = Field(
        default=[str(BUNDLED_SEEDS)],
        description="JSONL or Parquet files of TACO-style records (question, solutions). Default: the bundled seed set.",
    )
    dataset_id: str | None = Field(default=None, description="A Hugging Face dataset id (or local dataset folder).")
    split: str = Field(default="train", description="The dataset split to read (with dataset_id).")
    limit: int | None = Field(default=None, description="Load at most this many records (the recipe uses ~10k).")
    skip_bad_records: bool = Field(
        default=False,
        description="Record bad records in seed_problems__rejects and go on, instead of failing the run.",
    )
    max_reject_share: float = Field(
        default=0.05, description="Warn when more of the records read than this are rejected (with skip_bad_records)."
    )


@dg.asset(
    **in_stage("seed"),
    kinds={"parquet", "python"},
    owners=OWNERS,
    description=SEED_PROBLEMS.description,
    check_specs=[
        dg.AssetCheckSpec(
            REJECT_SHARE,
            asset="seed_problems",
            description="Share of records read that could not be loaded; warns above max_reject_share.",
        )
    ],
)
def seed_problems(
    context: dg.AssetExecutionContext, config: SeedConfig, storage: StorageResource
) -> dg.MaterializeResult:
    try:
        records, rejects = load_usable_seeds(
            config.paths, config.dataset_id, config.split, config.limit, config.skip_bad_records
        )
    except SeedLoadError as exc:
        raise refused(str(exc)) from None
    run_id, folder = context.run.run_id, storage.folder()
    rows, duplicates = seed_rows(records, run_id)
    frame = pl.DataFrame(rows, schema=SEED_PROBLEMS.schema)
    folder.write_table(SEED_REJECTS, pl.DataFrame(reject_rows(rejects, run_id), schema=SEED_REJECTS.schema))
    metadata = {
        **folder.write_table(SEED_PROBLEMS, frame),
        **_seed_metadata(records, rejects, duplicates, frame),
    }
    return publish(context, folder, "seed_problems", config, {}, metadata, [_reject_check(records, rejects, config)])


def _seed_metadata(
    records: Sequence[SeedRecord], rejects: Sequence[SeedReject], duplicates: int, frame: pl.DataFrame
) -> dict[str, Any]:
    return {
        # relative to the working directory where they lie in it: a long path cannot wrap in the UI
        "sources": ", ".join(dict.fromkeys(relative_path(r.source, Path.cwd()) for r in records)),
        "records_read": len(records) + len(rejects),
        "rejected_records": len(rejects),
        "duplicate_records_dropped": duplicates,
        "preview": dg.MetadataValue.md(
            frame_markdown(frame.select("seed_id", "difficulty", "source_line", "question"))
        ),
    }


def _reject_check(
    records: Sequence[SeedRecord], rejects: Sequence[SeedReject], config: SeedConfig
) -> dg.AssetCheckResult:
    return share_check(
        REJECT_SHARE,
        "reject_share",
        reject_share(len(records), len(rejects)),
        config.max_reject_share,
        read=len(records) + len(rejects),
        # rejects have no row id (they never became rows): their file and line instead
        **row_findings("rejected", [f"{r.source}:{r.line}" for r in rejects], traceable=False),
    )
