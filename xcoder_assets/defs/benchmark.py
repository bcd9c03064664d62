"""lcb_problems and benchmark_scores: LiveCodeBench as data, and a model's score on it.

A score here is the one the official harness would give: LiveCodeBench's prompt, its code
extraction, the `lcb` judge profile, pass@1 averaged over n independent samples (avg@n).
"""

import fcntl
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.defs.checks import row_findings, share_check
from xcoder_assets.defs.automation import GPU_POOL, SANDBOX_POOL, gpu_cron_gate
from xcoder_assets.defs.resources import (
    LLMGatewayResource,
    SandboxResource,
    StorageResource,
    in_stage,
    llm_metadata,
    publish,
    refused,
    register_offline_if_used,
)
from xcoder_assets.llm.gateway import LLMConfigError, check_role_settings
from xcoder_assets.llm.settings import RoleSettings
from xcoder_assets.recipe import lcb_sources
from xcoder_assets.recipe.benchmark import (
    BenchmarkInputError,
    fetch_release,
    parse_date,
    release_files,
)
from xcoder_assets.recipe.evaluation import (
    OFFLINE_N,
    REAL_N,
    ROLE,
    Scoring,
    ScoringSettings,
    problem_from_row,
    sample_rows,
    summary_rows,
    write_lcb_outputs,
)
from xcoder_assets.recipe.evaluation import score_model as score_lcb
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.store.ids import make_id
from xcoder_assets.store.parquet import read_parquet
from xcoder_assets.present.progress import ProgressMeter
from xcoder_assets.store.tables import (
    BENCHMARK_SAMPLES,
    BENCHMARK_SUMMARY,
    LCB_PROBLEM_REJECTS,
    LCB_PROBLEMS,
    TRAINED_MODEL_SAMPLES,
    batch_dirs,
    verified_problems_path,
)
from xcoder_assets.present.ui import bar_panels, line_chart, markdown_image, table_or_none

BUNDLED_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "lcb" / "code_generation_lite_sample.jsonl"
BUNDLED_LABEL = "livecodebench sample (3 real problems, undated)"
VERIFIED_LABEL = "xcoder-verified (not LiveCodeBench)"
LCB_SOURCES_DIR = "lcb_problems_sources"  # each source file's parsed rows, by path, size and mtime
SOLVE_TEMPLATE = "solve"
FAILED_GENERATION_WARN_SHARE = 0.10  # above this, the score measures the endpoint as much as the model

REJECTED_ROWS = "rejected_rows"
FAILED_GENERATIONS = "failed_generations"
PROBLEMS_SCORED = "problems_scored"


class LcbProblemsConfig(dg.Config):
    release: str = Field(
        "release_v6",
        description="LiveCodeBench release: release_v1..release_v6 (cumulative), "
        "release_latest, vN (one increment) or vN_vM (a slice). Picks the files of dataset_dir or "
        "repo_id; labels the rows read from `paths`.",
    )
    paths: list[str] = Field(
        default_factory=list,
        description="Local code_generation_lite files (test*.jsonl or "
        "Parquet). Empty, with no dataset_dir or repo_id: the bundled demo set (three real "
        "problems and the project's own verified problems, labelled as not LiveCodeBench).",
    )
    dataset_dir: str | None = Field(
        None, description="A folder holding the dataset repo's raw test*.jsonl files; the release picks which."
    )
    repo_id: str | None = Field(
        None,
        description="Fetch the release's raw files at run time from this Hugging Face "
        "dataset repo (e.g. livecodebench/code_generation_lite) with huggingface_hub; "
        "HF_HUB_OFFLINE=1 reads the local Hub cache only.",
    )
    revision: str | None = Field(None, description="The dataset repo's revision (commit or tag) to fetch.")
    start_date: str | None = Field(None, description="Keep problems dated on or after this day (YYYY-MM-DD).")
    end_date: str | None = Field(None, description="Keep problems dated on or before this day (YYYY-MM-DD).")
    skip_bad_records: bool = Field(
        False, description="A malformed row becomes a reject row (file:line, reason) instead of failing the run."
    )


