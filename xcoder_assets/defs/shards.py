"""training_shards and training_mixtures: verified solutions as the files a trainer reads
(wiring; the logic is in recipe/shards.py, recipe/dedup.py and recipe/decontamination.py).

The layout (recipe/shards.py): training_shards/<shards_version>/manifest.json with the SFT formats
(messages, query_response, sharegpt) and the RL set, in JSONL and Parquet; a mixture is a manifest over them.

Incremental (recipe/shard_index.py): each generation batch is planned once into a part keyed by its inputs'
content, the settings, the benchmark and the part before it; a run reads and plans only new or changed batches
(deduplicated against an on-disk index of what earlier batches kept, the earlier batch winning) and links the
parts' files into the version folder. Old versions go by the retention policy (setting keep_versions; a version
a trained model recorded is kept). A batch's tests are read a few problems at a time and the tables are written a
record batch at a time, counted as they go (recipe/shard_index.py: BatchTests, ShardsTally).
"""

from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.benchmark import VERIFIED_LABEL
from xcoder_assets.defs.checks import sampled_findings, share_check
from xcoder_assets.defs.automation import eager_downstream
from xcoder_assets.defs.resources import OWNERS, StorageResource, in_stage, publish, refused
from xcoder_assets.recipe import shard_index
from xcoder_assets.recipe import shards as recipe
from xcoder_assets.recipe.batches import BatchKeyError, select_batches
from xcoder_assets.recipe.decontamination import (
    BenchmarkText,
    DecontaminationInputError,
    DecontaminationSettings,
    load_benchmark,
)
from xcoder_assets.store.ids import content_hash
from xcoder_assets.present.render import chat_markdown, md_text
from xcoder_assets.store.tables import (
    LCB_PROBLEMS,
    SHARDS_DIR,
    TRAINING_MIXTURES,
    TRAINING_RL,
    TRAINING_SHARDS,
    batch_dirs,
)
from xcoder_assets.present.ui import bar_panels, column_chart, markdown_image, table_or_none

MIXTURES_DIR = "training_mixtures"

CONTAMINATION_SHARE = "contamination_share"
DUPLICATE_SHARE = "duplicate_share"
EMPTY_SHARDS = "empty_shards"
MIXTURES_NESTED = "nested"


class TrainingShardsConfig(dg.Config):
    keep: str = Field(
        "all",
        description="'all': every verified solution (up to max_per_problem per problem); "
        "'golden': only each problem's golden solution.",
    )
    max_per_problem: int = Field(8, description="At most this many examples per problem (golden first).")
    include_reasoning: bool = Field(
        True, description="Put the candidate's reasoning in a <think> block before the code."
    )
    include_system: bool = Field(
        True,
        description="Keep the solve template's system message (a system turn in "
        "messages, a `system` field beside query_response and sharegpt).",
    )
    style_mix: dict[str, float] | None = Field(
        None,
        description="Share of problems per style, e.g. {codeforces: 0.7, "
        "leetcode: 0.15, atcoder: 0.15}: the most problems that hold it are "
        "kept. Empty: every style as verified.",
    )
    validation_share: float = Field(
        0.1,
        description="Share of problems in the validation split (by a hash of the "
        "problem id, so a problem's examples never straddle it).",
    )
    shard_size: int = Field(10_000, description="Rows per shard file.")
    containers: list[str] = Field(
        default_factory=lambda: ["jsonl", "parquet"],
        description="File containers written (the same rows in each): jsonl, parquet.",
    )
    tokenizer: str | None = Field(
        None,
        description="Hugging Face tokenizer name or local path for the token counts "
        "(loaded at run time with transformers.AutoTokenizer, else tokenizers). Empty: an "
        "estimate of characters / 4, named as such in the manifest.",
    )
    problem_near_threshold: float = Field(
        0.8,
        description="Two problems whose statements' shingle Jaccard is at least "
        "this are near duplicates (MinHash LSH, exact Jaccard confirms).",
    )
    solution_near_threshold: float = Field(
        0.9,
        description="Two solutions of one problem whose code token 5-gram "
        "Jaccard is at least this are near duplicates.",
    )
    ngram: int = Field(13, description="Decontamination: word n-gram length (13, as the large open data sets use).")
    ngram_min_matches: int = Field(3, description="Decontamination: distinct shared n-grams that flag a problem.")
    minhash_threshold: float = Field(
        0.5,
        description="Decontamination: shingle Jaccard with a benchmark problem "
        "that flags a problem (MinHash LSH finds, exact Jaccard decides).",
    )
    shingle: int = Field(5, description="Words per shingle for MinHash (dedup and decontamination).")
    boilerplate_min_problems: int = Field(
        3, description="An n-gram in this many benchmark problems is stock phrasing and never flags."
    )
    benchmark_paths: list[str] = Field(
        default_factory=list,
        description="More benchmark files in LiveCodeBench's row "
        "format (JSONL or Parquet) to decontaminate against, besides lcb_problems.",
    )
    batches: list[str] | None = Field(
        None,
        description="Generation batches to read (keys of generation_batches); unset: every batch. Batches "
        "without verified solutions, and those whose verified_test_share check failed, are left out.",
    )
    max_contaminated_share: float = Field(
        0.05, description="Warn when more verified examples than this match a benchmark problem."
    )
    keep_versions: int = Field(
        3,
        description="Retention: keep the last this many shards versions (folders under training_shards/, with "
        "their mixtures); a version a trained model's run recorded (trained_model/*/settings.json) is kept too.",
    )
    max_duplicate_share: float = Field(
        0.25,
        description="Warn when more verified problems than this repeat another "
        "problem (duplicate solutions of one problem are expected, the same correct "
        "program, and are only counted in the metadata).",
    )

    def settings(self) -> recipe.ShardSettings:
        return recipe.ShardSettings(
            keep=self.keep,
            max_per_problem=self.max_per_problem,
            include_reasoning=self.include_reasoning,
            include_system=self.include_system,
            style_mix=self.style_mix,
            validation_share=self.validation_share,
            shard_size=self.shard_size,
            containers=tuple(self.containers),
            tokenizer=self.tokenizer,
            problem_near_threshold=self.problem_near_threshold,
            solution_near_threshold=self.solution_near_threshold,
            decontamination=DecontaminationSettings(
                ngram=self.ngram,
                ngram_min_matches=self.ngram_min_matches,
                minhash_threshold=self.minhash_threshold,
                shingle=self.shingle,
                boilerplate_min_problems=self.boilerplate_min_problems,
            ),
        )


