"""training_shards and training_mixtures: verified solutions as the files a trainer reads
(wiring; the logic is in recipe/shards.py, recipe/dedup.py and recipe/decontamination.py).

The layout (recipe/shards.py): training_shards/<shards_version>/manifest.json with the SFT formats
(messages, query_response, sharegpt) and the RL set, in JSONL and Parquet; a mixture is a manifest over them.

Incremental (recipe/shard_index.py): each generation batch is planned once into a part keyed by its inputs'
content, the settings, the benchmark and the part before it; a run reads and plans only new or changed batches
(deduplicated against an on-disk index of what earlier batches kept, the earlier batch winning) and links the
parts' files into the version folder. Old versions go by the retention policy (setting keep_versions; a version
a trained model recorded is kept).
"""

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.operations import eager_downstream
from xcoder_assets.defs.benchmark import VERIFIED_LABEL
from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import OWNERS, StorageResource, asset_tags
from xcoder_assets.recipe import shard_index
from xcoder_assets.recipe import shards as recipe
from xcoder_assets.recipe.batches import BatchKeyError, select_batches
from xcoder_assets.recipe.benchmark import read_records
from xcoder_assets.recipe.verification import GATE_RECORD, VerificationGate
from xcoder_assets.recipe.decontamination import (
    BenchmarkText,
    DecontaminationInputError,
    DecontaminationSettings,
    Decontaminator,
    load_benchmark,
)
from xcoder_assets.recipe.prompts import load_template, template_by_id
from xcoder_assets.store.ids import content_hash, make_id, file_sha256
from xcoder_assets.store.parquet import damaged
from xcoder_assets.store.progress import ProgressMeter
from xcoder_assets.store.settings import read_settings
from xcoder_assets.store.tables import (
    CANDIDATE_SOLUTIONS,
    LCB_PROBLEMS,
    PROBLEMS,
    TEST_INPUTS,
    TRAINING_MIXTURES,
    TRAINING_RL,
    TRAINING_SHARDS,
    VERIFIED_SOLUTIONS,
    batch_dirs,
    settings_path,
    verified_problems_path,
)
from xcoder_assets.store.render import chat_markdown, md_text
from xcoder_assets.store.ui import bar_panels, column_chart, markdown_image, table_or_none

SHARDS_DIR = "training_shards"
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