def _sources(config: LcbProblemsConfig, data_dir: Path) -> list[tuple[Path, str]]:
    files = release_files(config.release)  # an unknown release fails before anything is read
    if config.paths:
        return [(Path(p), config.release) for p in config.paths]
    if config.dataset_dir:
        return [(Path(config.dataset_dir) / name, config.release) for name in files]
    if config.repo_id:
        return [
            (p, config.release) for p in fetch_release(config.release, repo_id=config.repo_id, revision=config.revision)
        ]
    sources = [(BUNDLED_SAMPLE, BUNDLED_LABEL)]
    for folder in batch_dirs(data_dir).values():  # every batch's own verified problems, for `xcoder judge`
        if verified_problems_path(folder).exists():
            sources.append((verified_problems_path(folder), VERIFIED_LABEL))
    return sources


def _no_problems(config: LcbProblemsConfig, tally: lcb_sources.Tally) -> dg.Failure:
    return refused(
        f"lcb_problems: no problems left (release {config.release}, window {config.start_date or '...'} .. "
        f"{config.end_date or '...'}; {tally.outside_window} outside it, {tally.rejected} rejected)"
    )


def _lcb_metadata(tally: lcb_sources.Tally) -> dict[str, Any]:
    """What lcb_problems reports, from the counts kept while its rows were written."""
    counts = lambda counter: dg.MetadataValue.json(dict(sorted(counter.items())))  # noqa: E731
    return {
        "problems": tally.problems,
        "by_source": counts(tally.by_source),
        "by_difficulty": counts(tally.by_difficulty),
        "by_platform": counts(tally.by_platform),
        "by_mode": counts(tally.by_mode),
        "undated": tally.undated,
        "outside_window": tally.outside_window,
        "duplicates_skipped": tally.duplicates,
        "rejected_rows": tally.rejected,
        "sources_parsed": dg.MetadataValue.json(tally.parsed),
        "sources_reused": tally.reused,
        "rows_parsed": tally.rows_parsed,
        "date_range": tally.date_range(),
    }


def _rejects_check(tally: lcb_sources.Tally) -> dg.AssetCheckResult:
    shown = [(r["location"], r["question_id"] or "", r["reason"]) for r in tally.first_rejects]
    return dg.AssetCheckResult(
        check_name=REJECTED_ROWS,
        passed=not tally.rejected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rejected": tally.rejected,
            "reasons": dg.MetadataValue.md(table_or_none(shown, ["location", "question_id", "reason"])),
        },
    )


@dg.asset(
    **in_stage("benchmark"),
    deps=["verified_solutions"],
    kinds={"parquet"},
    owners=["team:benchmark"],
    description=LCB_PROBLEMS.description,
    check_specs=[
        dg.AssetCheckSpec(
            REJECTED_ROWS,
            asset="lcb_problems",
            description="No row was rejected as malformed (warns with the reasons otherwise).",
        )
    ],
)
def lcb_problems(
    context: dg.AssetExecutionContext, config: LcbProblemsConfig, storage: StorageResource
) -> dg.MaterializeResult:
    files = storage.folder()
    try:
        start, end = parse_date(config.start_date, "start_date"), parse_date(config.end_date, "end_date")
        sources = _sources(config, storage.root)
        # each source file parsed once per version of it (a nightly batch adds one file), the table written a
        # few rows at a time (a row holds a problem's hidden tests): see recipe/lcb_sources.py
        with files.table_writer(LCB_PROBLEMS) as rows, files.table_writer(LCB_PROBLEM_REJECTS) as rejects:
            tally = lcb_sources.build(
                sources,
                storage.root / LCB_SOURCES_DIR,
                context.run.run_id,
                rows,
                rejects,
                start=start,
                end=end,
                skip_bad_records=config.skip_bad_records,
            )
            if not tally.problems:  # nothing is written: the writers drop their files
                raise _no_problems(config, tally)
    except BenchmarkInputError as exc:
        raise refused(f"lcb_problems: {exc}") from None
    pruned = lcb_sources.prune(storage.root / LCB_SOURCES_DIR, sources, config.skip_bad_records)
    metadata = {**files.written(rows), **_lcb_metadata(tally), "sources_pruned": pruned}
    return publish(context, files, "lcb_problems", config, {}, metadata, [_rejects_check(tally)])