def _fail(message: str) -> dg.Failure:
    return refused(f"training_shards: {message}")


def _benchmark(storage: StorageResource, paths: list[str]) -> tuple[list[BenchmarkText], dict[str, Any]]:
    """lcb_problems (without the project's own verified problems, which lcb_problems also carries for
    `xcoder judge`) and any extra benchmark files; and what was read, for the manifest. Only the four columns
    decontamination reads, the own problems filtered out in the scan."""
    path = LCB_PROBLEMS.path(storage.root)
    own = shard_index.scan(path, lambda q: q.filter(pl.col("source") == VERIFIED_LABEL).select(pl.len())).item()
    rows = shard_index.scan(
        path,
        lambda q: (
            q.filter(pl.col("source") != VERIFIED_LABEL)
            .select("question_id", "source", "title", "question_content")
            .sort("question_id")
        ),
    )
    texts = [
        BenchmarkText(r["question_id"], r["source"], f"{r['title']}\n{r['question_content']}")
        for r in rows.iter_rows(named=True)
    ]
    if paths:
        try:
            texts += load_benchmark([Path(p) for p in paths])
        except DecontaminationInputError as exc:
            raise _fail(f"setting benchmark_paths: {exc}") from None
    info = {
        "rows": len(texts),
        "skipped_own_verified_problems": own,
        "content_hash": content_hash(sorted((t.benchmark_id, t.text) for t in texts)),
        "sources": dict(sorted(Counter(t.source for t in texts).items())),
    }
    return texts, info