def _scan(path: Path, query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
    """A query over one table file with its filters and columns pushed into the Parquet scan (row groups
    and columns it does not need are not read); a damaged file is one error naming it, as read_parquet's."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist: materialize its asset first")
    try:
        return query(pl.scan_parquet(path)).collect()
    except Exception as exc:  # polars' ComputeError for a truncated file, OSError, ...
        raise damaged(Path(path), exc) from None


def _fail(message: str) -> dg.Failure:
    return dg.Failure(description=f"training_shards: {message}", allow_retries=False)


def _benchmark(storage: StorageResource, paths: list[str]) -> tuple[list[BenchmarkText], dict[str, Any]]:
    """lcb_problems (without the project's own verified problems, which lcb_problems also carries for
    `xcoder judge`) and any extra benchmark files; and what was read, for the manifest. Only the four columns
    decontamination reads, the own problems filtered out in the scan."""
    path = LCB_PROBLEMS.path(storage.root)
    own = _scan(path, lambda q: q.filter(pl.col("source") == VERIFIED_LABEL).select(pl.len())).item()
    rows = _scan(
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


def _template(folder: Path):
    """The solve template a batch's candidate_solutions used (its settings record), so prompts match what was asked."""
    try:
        made_with = read_settings(folder, "candidate_solutions").get("made_with", {})
    except (FileNotFoundError, ValueError):
        made_with = {}
    return template_by_id(made_with["template"]) if made_with.get("template") else load_template("solve")


def _tests_of(folder: Path, verified: pl.DataFrame) -> tuple[dict[str, tuple[tuple[str, str], ...]], int]:
    """A batch's verified tests with outputs per problem: votes_json's voted outputs where verified_solutions
    stores them, else lcb/verified_problems.jsonl (the golden solution's outputs on the verified tests).
    Only the test inputs the votes name are read (the filter is pushed into the Parquet scan). Returns the
    tests and the test_inputs rows read."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    votes_of = {}
    for row in verified.filter(pl.col("is_golden")).iter_rows(named=True):
        votes = json.loads(row["votes_json"] or "{}")
        if votes and all("voted_output" in v for v in votes.values()):
            votes_of[row["problem_id"]] = votes
    inputs: dict[str, str] = {}
    wanted = sorted({t for votes in votes_of.values() for t, v in votes.items() if v["verified"]})
    if wanted:
        inputs = dict(
            _scan(
                TEST_INPUTS.path(folder), lambda q: q.filter(pl.col("test_id").is_in(wanted)).select("test_id", "input")
            ).iter_rows()
        )
    for pid, votes in votes_of.items():
        out[pid] = tuple((inputs[t], v["voted_output"]) for t, v in votes.items() if v["verified"] and t in inputs)
    lcb_file = verified_problems_path(folder)
    if lcb_file.exists():
        for _, record, _ in read_records(lcb_file):
            if record and record.get("question_id") not in out:
                out[record["question_id"]] = recipe.rl_tests_from_lcb_row(record)
    return out, len(inputs)


def _gate(folder: Path) -> VerificationGate | None:
    """The batch's verification gate, from verified_solutions' settings record (None: not recorded)."""
    try:
        return VerificationGate.from_record(
            read_settings(folder, "verified_solutions").get("made_with", {}).get(GATE_RECORD)
        )
    except (FileNotFoundError, ValueError):
        return None


def batch_inputs(folder: Path, index: shard_index.ShardIndex) -> dict[str, str]:
    """The sha256 of every file a batch's part is made of (hashed once per file version: by size and mtime)."""
    files = {
        "verified_solutions": VERIFIED_SOLUTIONS.path(folder),
        "problems": PROBLEMS.path(folder),
        "candidate_solutions": CANDIDATE_SOLUTIONS.path(folder),
        "test_inputs": TEST_INPUTS.path(folder),
        "lcb_verified_problems": verified_problems_path(folder),
        "settings_candidate_solutions": settings_path(folder, "candidate_solutions"),
        "settings_verified_solutions": settings_path(folder, "verified_solutions"),
    }
    return {name: index.file_sha256(path) for name, path in files.items() if path.is_file()}


def read_batch(folder: Path) -> shard_index.BatchData:
    """One batch's verified solutions with their candidates, problems and tests, as source examples with the
    batch's template. Each table is scanned with its filter pushed down (only verified rows, only the
    candidates and problems they name)."""
    verified = _scan(VERIFIED_SOLUTIONS.path(folder), lambda q: q.filter(pl.col("status") == "verified"))
    ids = verified["candidate_id"].unique().to_list()
    pids = verified["problem_id"].unique().to_list()
    candidates = {
        r["candidate_id"]: r
        for r in _scan(
            CANDIDATE_SOLUTIONS.path(folder), lambda q: q.filter(pl.col("candidate_id").is_in(ids))
        ).iter_rows(named=True)
    }
    problems = {
        r["problem_id"]: r
        for r in _scan(PROBLEMS.path(folder), lambda q: q.filter(pl.col("problem_id").is_in(pids))).iter_rows(
            named=True
        )
    }
    template = _template(folder)
    sources = recipe.source_examples(verified.sort("verified_id").iter_rows(named=True), candidates, problems, template)
    tests_of, test_rows = _tests_of(folder, verified)
    return shard_index.BatchData(
        sources,
        problems,
        tests_of,
        template.id,
        {
            "verified_solutions": verified.height,
            "candidate_solutions": len(candidates),
            "problems": len(problems),
            "test_inputs": test_rows,
        },
    )


@dataclass
class Parts:
    """The batches training_shards takes, each as its part: planned now or found from an earlier run."""

    read: list[str] = field(default_factory=list)  # batches with verified solutions, in order
    planned: list[str] = field(default_factory=list)  # of those, planned in this run (new or changed)
    empty: list[str] = field(default_factory=list)  # batches added but not verified yet
    blocked: dict[str, str] = field(default_factory=dict)  # batches whose blocking check failed
    keys: list[str] = field(default_factory=list)  # the part of each read batch
    folders: list[Path] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)
    rows_read: Counter = field(default_factory=Counter)