_SCORING = ScoringSettings()  # the recipe's defaults (recipe/evaluation.py), which this config does not repeat


class ScoringConfig(dg.Config):
    n: int | None = Field(
        _SCORING.n,
        description=f"Samples per problem (avg@n). Empty: {REAL_N} for a real model (the "
        f"paper's avg@{REAL_N}), {OFFLINE_N} for the offline simulator.",
    )
    seed: int = Field(
        _SCORING.seed, description="Sample i uses seed + i: n distinct requests, never n copies of one answer."
    )
    temperature: float = Field(_SCORING.temperature, description="Sampling temperature.")
    top_p: float = Field(_SCORING.top_p, description="Nucleus sampling.")
    max_tokens: int = Field(_SCORING.max_tokens, description="Longest answer (reasoning models need long ones).")
    windows: dict[str, list[str | None]] = Field(
        default_factory=lambda: {name: list(bounds) for name, bounds in _SCORING.windows.items()},
        description="Date windows scored apart, {name: [start, end]} inclusive; "
        "defaults: the papers' release_v5 and release_v6 windows.",
    )
    model_cutoff: str | None = Field(
        _SCORING.model_cutoff,
        description="The model's training cutoff (YYYY-MM-DD): pass@1 before vs after it is the contamination gap.",
    )

    def settings(self) -> ScoringSettings:
        """The recipe's settings from this config (checked: a bad window or cutoff raises ValueError)."""
        return ScoringSettings(**{name: getattr(self, name) for name in ScoringSettings.__dataclass_fields__})


class BenchmarkConfig(ScoringConfig):
    model: str | None = Field(
        None,
        description="The model scored (a litellm model name). Empty: the llm "
        "resource's solve model (XCODER_MODEL_SOLVE / XCODER_MODEL), else the offline simulator.",
    )
    api_base: str | None = Field(
        None, description="An OpenAI-compatible endpoint (a vLLM or SGLang server); empty: the llm resource's api_base."
    )


class TrainedModelScoresConfig(ScoringConfig):
    checkpoint: str | None = Field(
        None,
        description="The checkpoint folder to score. Empty: the checkpoint_path of trained_model's latest "
        "materialization.",
    )


BENCHMARK_CHECKS = [
    (
        FAILED_GENERATIONS,
        f"Share of samples with no judgeable answer (call error, no code); warns above "
        f"{FAILED_GENERATION_WARN_SHARE:.0%}.",
    ),
    (PROBLEMS_SCORED, "Every problem of lcb_problems got a score (none lost mid-run)."),
]


@dg.asset(
    pool=SANDBOX_POOL,
    **in_stage("benchmark"),
    deps=[lcb_problems],
    kinds={"parquet", "llm", "sandbox"},
    owners=["team:benchmark"],
    description=BENCHMARK_SAMPLES.description + " Also benchmark_summary (the score history) and LiveCodeBench's "
    "own output files under benchmark/<evaluation_id>/ (codegeneration_output.json, _eval.json, _eval_all.json).",
    check_specs=[
        dg.AssetCheckSpec(name, asset="benchmark_scores", description=text) for name, text in BENCHMARK_CHECKS
    ],
)
def benchmark_scores(
    context: dg.AssetExecutionContext,
    config: BenchmarkConfig,
    storage: StorageResource,
    llm: LLMGatewayResource,
    sandbox: SandboxResource,
) -> dg.MaterializeResult:
    solve = llm.settings("solve")
    role = RoleSettings(
        role=ROLE,
        model=config.model or solve.model,
        params=_settings(config, "benchmark_scores").params(),
        api_base=config.api_base or solve.api_base,
        api_key=solve.api_key,
    )
    return score_model(context, config, storage, llm, sandbox, role, BENCHMARK_SAMPLES)


