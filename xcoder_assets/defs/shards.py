"""training_shards and training_mixtures: verified solutions as the files a trainer reads
(wiring; the logic is in recipe/shards.py, recipe/dedup.py and recipe/decontamination.py).

The layout (recipe/shards.py): training_shards/<shards_version>/manifest.json with the SFT formats
(messages, query_response, sharegpt) and the RL set, in JSONL and Parquet; a mixture is a manifest over them.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.operations import eager_downstream
from xcoder_assets.defs.benchmark import VERIFIED_LABEL
from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.resources import OWNERS, StorageResource, asset_tags
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
from xcoder_assets.store.ids import content_hash, make_id
from xcoder_assets.store.parquet import read_parquet
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
    return dg.Failure(description=f"training_shards: {message}", allow_retries=False)


def _benchmark(storage: StorageResource, paths: list[str]) -> tuple[list[BenchmarkText], dict[str, Any]]:
    """lcb_problems (without the project's own verified problems, which lcb_problems also carries for
    `xcoder judge`) and any extra benchmark files; and what was read, for the manifest."""
    frame = read_parquet(LCB_PROBLEMS.path(storage.root))
    own = frame.filter(pl.col("source") == VERIFIED_LABEL)
    rows = frame.filter(pl.col("source") != VERIFIED_LABEL).sort("question_id")
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
        "skipped_own_verified_problems": own.height,
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


def _tests_of(folder: Path, verified: pl.DataFrame) -> dict[str, tuple[tuple[str, str], ...]]:
    """A batch's verified tests with outputs per problem: votes_json's voted outputs where verified_solutions
    stores them, else lcb/verified_problems.jsonl (the golden solution's outputs on the verified tests)."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    golden = verified.filter(pl.col("is_golden"))
    inputs = None
    for row in golden.iter_rows(named=True):
        votes = json.loads(row["votes_json"] or "{}")
        if votes and all("voted_output" in v for v in votes.values()):
            if inputs is None:
                inputs = dict(read_parquet(TEST_INPUTS.path(folder)).select("test_id", "input").iter_rows())
            out[row["problem_id"]] = tuple(
                (inputs[t], v["voted_output"]) for t, v in votes.items() if v["verified"] and t in inputs
            )
    lcb_file = verified_problems_path(folder)
    if lcb_file.exists():
        for _, record, _ in read_records(lcb_file):
            if record and record.get("question_id") not in out:
                out[record["question_id"]] = recipe.rl_tests_from_lcb_row(record)
    return out


def _gate(folder: Path) -> VerificationGate | None:
    """The batch's verification gate, from verified_solutions' settings record (None: not recorded)."""
    try:
        return VerificationGate.from_record(
            read_settings(folder, "verified_solutions").get("made_with", {}).get(GATE_RECORD)
        )
    except (FileNotFoundError, ValueError):
        return None


class BatchInputs:
    """What training_shards reads from the generation batches it takes: each batch's verified solutions,
    with their candidates, problems and tests, turned into source examples with that batch's template."""

    def __init__(self, storage: StorageResource, keys: list[str]):
        self.read: list[str] = []  # batches with verified solutions
        self.empty: list[str] = []  # batches added but not verified yet (no verified_solutions file)
        self.blocked: dict[str, str] = {}  # batches whose blocking check failed: left out, with the reason
        self.sources: list[recipe.SourceExample] = []
        self.problems: dict[str, dict[str, Any]] = {}
        self.tests_of: dict[str, tuple[tuple[str, str], ...]] = {}
        self.templates: list[str] = []
        for key in keys:
            folder = storage.batch(key).root
            if not VERIFIED_SOLUTIONS.path(folder).exists():
                self.empty.append(key)
                continue
            gate = _gate(folder)
            if gate is not None and not gate.passed:
                self.blocked[key] = gate.reason
                continue
            verified = read_parquet(VERIFIED_SOLUTIONS.path(folder)).filter(pl.col("status") == "verified")
            problems = {r["problem_id"]: r for r in read_parquet(PROBLEMS.path(folder)).iter_rows(named=True)}
            candidates = {
                r["candidate_id"]: r
                for r in read_parquet(CANDIDATE_SOLUTIONS.path(folder))
                .filter(pl.col("candidate_id").is_in(verified["candidate_id"].implode()))
                .iter_rows(named=True)
            }
            template = _template(folder)
            self.sources += recipe.source_examples(
                verified.sort("verified_id").iter_rows(named=True), candidates, problems, template
            )
            self.problems.update(problems)
            self.tests_of.update(_tests_of(folder, verified))
            self.templates.append(template.id)
            self.read.append(key)
        self.templates = sorted(set(self.templates))


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
    "problem).",
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
    try:
        settings = config.settings()
        counter = recipe.load_token_counter(settings.tokenizer)
    except (recipe.ShardInputError, ValueError) as exc:
        raise _fail(str(exc)) from None
    try:  # the batches in the data directory (one folder each), all or the configured ones
        keys = select_batches(batch_dirs(storage.root), config.batches)
    except BatchKeyError as exc:
        raise _fail(f"setting batches: {exc}") from None
    try:
        inputs = BatchInputs(storage, keys)
    except recipe.ShardInputError as exc:
        raise _fail(str(exc)) from None
    if not inputs.read:
        raise _fail(
            "no generation batch has verified solutions yet"
            + (f"; blocked: {', '.join(f'{k} ({r})' for k, r in inputs.blocked.items())}" if inputs.blocked else "")
            + (f" (batches without them: {', '.join(inputs.empty)})" if inputs.empty else "")
            + ("" if inputs.empty or inputs.blocked else " (no batch added yet)")
            + ": materialize verified_solutions for a batch first"
        )
    sources, problems, tests_of = inputs.sources, inputs.problems, inputs.tests_of
    benchmark, benchmark_info = _benchmark(storage, config.benchmark_paths)
    meter = ProgressMeter("training_shards: examples planned", context.log.info)
    meter.update(0, len(sources))
    plan = recipe.plan_examples(sources, settings, Decontaminator(benchmark, settings.decontamination))
    meter.finish(len(sources), len(sources))

    kept = plan.kept()
    examples = [recipe.example_of(o, settings.include_system) for o in kept]
    rl, without_tests = recipe.rl_problems(kept, problems, tests_of)
    created_from = {
        "verified_solutions": {
            "rows": len(sources),
            "content_hash": content_hash(sorted((s.verified_id, s.code, s.reasoning, s.prompt) for s in sources)),
        },
        "tests": {"problems": len(tests_of), "content_hash": content_hash(sorted(tests_of.items()))},
        "benchmark": benchmark_info,
        "template": ", ".join(inputs.templates),
        "batches": inputs.read,
    }
    version = recipe.shards_version(settings, created_from, counter.name)
    folder = storage.root / SHARDS_DIR / version
    manifest = recipe.write_layout(folder, version, examples, rl, settings, counter, created_from)

    run_id = context.run.run_id
    tokens = {
        e.example_id: counter.count(e.system or "") + counter.count(e.prompt) + counter.count(e.response)
        for e in examples
    }
    source_of = {b.benchmark_id: b.source for b in benchmark}
    frame = pl.DataFrame(
        [_example_row(o, version, tokens.get(o.example_id), source_of, run_id) for o in plan.outcomes],
        schema=TRAINING_SHARDS.schema,
    )
    kept_by_problem: dict[str, list[str]] = {}
    for o in kept:
        kept_by_problem.setdefault(o.source.problem_id, []).append(o.source.verified_id)
    rl_frame = pl.DataFrame(
        [
            {
                "example_id": p.example_id,
                "problem_id": p.problem_id,
                "status": "kept",
                "split": p.split,
                "mode": p.mode,
                "func_name": p.func_name,
                "tests": len(p.tests),
                "tokens": counter.count(p.prompt),
                "verified_ids": kept_by_problem[p.problem_id],
                "shards_version": version,
                "run_id": run_id,
            }
            for p in rl
        ]
        + [
            {
                "example_id": make_id("rl", {"no_tests": True}, [pid]),
                "problem_id": pid,
                "status": "no_tests",
                "split": recipe.split_of(pid, settings.validation_share),
                "mode": None,
                "func_name": None,
                "tests": 0,
                "tokens": 0,
                "verified_ids": kept_by_problem[pid],
                "shards_version": version,
                "run_id": run_id,
            }
            for pid in without_tests
        ],
        schema=TRAINING_RL.schema,
    )
    metadata = storage.write_table(TRAINING_SHARDS, frame)
    storage.write_table(TRAINING_RL, rl_frame)
    storage.record_settings(
        "training_shards",
        config,
        made_with={
            "template": ", ".join(inputs.templates),
            "tokenizer": counter.name,
            "shards_version": version,
            "batches": inputs.read,
        },
    )
    storage.refresh_warehouse(context.log)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **_shards_metadata(frame, manifest, folder, plan, without_tests, counter, tokens),
            "batches_read": dg.MetadataValue.json(inputs.read),
            "batches_without_verified_solutions": dg.MetadataValue.json(inputs.empty),
            "batches_blocked": dg.MetadataValue.json(inputs.blocked),
        },
        check_results=_shards_checks(frame, manifest, config),
    )