def build_parts(
    storage: StorageResource,
    keys: list[str],
    settings: recipe.ShardSettings,
    counter: recipe.TokenCounter,
    decontaminator: Callable[[], Decontaminator],
    benchmark: str,
    source_of: dict[str, str],
    index: shard_index.ShardIndex,
    log: Any,
) -> Parts:
    parts = Parts()
    root = storage.root / SHARDS_DIR / shard_index.PARTS_DIR
    after: str | None = None
    meter = ProgressMeter(
        "training_shards: batches", log.info, new="planned", cached="parts found (planned before, not read again)"
    )
    for number, key in enumerate(keys):
        meter.update(number, len(keys), cached=number - len(parts.planned))
        folder = storage.batch(key).root
        if not VERIFIED_SOLUTIONS.path(folder).exists():
            parts.empty.append(key)
            continue
        gate = _gate(folder)
        if gate is not None and not gate.passed:
            parts.blocked[key] = gate.reason
            continue
        part = shard_index.part_key(key, batch_inputs(folder, index), settings, benchmark, counter.name, after)
        part_folder = root / part
        if not (index.has_part(part) and (part_folder / shard_index.MANIFEST).is_file()):
            data = read_batch(folder)
            log.info(f"training_shards: planning batch {key} ({len(data.sources)} verified solutions)")
            shard_index.plan_part(
                part_folder, part, key, after, parts.keys, data, settings, decontaminator(), counter, index, source_of
            )
            parts.planned.append(key)
            parts.rows_read.update(data.rows_read)
        parts.read.append(key)
        parts.keys.append(part)
        parts.folders.append(part_folder)
        parts.manifests.append(shard_index.read_part_manifest(part_folder))
        after = part
    meter.finish(len(keys), len(keys), cached=len(keys) - len(parts.planned))
    return parts