@dg.asset(
    automation_condition=gpu_cron_gate(),
    **in_stage("training"),
    deps=["trained_model", lcb_problems],
    pool=GPU_POOL,
    kinds={"parquet", "pytorch", "sandbox"},
    owners=["team:benchmark"],
    description=TRAINED_MODEL_SAMPLES.description + " The checkpoint is served with an OpenAI-compatible server over "
    "transformers generation (started and stopped here) and scored exactly as benchmark_scores scores an API model; "
    "its summary joins benchmark_summary.",
    check_specs=[
        dg.AssetCheckSpec(name, asset="trained_model_scores", description=text) for name, text in BENCHMARK_CHECKS
    ],
)
def trained_model_scores(
    context: dg.AssetExecutionContext,
    config: TrainedModelScoresConfig,
    storage: StorageResource,
    llm: LLMGatewayResource,
    sandbox: SandboxResource,
) -> dg.MaterializeResult:
    checkpoint = config.checkpoint
    if checkpoint is None:
        event = context.instance.get_latest_materialization_event(dg.AssetKey("trained_model"))
        checkpoint = event and event.asset_materialization.metadata.get("checkpoint_path")
    if checkpoint is None:
        raise refused(
            "trained_model_scores: trained_model has no materialization with a "
            "checkpoint_path: materialize trained_model first (or set checkpoint)"
        )
    path = Path(getattr(checkpoint, "value", checkpoint))
    if not (path / "config.json").exists():
        raise refused(f"trained_model_scores: checkpoint {path} has no config.json")
    params = _settings(config, "trained_model_scores").params()
    from xcoder_assets.launched.serve import start_server  # the train extra: torch, transformers

    context.log.info(f"serving {path} for scoring")
    with start_server(path, name=path.name) as server:
        role = RoleSettings(role=ROLE, model=f"openai/{path.name}", params=params, api_base=server.url, api_key="local")
        return score_model(context, config, storage, llm, sandbox, role, TRAINED_MODEL_SAMPLES, model_label=str(path))


def _settings(config: ScoringConfig, asset: str) -> ScoringSettings:
    try:
        return config.settings()
    except ValueError as exc:  # a bad window or cutoff: no retry fixes it
        raise refused(f"{asset}: {exc}") from None


def score_model(
    context: dg.AssetExecutionContext,
    config: ScoringConfig,
    storage: StorageResource,
    llm: LLMGatewayResource,
    sandbox: SandboxResource,
    role: RoleSettings,
    table: Any,
    model_label: str | None = None,
) -> dg.MaterializeResult:
    """Score every lcb_problems row with one model by the recipe's loop (recipe/evaluation.py score_model, the
    one `xcoder eval` runs); write the samples to `table`, the summary to the score history, LiveCodeBench's
    files beside them."""
    asset, run_id = table.name, context.run.run_id
    problem_frame = read_parquet(LCB_PROBLEMS.path(storage.root))
    problems = [problem_from_row(row) for row in problem_frame.iter_rows(named=True)]
    settings = _settings(config, asset)
    try:
        register_offline_if_used([role])
        check_role_settings(role)
    except LLMConfigError as exc:
        raise refused(f"{asset}: {exc}") from None
    model, template = model_label or role.model, load_template(SOLVE_TEMPLATE)
    n = settings.samples(role.is_offline)
    api_base = "" if model_label else role.api_base or ""  # a served checkpoint's port changes every run
    evaluation_id = _evaluation_id(model, api_base, n, settings.seed, role, template.id, problem_frame)
    # a model's answers are cached by request: the offline simulator answers the solve prompt that
    # candidate_solutions already sent, so a first run finds many in the cache
    meter = ProgressMeter(
        f"{asset}: problems generated and judged",
        context.log.info,
        cached="with every answer from the cache (the same requests sent before)",
    )
    backend = sandbox.open()
    try:
        scoring = score_lcb(
            problems,
            llm.gateway(storage, (ROLE,), run_id, asset, settings_of={ROLE: role}),
            template,
            backend,
            settings,
            offline=role.is_offline,
            workers=sandbox.workers,
            on_progress=meter.update,
        )
    finally:
        backend.close()
    meter.finish()
    scoring.scores.update(model=model, evaluation_id=evaluation_id, template=template.id)
    return _publish_scores(context, config, storage, sandbox, role, table, scoring, problems, n)