@dg.asset(
    automation_condition=(eager_downstream() & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label(
        "eager (cheap downstream), once upstream blocking checks pass"
    ),
    **in_stage("shards"),
    deps=["verified_solutions", "lcb_problems"],
    kinds={"parquet", "jsonl"},
    owners=OWNERS,
    description=TRAINING_SHARDS.description + " Writes training_shards/<shards_version>/ (manifest.json; sft/messages, "
    "sft/query_response, sft/sharegpt and rl shards in JSONL and Parquet) and training_shards__rl (one row per RL "
    "problem). Incremental: each batch is planned once into training_shards/_parts/<part>/ (deduplicated against an "
    "on-disk index of what earlier batches kept, the earlier batch winning) and a version links the parts' files.",
    check_specs=[
        dg.AssetCheckSpec(
            CONTAMINATION_SHARE,
            asset="training_shards",
            description="Share of verified examples whose problem matches a benchmark problem.",
        ),
        dg.AssetCheckSpec(
            DUPLICATE_SHARE,
            asset="training_shards",
            description="Share of verified problems that repeat another problem (exact or near).",
        ),
        dg.AssetCheckSpec(
            EMPTY_SHARDS,
            asset="training_shards",
            description="The train split has examples and no shard file is empty.",
        ),
    ],
)
def training_shards(
    context: dg.AssetExecutionContext, config: TrainingShardsConfig, storage: StorageResource
) -> dg.MaterializeResult:
    steps = shard_index.Steps()
    settings, counter, batches = _shards_inputs(config, storage)
    benchmark, benchmark_info = _benchmark(storage, config.benchmark_paths)
    shards_root, files = storage.root / SHARDS_DIR, storage.folder()
    decontaminator = shard_index.DecontaminatorLoader(shards_root, benchmark, settings.decontamination)
    steps("benchmark")
    try:
        index = shard_index.open_index(shards_root, settings)
        try:
            source_of = {b.benchmark_id: b.source for b in benchmark}
            parts = shard_index.build_parts(
                batches, shards_root, settings, counter, decontaminator, decontaminator.fingerprint, source_of, index,
                context.log.info,
            )  # fmt: skip
            steps("parts")
            if not parts.read:
                raise _fail(parts.none_read())
            info = {**benchmark_info, "fingerprint": decontaminator.fingerprint}
            with files.table_writer(TRAINING_SHARDS) as rows, files.table_writer(TRAINING_RL) as rl:
                built = shard_index.build_version(
                    shards_root, parts, settings, counter, info, index, (rows, rl), context.run.run_id, steps
                )
            steps("tables")
            retention = _retain(storage, built.version, parts.keys, config.keep_versions, index)
            steps("retention")
        finally:
            index.close()
    except (recipe.ShardInputError, shard_index.ShardIndexError) as exc:
        raise _fail(str(exc)) from None
    metadata = _run_metadata(config, parts, built, retention, decontaminator, benchmark_info, steps)
    metadata = {**files.written(rows), **_shards_metadata(built, len(source_of), counter), **metadata}
    made_with = {"template": built.created_from["template"], "tokenizer": counter.name}
    made_with |= {"shards_version": built.version, "batches": parts.read}
    return publish(context, files, "training_shards", config, {}, metadata, _shards_checks(built, config), **made_with)


def _retain(
    storage: StorageResource, version: str, parts: list[str], keep_versions: int, index: shard_index.ShardIndex
) -> shard_index.Retention:
    """The retention policy: the last keep_versions versions, and every version a trained model recorded."""
    trained = shard_index.trained_versions(storage.root)
    root = storage.root / SHARDS_DIR
    return shard_index.apply_retention(root, storage.root / MIXTURES_DIR, version, parts, keep_versions, trained, index)


def _shards_inputs(
    config: TrainingShardsConfig, storage: StorageResource
) -> tuple[recipe.ShardSettings, recipe.TokenCounter, dict[str, Path]]:
    """The settings, the token counter and the batches to read (key -> folder, in order); bad ones refused."""
    try:
        settings = config.settings()
        counter = recipe.load_token_counter(settings.tokenizer)
    except (recipe.ShardInputError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if config.keep_versions < 1:
        raise _fail(f"setting keep_versions: at least 1, got {config.keep_versions}")
    try:  # the batches in the data directory (one folder each), all or the configured ones
        keys = select_batches(batch_dirs(storage.root), config.batches)
    except BatchKeyError as exc:
        raise _fail(f"setting batches: {exc}") from None
    return settings, counter, {key: storage.batch(key).root for key in keys}


def _run_metadata(
    config: TrainingShardsConfig,
    parts: shard_index.Parts,
    built: shard_index.Version,
    retention: shard_index.Retention,
    decontaminator: shard_index.DecontaminatorLoader,
    benchmark_info: dict[str, Any],
    steps: shard_index.Steps,
) -> dict[str, Any]:
    """What this run read and planned, and what the retention policy kept."""
    return {
        "batches_read": dg.MetadataValue.json(parts.read),
        "batches_planned": dg.MetadataValue.json(parts.planned),
        "batches_without_verified_solutions": dg.MetadataValue.json(parts.empty),
        "batches_blocked": dg.MetadataValue.json(parts.blocked),
        "rows_read": dg.MetadataValue.json(
            {**dict(sorted(parts.rows_read.items())), "lcb_problems": benchmark_info["rows"]}
        ),
        "benchmark_index": decontaminator.describe(),
        "retention": dg.MetadataValue.json(
            {
                "keep_versions": config.keep_versions,
                "kept": retention.kept,
                "removed": retention.removed,
                "protected_by_trained_models": retention.protected,
                "parts_removed": retention.parts_removed,
            }
        ),
        "seconds": steps.total(),
        "seconds_by_step": dg.MetadataValue.json(steps.seconds),
    }


def _token_bins(values: Counter) -> list[tuple[str, int]]:
    """Kept examples per token range, from a count of examples per token count."""
    edges = [0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    bins = [
        (f"<{hi}" if hi < 1024 else f"<{hi // 1024}k", sum(n for v, n in values.items() if lo <= v < hi))
        for lo, hi in zip(edges, edges[1:])
    ]
    return bins + [(">=32k", sum(n for v, n in values.items() if v >= edges[-1]))]


def _shards_metadata(
    built: shard_index.Version, benchmark_problems: int, counter: recipe.TokenCounter
) -> dict[str, Any]:
    tally, manifest, folder = built.tally, built.manifest, built.folder
    statuses = tally.statuses
    verified = tally.rows
    deduplicated = verified - statuses["duplicate"]
    decontaminated = deduplicated - statuses["contaminated"]
    funnel = [
        ("verified solutions", verified),
        ("deduplicated", deduplicated),
        ("decontaminated", decontaminated),
        ("in shards", statuses["kept"]),
    ]
    problems = [("verified problems", len(tally.problems)), ("in shards", len(tally.kept_problems))]
    files = manifest["files"]
    sample_md = "_no example in the shards_"
    if tally.sample:
        s = tally.sample
        turns = (("system", "system"), ("user", "prompt"), ("assistant", "response"))
        sample_md = (
            f"**{md_text(s['example_id'], one_line=True)}** (from {md_text(s['verified_id'], one_line=True)}, "
            f"{s['split']}, {s['tokens']} tokens)\n\n"
            + chat_markdown([(role, s[key]) for role, key in turns if s[key]])  # the <think> block shown, escaped
        )
    dropped = tally.dropped if tally.dropped is not None else pl.DataFrame()
    bins = _token_bins(tally.kept_tokens)
    return {
        "shards_version": manifest["shards_version"],
        "folder": dg.MetadataValue.path(str(folder)),
        "manifest": dg.MetadataValue.json(manifest),
        "tokenizer": f"{counter.name} ({counter.kind})",
        "funnel": dg.MetadataValue.md(table_or_none(funnel + problems, ["stage", "count"])),
        "funnel_chart": dg.MetadataValue.md(
            markdown_image(
                bar_panels("training data funnel", [("examples", funnel), ("problems", problems)]),
                "verified -> deduplicated -> decontaminated -> in shards",
            )
        ),
        "examples_in_shards": statuses["kept"],
        "by_status": dg.MetadataValue.json(dict(sorted(statuses.items()))),
        "by_reason": dg.MetadataValue.md(
            table_or_none(
                tally.reasons.most_common(), ["reason", "examples"], "none: every verified example is in the shards"
            )
        ),
        "dropped_examples": dg.MetadataValue.md(
            table_or_none(
                dropped.iter_rows(),
                ["example", "status", "reason", "duplicate of", "benchmark question", "score"],
                "none",
            )
        ),
        "benchmark_problems_checked": benchmark_problems,
        "files": dg.MetadataValue.md(
            table_or_none(
                [(f["path"], f["rows"], f["tokens"], f["sha256"][:16]) for f in files],
                ["file", "rows", "tokens", "sha256 (first 16)"],
                "no files",
            )
        ),
        "totals": dg.MetadataValue.json(manifest["totals"]),
        "rl_problems_without_tests": tally.rl_without_tests,
        "token_histogram": dg.MetadataValue.md(
            markdown_image(
                column_chart(
                    f"tokens per SFT example ({counter.kind})", bins, "tokens (system + prompt + response)", "examples"
                ),
                "tokens per example",
            )
            + "\n\n"
            + table_or_none(bins, ["tokens", "examples"])
        ),
        "sample_example": dg.MetadataValue.md(sample_md),
    }


def _shards_checks(built: shard_index.Version, config: TrainingShardsConfig) -> list[dg.AssetCheckResult]:
    tally, manifest = built.tally, built.manifest
    total = tally.rows or 1
    empty = [f["path"] for f in manifest["files"] if f["rows"] == 0]
    problems = len(tally.problems)
    dup_problems = len(tally.duplicate_problems)
    train = manifest["totals"]["examples"]["train"]
    return [
        share_check(
            CONTAMINATION_SHARE,
            "contaminated_share",
            tally.contaminated / total,
            config.max_contaminated_share,
            contaminated_examples=tally.contaminated,
            **sampled_findings("contaminated_examples", tally.contaminated, tally.contaminated_ids, counted=True),
            benchmark_questions=dg.MetadataValue.json(sorted(tally.benchmark_questions)),
        ),
        share_check(
            DUPLICATE_SHARE,
            "duplicate_problem_share",
            dup_problems / max(1, problems),
            config.max_duplicate_share,
            duplicate_problems=dup_problems,
            verified_problems=problems,
            duplicate_examples=tally.duplicates,
            **sampled_findings("duplicate_examples", tally.duplicates, tally.duplicate_ids, counted=True),
            duplicate_example_share=round(tally.duplicates / total, 4),
            by_reason=dg.MetadataValue.json(dict(tally.duplicate_reasons)),
        ),
        dg.AssetCheckResult(
            check_name=EMPTY_SHARDS,
            passed=train > 0 and not empty,
            metadata={
                "train_examples": train,
                "validation_examples": manifest["totals"]["examples"]["validation"],
                "empty_files": ", ".join(empty) or "none",
                "files": len(manifest["files"]),
            },
        ),
    ]


# ---- training_mixtures --------------------------------------------------------------------------


class TrainingMixturesConfig(dg.Config):
    task_shares: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 1.0],
        description="Shares of the training "
        "tasks, each a prefix of one fixed task order (so every smaller mixture is inside "
        "every larger one).",
    )
    solutions_per_task: list[int] = Field(
        default_factory=lambda: [1, 4, 8],
        description="At most this many examples per task (golden first); one mixture per share x count.",
    )


@dg.asset(
    automation_condition=eager_downstream(),
    **in_stage("shards"),
    deps=[training_shards],
    kinds={"parquet", "jsonl"},
    owners=OWNERS,
    description=TRAINING_MIXTURES.description
    + " Each is training_mixtures/<shards_version>/<name>/manifest.json: the chosen row ids and the shards files"
    " holding them (path relative to the mixture, sha256); no row is copied (recipe.shards.mixture_rows reads one).",
    check_specs=[
        dg.AssetCheckSpec(
            MIXTURES_NESTED,
            asset="training_mixtures",
            description="Every mixture's train examples are inside each larger mixture's.",
        )
    ],
)
def training_mixtures(
    context: dg.AssetExecutionContext, config: TrainingMixturesConfig, storage: StorageResource
) -> dg.MaterializeResult:
    try:
        specs = [
            recipe.MixtureSpec(s, k)
            for s in sorted(set(config.task_shares))
            for k in sorted(set(config.solutions_per_task))
        ]
        version, rows, not_nested = shard_index.build_mixtures(
            TRAINING_SHARDS.path(storage.root),
            TRAINING_RL.path(storage.root),
            storage.root / SHARDS_DIR,
            storage.root / MIXTURES_DIR,
            specs,
            context.run.run_id,
        )
    except (recipe.ShardInputError, shard_index.ShardIndexError) as exc:
        raise refused(f"training_mixtures: {exc}") from None
    frame = pl.DataFrame(rows, schema=TRAINING_MIXTURES.schema)
    files = storage.folder()
    metadata = {**files.write_table(TRAINING_MIXTURES, frame), **_mixtures_metadata(version, frame)}
    check = dg.AssetCheckResult(
        check_name=MIXTURES_NESTED,
        passed=not not_nested,
        metadata={"mixtures": len(specs), "not_nested": ", ".join(f"{a} in {b}" for a, b in not_nested) or "none"},
    )
    return publish(context, files, "training_mixtures", config, {}, metadata, [check], shards_version=version)


def _mixtures_metadata(version: str, frame: pl.DataFrame) -> dict[str, Any]:
    columns = ["name", "train_tasks", "train_examples", "validation_examples", "rl_problems", "train_tokens"]
    headers = ["mixture", "train tasks", "train examples", "validation examples", "RL problems", "train tokens"]
    sizes = [(r["name"], r["train_examples"]) for r in frame.iter_rows(named=True)]
    return {
        "shards_version": version,
        "mixtures": dg.MetadataValue.md(
            table_or_none(frame.select(*columns, "manifest_path").iter_rows(), [*headers, "manifest"])
        ),
        "chart": dg.MetadataValue.md(
            markdown_image(bar_panels("mixtures: train examples", [("train examples", sizes)]), "mixture sizes")
        ),
    }