@dg.asset(
    automation_condition=(eager_downstream() & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label(
        "eager (cheap downstream), once upstream blocking checks pass"
    ),
    group_name="shards",
    deps=["verified_solutions", "lcb_problems"],
    kinds={"parquet", "jsonl"},
    owners=OWNERS,
    tags=asset_tags("training"),
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
    started = time.perf_counter()
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
    shards_root = storage.root / SHARDS_DIR
    steps: dict[str, float] = {}  # seconds per step, for the metadata (what a nightly run spends where)
    mark = time.perf_counter()

    def step(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = round(now - mark, 3)
        mark = now

    benchmark, benchmark_info = _benchmark(storage, config.benchmark_paths)
    fingerprint = shard_index.benchmark_fingerprint(benchmark, settings.decontamination)
    loaded: dict[str, Any] = {}

    def decontaminator() -> Decontaminator:  # loaded (or built, once per benchmark) only when a batch is planned
        if "index" not in loaded:
            loaded["index"], _, loaded["built"] = shard_index.load_decontaminator(
                shards_root, benchmark, settings.decontamination
            )
        return loaded["index"]

    source_of = {b.benchmark_id: b.source for b in benchmark}
    step("benchmark")
    try:
        index = shard_index.open_index(shards_root, settings)
    except shard_index.ShardIndexError as exc:
        raise _fail(str(exc)) from None
    try:
        try:
            parts = build_parts(
                storage, keys, settings, counter, decontaminator, fingerprint, source_of, index, context.log
            )
        except (recipe.ShardInputError, shard_index.ShardIndexError) as exc:
            raise _fail(str(exc)) from None
        step("parts")
        if not parts.read:
            raise _fail(
                "no generation batch has verified solutions yet"
                + (f"; blocked: {', '.join(f'{k} ({r})' for k, r in parts.blocked.items())}" if parts.blocked else "")
                + (f" (batches without them: {', '.join(parts.empty)})" if parts.empty else "")
                + ("" if parts.empty or parts.blocked else " (no batch added yet)")
                + ": materialize verified_solutions for a batch first"
            )
        created_from = {
            "verified_solutions": {
                "rows": sum(m["created_from"]["verified_solutions"]["rows"] for m in parts.manifests),
                "content_hash": content_hash(
                    [m["created_from"]["verified_solutions"]["content_hash"] for m in parts.manifests]
                ),
            },
            "tests": {
                "problems": sum(m["created_from"]["tests"]["problems"] for m in parts.manifests),
                "content_hash": content_hash([m["created_from"]["tests"]["content_hash"] for m in parts.manifests]),
            },
            "benchmark": {**benchmark_info, "fingerprint": fingerprint},
            "template": ", ".join(sorted({m["created_from"]["template"] for m in parts.manifests})),
            "batches": parts.read,
            "parts": dict(zip(parts.read, parts.keys)),
        }
        version = recipe.shards_version(settings, created_from, counter.name)
        folder = shards_root / version
        manifest = shard_index.assemble_version(
            folder, version, list(zip(parts.folders, parts.manifests)), settings, counter, created_from, index
        )
        step("assemble")
        run_id = context.run.run_id
        stamp = [pl.lit(version).alias("shards_version"), pl.lit(run_id).alias("run_id")]
        frame = shard_index.read_part_rows(parts.folders, shard_index.EXAMPLES, TRAINING_SHARDS.schema).with_columns(
            stamp
        )
        rl_frame = shard_index.read_part_rows(parts.folders, shard_index.RL, TRAINING_RL.schema).with_columns(stamp)
        metadata = storage.write_table(TRAINING_SHARDS, frame)
        storage.write_table(TRAINING_RL, rl_frame)
        step("tables")
        retention = shard_index.apply_retention(
            shards_root,
            storage.root / MIXTURES_DIR,
            version,
            parts.keys,
            config.keep_versions,
            shard_index.trained_versions(storage.root),
            index,
        )
        step("retention")
    finally:
        index.close()
    storage.record_settings(
        "training_shards",
        config,
        made_with={
            "template": created_from["template"],
            "tokenizer": counter.name,
            "shards_version": version,
            "batches": parts.read,
        },
    )
    storage.refresh_warehouse(context.log)
    step("warehouse")
    benchmark_problems = len({b.benchmark_id for b in benchmark})
    benchmark_index = (
        "not needed (no batch planned)"
        if not loaded
        else "built now"
        if loaded["built"]
        else "stored (built before for this benchmark)"
    )
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **_shards_metadata(frame, rl_frame, manifest, folder, benchmark_problems, counter),
            "batches_read": dg.MetadataValue.json(parts.read),
            "batches_planned": dg.MetadataValue.json(parts.planned),
            "batches_without_verified_solutions": dg.MetadataValue.json(parts.empty),
            "batches_blocked": dg.MetadataValue.json(parts.blocked),
            "rows_read": dg.MetadataValue.json(
                {**dict(sorted(parts.rows_read.items())), "lcb_problems": benchmark_info["rows"]}
            ),
            "benchmark_index": benchmark_index,
            "retention": dg.MetadataValue.json(
                {
                    "keep_versions": config.keep_versions,
                    "kept": retention.kept,
                    "removed": retention.removed,
                    "protected_by_trained_models": retention.protected,
                    "parts_removed": retention.parts_removed,
                }
            ),
            "seconds": round(time.perf_counter() - started, 3),
            "seconds_by_step": dg.MetadataValue.json(steps),
        },
        check_results=_shards_checks(frame, manifest, config),
    )


def _token_bins(values: list[int]) -> list[tuple[str, int]]:
    edges = [0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    bins = [
        (f"<{hi}" if hi < 1024 else f"<{hi // 1024}k", sum(1 for v in values if lo <= v < hi))
        for lo, hi in zip(edges, edges[1:])
    ]
    return bins + [(">=32k", sum(1 for v in values if v >= edges[-1]))]


def _shards_metadata(
    frame: pl.DataFrame,
    rl_frame: pl.DataFrame,
    manifest: dict[str, Any],
    folder: Path,
    benchmark_problems: int,
    counter: recipe.TokenCounter,
) -> dict[str, Any]:
    statuses = Counter(frame["status"])
    verified = frame.height
    deduplicated = verified - statuses["duplicate"]
    decontaminated = deduplicated - statuses["contaminated"]
    funnel = [
        ("verified solutions", verified),
        ("deduplicated", deduplicated),
        ("decontaminated", decontaminated),
        ("in shards", statuses["kept"]),
    ]
    problems = [
        ("verified problems", frame["problem_id"].n_unique()),
        ("in shards", frame.filter(pl.col("status") == "kept")["problem_id"].n_unique()),
    ]
    files = manifest["files"]
    sample = frame.filter(pl.col("status") == "kept").head(1).to_dicts()
    sample_md = "_no example in the shards_"
    if sample:
        s = sample[0]
        turns = (("system", "system"), ("user", "prompt"), ("assistant", "response"))
        sample_md = (
            f"**{md_text(s['example_id'], one_line=True)}** (from {md_text(s['verified_id'], one_line=True)}, "
            f"{s['split']}, {s['tokens']} tokens)\n\n"
            + chat_markdown([(role, s[key]) for role, key in turns if s[key]])  # the <think> block shown, escaped
        )
    dropped = frame.filter(pl.col("status") != "kept").sort("status", "example_id")
    bins = _token_bins(frame.filter(pl.col("status") == "kept")["tokens"].fill_null(0).to_list())
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
                Counter(r.split(" with benchmark")[0] for r in frame["reason"].drop_nulls()).most_common(),
                ["reason", "examples"],
                "none: every verified example is in the shards",
            )
        ),
        "dropped_examples": dg.MetadataValue.md(
            table_or_none(
                dropped.head(20)
                .select(
                    "example_id", "status", "reason", "duplicate_of", "benchmark_question_id", "contamination_score"
                )
                .iter_rows(),
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
        "rl_problems_without_tests": rl_frame.filter(pl.col("status") == "no_tests").height,
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


def _shards_checks(
    frame: pl.DataFrame, manifest: dict[str, Any], config: TrainingShardsConfig
) -> list[dg.AssetCheckResult]:
    total = frame.height or 1
    contaminated = frame.filter(pl.col("benchmark_question_id").is_not_null())
    duplicates = frame.filter(pl.col("status") == "duplicate")
    empty = [f["path"] for f in manifest["files"] if f["rows"] == 0]
    problems = frame["problem_id"].n_unique()
    dup_problems = frame.filter(pl.col("reason").str.ends_with("_problem"))["problem_id"].n_unique()
    train = manifest["totals"]["examples"]["train"]
    return [
        share_check(
            CONTAMINATION_SHARE,
            "contaminated_share",
            contaminated.height / total,
            config.max_contaminated_share,
            contaminated_examples=contaminated.height,
            **row_findings("contaminated_examples", contaminated["example_id"], counted=True),
            benchmark_questions=dg.MetadataValue.json(sorted(set(contaminated["benchmark_question_id"]))),
        ),
        share_check(
            DUPLICATE_SHARE,
            "duplicate_problem_share",
            dup_problems / max(1, problems),
            config.max_duplicate_share,
            duplicate_problems=dup_problems,
            verified_problems=problems,
            duplicate_examples=duplicates.height,
            **row_findings("duplicate_examples", duplicates["example_id"], counted=True),
            duplicate_example_share=round(duplicates.height / total, 4),
            by_reason=dg.MetadataValue.json(dict(Counter(duplicates["reason"]))),
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
    group_name="shards",
    deps=[training_shards],
    kinds={"parquet", "jsonl"},
    owners=OWNERS,
    tags=asset_tags("training"),
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
    except recipe.ShardInputError as exc:
        raise dg.Failure(description=f"training_mixtures: {exc}", allow_retries=False) from None
    # only the columns the choice needs (ids, tasks, splits, ranks, tokens), the kept rows filtered in the scan
    columns = ["example_id", "problem_id", "split", "rank", "tokens", "shards_version"]
    kept = _scan(
        TRAINING_SHARDS.path(storage.root),
        lambda q: q.filter(pl.col("status") == "kept").select(columns).sort("problem_id", "rank"),
    )
    version = kept["shards_version"][0] if kept.height else None
    if version is None:
        raise dg.Failure(description="training_mixtures: training_shards has no kept rows", allow_retries=False)
    folder = storage.root / SHARDS_DIR / version
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        # the files checked against the manifest by the index's sha256 cache, the ids from the parts' id
        # lists: no shard file is read again (recipe/shard_index.py)
        index = shard_index.ShardIndex(storage.root / SHARDS_DIR / shard_index.INDEX_FILE, 0.8, 128)
        try:
            shard_index.verify_files(folder, manifest, index)
        finally:
            index.close()
        file_ids = shard_index.version_file_ids(storage.root / SHARDS_DIR, folder, manifest)
    except (recipe.ShardInputError, shard_index.ShardIndexError, FileNotFoundError, ValueError) as exc:
        raise dg.Failure(description=f"training_mixtures: shards {version}: {exc}", allow_retries=False) from None
    examples = [recipe.RowRef(r["example_id"], r["problem_id"], r["split"]) for r in kept.iter_rows(named=True)]
    rl_kept = _scan(
        TRAINING_RL.path(storage.root),
        lambda q: q.filter((pl.col("status") == "kept") & (pl.col("shards_version") == version)).select(
            "example_id", "problem_id", "split", "tokens"
        ),
    )
    rl = [recipe.RowRef(r["example_id"], r["problem_id"], r["split"]) for r in rl_kept.iter_rows(named=True)]
    tokens = {
        **dict(zip(kept["example_id"], kept["tokens"].fill_null(0))),
        **dict(zip(rl_kept["example_id"], rl_kept["tokens"].fill_null(0))),
    }
    run_id = context.run.run_id
    rows, members = [], {}
    for spec in specs:
        subset, rl_subset = recipe.mixture(examples, rl, spec)
        out = storage.root / MIXTURES_DIR / version / spec.name
        try:
            mix_manifest = recipe.write_mixture(out, folder, manifest, file_ids, spec, subset, rl_subset, tokens)
        except recipe.ShardInputError as exc:
            raise dg.Failure(description=f"training_mixtures: {exc}", allow_retries=False) from None
        train = [e for e in subset if e.split == "train"]
        members[spec] = {e.example_id for e in train}
        rows.append(
            {
                "mixture_id": make_id("mix", {"name": spec.name}, [version]),
                "name": spec.name,
                "shards_version": version,
                "task_share": spec.task_share,
                "solutions_per_task": spec.solutions_per_task,
                "train_tasks": len({e.problem_id for e in train}),
                "train_examples": len(train),
                "validation_examples": len(subset) - len(train),
                "rl_problems": len(rl_subset),
                "train_tokens": mix_manifest["totals"]["tokens"]["sft_train"],
                "manifest_path": str(out / "manifest.json"),
                "manifest_sha256": file_sha256(out / "manifest.json"),
                "run_id": run_id,
            }
        )
    not_nested = [
        (a.name, b.name)
        for a in specs
        for b in specs
        if a.task_share <= b.task_share
        and a.solutions_per_task <= b.solutions_per_task
        and not members[a] <= members[b]
    ]
    frame = pl.DataFrame(rows, schema=TRAINING_MIXTURES.schema)
    metadata = storage.write_table(TRAINING_MIXTURES, frame)
    storage.record_settings("training_mixtures", config, made_with={"shards_version": version})
    storage.refresh_warehouse(context.log)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "shards_version": version,
            "mixtures": dg.MetadataValue.md(
                table_or_none(
                    frame.select(
                        "name",
                        "train_tasks",
                        "train_examples",
                        "validation_examples",
                        "rl_problems",
                        "train_tokens",
                        "manifest_path",
                    ).iter_rows(),
                    [
                        "mixture",
                        "train tasks",
                        "train examples",
                        "validation examples",
                        "RL problems",
                        "train tokens",
                        "manifest",
                    ],
                )
            ),
            "chart": dg.MetadataValue.md(
                markdown_image(
                    bar_panels(
                        "mixtures: train examples",
                        [("train examples", [(r["name"], r["train_examples"]) for r in rows])],
                    ),
                    "mixture sizes",
                )
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=MIXTURES_NESTED,
                passed=not not_nested,
                metadata={
                    "mixtures": len(specs),
                    "not_nested": ", ".join(f"{a} in {b}" for a, b in not_nested) or "none",
                },
            )
        ],
    )