def _evaluation_id(
    model: str, api_base: str, n: int, seed: int, role: RoleSettings, template: str, problems: pl.DataFrame
) -> str:
    """One id per model, sampling and problem set: the same evaluation again has the same id."""
    made_with = {"model": model, "api_base": api_base, "n": n, "seed": seed, "params": role.params.as_dict()}
    return make_id("eval", {**made_with, "template": template}, problems["lcb_problem_id"].to_list())


def _publish_scores(
    context: dg.AssetExecutionContext,
    config: ScoringConfig,
    storage: StorageResource,
    sandbox: SandboxResource,
    role: RoleSettings,
    table: Any,
    scoring: Scoring,
    problems: list,
    n: int,
) -> dg.MaterializeResult:
    """The samples, the score history and LiveCodeBench's files written; the metadata and checks reported."""
    asset, run_id, run, scored = table.name, context.run.run_id, scoring.run, scoring.scores
    model, evaluation_id, template = scored["model"], scored["evaluation_id"], scored["template"]
    id_prefix = "tscore" if table is TRAINED_MODEL_SAMPLES else "score"  # a row id names its table (store/ids.py)
    samples = pl.DataFrame(
        sample_rows(run, evaluation_id, model, role.api_base, template, run_id, id_prefix), schema=table.schema
    )
    summary = pl.DataFrame(
        summary_rows(scored, evaluation_id, model, run_id, datetime.now(timezone.utc)), schema=BENCHMARK_SUMMARY.schema
    )
    storage.write_llm_calls(asset, run.calls, run_id)
    metadata = storage.write_table(table, samples)
    history = _append_history(storage, summary)
    files = write_lcb_outputs(run.results, scored, storage.root / "benchmark" / evaluation_id)
    metadata.update(
        **llm_metadata(run.calls, {ROLE: role.model}),
        **_score_metadata(scored, role.is_offline, n, samples, history),
        tests_run=run.tests_run,
        judge_seconds=round(run.judge_seconds, 2),
        wall_seconds=round(run.wall_seconds, 2),
        # the folder of LiveCodeBench's own files (its file names are too long to show whole in the UI)
        **storage.folder().path_metadata("lcb_outputs", Path(files["lcb_eval_all"]).parent),
        evaluation_id=evaluation_id,
    )
    resources = {"sandbox": {"backend": sandbox.backend, "workers": sandbox.workers}}
    checks = _score_checks(scored, samples, table, problems, run)
    return publish(
        context, storage.folder(), asset, config, resources, metadata, checks, model=model, n=n, template=template
    )


def _score_metadata(
    scored: dict[str, Any], offline: bool, n: int, samples: pl.DataFrame, history: pl.DataFrame
) -> dict[str, Any]:
    return {
        "pass@1": round(scored["pass@1"], 4),  # a float: the UI plots it across materializations
        **{f"pass@1 {d}": round(v, 4) for d, v in scored["by_difficulty"].items() if v is not None},
        "model": scored["model"] + (" (offline simulator, not a real LLM)" if offline else ""),
        "n": n,
        "problems": scored["problems"],
        "samples": scored["samples"],
        "failed_generations": dg.MetadataValue.json(scored["generations"]),
        "scores": dg.MetadataValue.md(_scores_table(scored)),
        "chart": dg.MetadataValue.md(_chart(scored)),
        "history": dg.MetadataValue.md(_history_chart(history)),
        "sample_failures": dg.MetadataValue.md(
            table_or_none(
                samples.filter(~pl.col("passed"))
                .head(15)
                .select("score_id", "question_id", "sample", "generation_status", "reason")
                .iter_rows(),
                ["score_id", "question_id", "sample", "generation", "reason"],
                none="no failures",
            )
        ),
        "trace a sample": f"xcoder trace {samples['score_id'][0]}" if samples.height else "no samples",
    }