def _example_row(
    o: recipe.ExampleOutcome, version: str, tokens: int | None, source_of: dict[str, str], run_id: str
) -> dict[str, Any]:
    source = source_of.get(o.flag.benchmark_id) if o.flag else None
    return {
        "example_id": o.example_id,
        "verified_id": o.source.verified_id,
        "problem_id": o.source.problem_id,
        "candidate_id": o.source.candidate_id,
        "status": o.status,
        "reason": o.reason,
        "duplicate_of": o.duplicate_of,
        "duplicate_score": o.duplicate_score,
        "contamination_method": o.flag.method if o.flag else None,
        "contamination_score": o.flag.score if o.flag else None,
        "benchmark_question_id": o.flag.benchmark_id if o.flag else None,
        "benchmark_source": source,
        "is_golden": o.source.is_golden,
        "rank": o.rank,
        "style": o.source.style,
        "split": o.split,
        "tokens": tokens,
        "shards_version": version,
        "system": o.source.system,
        "prompt": o.source.prompt,
        "response": o.response,
        "run_id": run_id,
    }


def _token_bins(values: list[int]) -> list[tuple[str, int]]:
    edges = [0, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    bins = [
        (f"<{hi}" if hi < 1024 else f"<{hi // 1024}k", sum(1 for v in values if lo <= v < hi))
        for lo, hi in zip(edges, edges[1:])
    ]
    return bins + [(">=32k", sum(1 for v in values if v >= edges[-1]))]


def _shards_metadata(
    frame: pl.DataFrame,
    manifest: dict[str, Any],
    folder: Path,
    plan: recipe.Plan,
    without_tests: list[str],
    counter: recipe.TokenCounter,
    tokens: dict[str, int],
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
    bins = _token_bins(list(tokens.values()))
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
        "benchmark_problems_checked": plan.benchmark_problems,
        "files": dg.MetadataValue.md(
            table_or_none(
                [(f["path"], f["rows"], f["tokens"], f["sha256"][:16]) for f in files],
                ["file", "rows", "tokens", "sha256 (first 16)"],
                "no files",
            )
        ),
        "totals": dg.MetadataValue.json(manifest["totals"]),
        "rl_problems_without_tests": len(without_tests),
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
    shards = read_parquet(TRAINING_SHARDS.path(storage.root))
    if not shards.height:
        raise dg.Failure(description="training_mixtures: training_shards has no rows", allow_retries=False)
    version = shards["shards_version"][0]
    folder = storage.root / SHARDS_DIR / version
    try:
        manifest = recipe.verify_manifest(folder)
        file_ids = recipe.shard_file_ids(folder, manifest)
    except (recipe.ShardInputError, FileNotFoundError) as exc:
        raise dg.Failure(description=f"training_mixtures: shards {version}: {exc}", allow_retries=False) from None
    # The choice needs only ids, tasks and splits; the rows stay in the shards folder (tokens as counted there).
    kept = shards.filter(pl.col("status") == "kept").sort("problem_id", "rank")
    examples = [recipe.RowRef(r["example_id"], r["problem_id"], r["split"]) for r in kept.iter_rows(named=True)]
    rl_kept = read_parquet(TRAINING_RL.path(storage.root)).filter(
        (pl.col("status") == "kept") & (pl.col("shards_version") == version)
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
                "manifest_sha256": recipe.sha256_of(out / "manifest.json"),
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
