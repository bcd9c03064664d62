"""seed_problems: TACO-style seed records, loaded from files or a Hugging Face dataset."""


import dagster as dg
from pydantic import Field
import polars as pl

from xcoder_assets.defs.checks import schema_check
from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.recipe.seeds import BUNDLED_SEEDS, SeedLoadError, describe_rejects, load_seeds
from xcoder_assets.store.ids import make_id
from xcoder_assets.store.render import frame_markdown
from xcoder_assets.store.tables import SEED_PROBLEMS, SEED_REJECTS


class SeedConfig(dg.Config):
    paths: list[str] = Field(
        default=[str(BUNDLED_SEEDS)],
        description="JSONL or Parquet files of TACO-style records (question, solutions). Default: the bundled seed set.",
    )
    dataset_id: str | None = Field(default=None, description="A Hugging Face dataset id (or local dataset folder).")
    split: str = "train"
    limit: int | None = Field(default=None, description="Load at most this many records (the recipe uses ~10k).")
    skip_bad_records: bool = Field(
        default=False,
        description="Record bad records in seed_problems__rejects and go on, instead of failing the run.",
    )


@dg.asset(
    group_name="seed",
    kinds={"parquet", "python"},
    description=SEED_PROBLEMS.description,
)
def seed_problems(context: dg.AssetExecutionContext, config: SeedConfig, storage: StorageResource) -> dg.MaterializeResult:
    try:
        records, rejects = load_seeds(config.paths, config.dataset_id, config.split, config.limit)
    except SeedLoadError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    if rejects and not config.skip_bad_records:
        raise dg.Failure(
            description=f"{len(rejects)} bad seed record(s) (set skip_bad_records to record them and go on):\n"
            + describe_rejects(rejects),
            allow_retries=False,
        )
    if not records:
        raise dg.Failure(description=f"no usable seed records in {config.paths or config.dataset_id}", allow_retries=False)
    run_id = context.run.run_id
    frame = pl.DataFrame(
        [
            {
                "seed_id": make_id("seed", {"question": r.question, "solution": r.solution}),
                "source": r.source,
                "source_line": r.line,
                "question": r.question,
                "solution": r.solution,
                "solutions_count": r.solutions_count,
                "difficulty": r.difficulty,
                "run_id": run_id,
            }
            for r in records
        ],
        schema=SEED_PROBLEMS.schema,
    )
    duplicates = frame.height - frame["seed_id"].n_unique()
    frame = frame.unique("seed_id", keep="first", maintain_order=True)
    reject_frame = pl.DataFrame(
        [{"source": r.source, "source_line": r.line, "reason": r.reason, "raw": r.raw, "run_id": run_id} for r in rejects],
        schema=SEED_REJECTS.schema,
    )
    storage.write_table(SEED_REJECTS, reject_frame)
    metadata = storage.write_table(SEED_PROBLEMS, frame)
    storage.refresh_warehouse(context.log)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "sources": ", ".join(dict.fromkeys(r.source for r in records)),
            "rejected_records": len(rejects),
            "duplicate_records_dropped": duplicates,
            "preview": dg.MetadataValue.md(frame_markdown(frame.select("seed_id", "difficulty", "source_line", "question"))),
        }
    )


seed_problems_schema = schema_check(seed_problems, SEED_PROBLEMS)