def _score_checks(
    scored: dict[str, Any], samples: pl.DataFrame, table: Any, problems: list, run: Any
) -> list[dg.AssetCheckResult]:
    failed_share = scored["generations"]["failed"] / scored["samples"] if scored["samples"] else 0.0
    lost = sorted({p.question_id for p in problems} - {r.problem.question_id for r in run.results})
    return [
        share_check(
            FAILED_GENERATIONS,
            "failed_share",
            failed_share,
            FAILED_GENERATION_WARN_SHARE,
            by_status=dg.MetadataValue.json(scored["generations"]["by_status"]),
            **row_findings("failed_samples", samples.filter(pl.col("generation_status") != "ok")[table.id_column]),
        ),
        dg.AssetCheckResult(
            check_name=PROBLEMS_SCORED,
            passed=not lost,
            metadata={"scored": len(run.results), "problems": len(problems), "missing": ", ".join(lost[:20]) or "none"},
        ),
    ]


def _append_history(storage: StorageResource, new_rows: pl.DataFrame) -> pl.DataFrame:
    """Add this run's summary to benchmark_summary; a lock, since two scoring assets may finish at once."""
    path = BENCHMARK_SUMMARY.path(storage.root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = read_parquet(path) if path.exists() else new_rows.clear()
        history = pl.concat([old.filter(~pl.col("summary_id").is_in(new_rows["summary_id"].implode())), new_rows])
        storage.write_table(BENCHMARK_SUMMARY, history)
    return history


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _scores_table(scored: dict[str, Any]) -> str:
    rows = [("overall", "all", _fmt(scored["pass@1"]), scored["problems"])]
    rows += [
        ("difficulty", d, _fmt(v), scored["problems_by_difficulty"][d]) for d, v in scored["by_difficulty"].items()
    ]
    rows += [("platform", p, _fmt(v), scored["problems_by_platform"][p]) for p, v in scored["by_platform"].items()]
    rows += [
        ("window", f"{name} ({w['start']} .. {w['end']})", _fmt(w["pass@1"]), w["problems"])
        for name, w in scored["by_window"].items()
    ]
    if "contamination" in scored:
        c = scored["contamination"]
        rows += [
            ("contamination", f"before {c['cutoff']}", _fmt(c["pass@1_before"]), c["problems_before"]),
            ("contamination", f"on/after {c['cutoff']}", _fmt(c["pass@1_after"]), c["problems_after"]),
        ]
    return table_or_none(rows, ["group", "name", "pass@1 (%)", "problems"])


def _chart(scored: dict[str, Any]) -> str:
    # a group without problems has no score: "no problems", not a bar of 0
    panels = [
        (
            "by difficulty (pass@1 %)",
            [(d, None if v is None else 100 * v) for d, v in scored["by_difficulty"].items()],
        ),
        (
            "by date window (pass@1 %)",
            [
                (f"{k} ({w['problems']} problems)", None if w["pass@1"] is None else 100 * w["pass@1"])
                for k, w in scored["by_window"].items()
            ],
        ),
    ]
    return markdown_image(
        bar_panels(f"pass@1 (avg@{scored['n']}) of {scored['model']}", panels, missing="no problems"), "pass@1 chart"
    )


def _history_chart(history: pl.DataFrame) -> str:
    overall = history.filter((pl.col("group") == "overall")).sort("evaluated_at")
    points = [(float(i), 100 * (v or 0)) for i, v in enumerate(overall["pass_at_1"].to_list(), 1)]
    return markdown_image(
        line_chart(
            "pass@1 (%) per materialization, every model",
            points,
            "materialization",
            "pass@1 %",
            note="one run so far" if len(points) == 1 else None,
            y_range=(0, 100),
        ),
        "score history" + (": one run so far" if len(points) == 1 else ""),
    )
