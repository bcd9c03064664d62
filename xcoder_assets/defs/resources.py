"""Resources, in one place: where the data lives, which models answer each role, where programs run.

This is the only module that reads the environment (`build_resources`): models and keys come in
through dg.EnvVar, so secrets never enter run config or the UI. With no model configured every
role uses the offline provider (xcoder-offline/...), a deterministic simulator that is not a real
LLM; the UI and every row say so.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import dagster as dg
import polars as pl
from pydantic import Field, PrivateAttr

from xcoder_assets.llm.budget import LLMRunStopped, budget_limits
from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import (
    GatewayConfig,
    GatewayStats,
    LLMConfigError,
    LLMGateway,
    LLMRequest,
    LLMResult,
    check_role_settings,
)
from xcoder_assets.llm.settings import OFFLINE_MODEL, ROLES, RoleSettings, role_settings
from xcoder_assets.sandbox.backends import DEFAULT_IMAGE, Limits
from xcoder_assets.recipe.releases import ReleaseSourceError, ReleaseState, folder_release, hub_release
from xcoder_assets.present.figures import LLMFigures, SandboxFigures
from xcoder_assets.store.parquet import write_parquet, write_table
from xcoder_assets.present.progress import LLM_COUNTS, SANDBOX_COUNTS, ChunkProgress, ProgressMeter, with_progress
from xcoder_assets.store.streaming import TableWriter
from xcoder_assets.present.render import markdown_table, md_code_span
from xcoder_assets.store.settings import record_settings
from xcoder_assets.store.tables import LLM_CALLS, Table, batch_dir, llm_calls_path
from xcoder_assets.store.warehouse import refresh_warehouse_file

OWNERS = ["team:xcoder"]


def asset_tags(stage: str) -> dict[str, str]:
    """Tags every asset carries: its pipeline stage (the group), for filtering in the UI."""
    return {"stage": stage}


def in_stage(stage: str) -> dict[str, Any]:
    """An asset's group and its `stage` tag from one name (`@dg.asset(**in_stage("synthesis"), ...)`), so the
    UI's groups and its stage filter cannot disagree."""
    return {"group_name": stage, "tags": asset_tags(stage)}


@dataclass(frozen=True)
class DataFolder:
    """Where an asset writes: the data directory itself, or one generation batch's folder in it
    (batches/batch=<key>/: the batch's tables, LLM calls and settings). The caches and the DuckDB
    warehouse stay in the data directory, shared by every batch."""

    root: Path
    data_root: Path
    batch: str | None = None

    def write_table(self, table: Table, frame: pl.DataFrame) -> dict[str, Any]:
        """Atomically write an asset's table (schema enforced, ids unique); return the metadata every asset reports."""
        path = write_table(table, frame, self.root)
        return self.table_metadata(table, path, frame.height, frame)

    def table_writer(self, table: Table) -> TableWriter:
        """A table written chunk by chunk (store/streaming.py); table_metadata(writer) once it is closed."""
        return TableWriter(table, self.root)

    def llm_calls_writer(self, asset: str, run_id: str) -> "LLMCallsWriter":
        return LLMCallsWriter(TableWriter(LLM_CALLS, self.root, llm_calls_path(self.root, asset)), asset, run_id)

    def written(self, writer: TableWriter) -> dict[str, Any]:
        """The metadata of a table a TableWriter wrote."""
        sample = writer.first if writer.first is not None else pl.DataFrame(schema=writer.table.schema)
        return self.table_metadata(writer.table, writer.path, writer.rows, sample)

    def table_metadata(self, table: Table, path: Path, rows: int, sample: pl.DataFrame) -> dict[str, Any]:
        return {
            **sample_rows_metadata(sample, table.id_column),
            "dagster/row_count": rows,
            **self.path_metadata("path", path),
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(name, str(dtype), description=table.columns.get(name))
                    for name, dtype in table.schema.items()
                ]
            ),
            **({"batch": self.batch} if self.batch else {}),
        }

    def path_metadata(self, label: str, path: Path) -> dict[str, Any]:
        """A file of the data directory for the UI: its path relative to the data directory, which is
        given once as `data_dir`. The UI cannot wrap a path (no break opportunity in it), and one long
        absolute path widens the whole metadata table past the page, clipping every value on its right."""
        return {label: dg.MetadataValue.path(relative_path(path, self.data_root)), **data_dir_metadata(self.data_root)}

    def write_llm_calls(self, asset: str, results: Sequence[LLMResult], run_id: str) -> None:
        self.write_llm_calls_rows(asset, [r.as_row() for r in results], run_id)

    def write_llm_calls_rows(self, asset: str, rows: list[dict[str, Any]], run_id: str) -> None:
        """Every LLM call behind an asset's data (from LLMResult.as_row), stamped with asset and run."""
        rows = [{**row, "asset": asset, "run_id": run_id} for row in rows]
        frame = pl.DataFrame(rows, schema=LLM_CALLS.schema) if rows else pl.DataFrame(schema=LLM_CALLS.schema)
        write_parquet(frame, llm_calls_path(self.root, asset), LLM_CALLS.schema)

    def record_settings(
        self, asset: str, run_config: dg.Config, resources: dict[str, dict[str, Any]] | None = None, **made_with: Any
    ) -> None:
        """settings/<asset>.json: run config apart from resource settings (see store/settings.py)."""
        record_settings(
            self.root, asset, run_config.model_dump() if run_config is not None else {}, resources, made_with
        )

    def refresh_warehouse(self, log: Any = None) -> None:
        try:
            refresh_warehouse_file(self.data_root)
        except TimeoutError as exc:  # the views are convenience; the Parquet files are the data
            if log:
                log.warning(str(exc))


def register_offline_if_used(settings: Iterable[RoleSettings]) -> None:
    """Plug the offline simulator into litellm when a role uses it (the gateway does not know it)."""
    if any(s.is_offline for s in settings):
        from xcoder_assets.simulator.provider import register_offline_provider

        register_offline_provider()


def refused(description: str, **metadata: Any) -> dg.Failure:
    """A failure no retry fixes (bad settings or input): one message, and Dagster does not retry it."""
    return dg.Failure(description=description, metadata=metadata or None, allow_retries=False)


def publish(
    context: dg.AssetExecutionContext,
    folder: DataFolder,
    asset: str,
    config: dg.Config | None,
    resources: dict[str, dict[str, Any]],
    metadata: dict[str, Any],
    checks: Sequence[dg.AssetCheckResult] = (),
    **made_with: Any,
) -> dg.MaterializeResult:
    """What every asset does once its tables are written: record the settings it ran with (config None: an
    asset without run config), refresh the warehouse's views, and report its metadata and checks."""
    folder.record_settings(asset, config, resources, **made_with)
    folder.refresh_warehouse(context.log)
    return dg.MaterializeResult(metadata=metadata, check_results=list(checks))


@dataclass
class LLMCallsWriter:
    """An asset's llm_calls file written chunk by chunk, each row stamped with asset and run."""

    writer: TableWriter
    asset: str
    run_id: str

    def write(self, results: Sequence[LLMResult]) -> None:
        self.writer.write([{**r.as_row(), "asset": self.asset, "run_id": self.run_id} for r in results])

    def __enter__(self) -> "LLMCallsWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.writer.__exit__(*exc)


class StorageResource(dg.ConfigurableResource):
    """The data directory: one Parquet file per asset (per generation batch for the batched ones), the
    LLM and sandbox caches, settings records, checkpoints, and the DuckDB warehouse (XCODER_DATA_DIR)."""

    data_dir: str = Field(default="data", description="The data directory (relative to the working directory).")

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def folder(self) -> DataFolder:
        """The data directory, for the unbatched assets."""
        return DataFolder(self.root, self.root)

    def batch(self, key: str) -> DataFolder:
        """One generation batch's folder (batches/batch=<key>/), for the batched assets."""
        return DataFolder(batch_dir(self.root, key), self.root, key)

    def write_table(self, table: Table, frame: pl.DataFrame) -> dict[str, Any]:
        return self.folder().write_table(table, frame)

    def write_llm_calls(self, asset: str, results: Sequence[LLMResult], run_id: str) -> None:
        self.folder().write_llm_calls(asset, results, run_id)

    def write_llm_calls_rows(self, asset: str, rows: list[dict[str, Any]], run_id: str) -> None:
        self.folder().write_llm_calls_rows(asset, rows, run_id)

    def record_settings(
        self, asset: str, run_config: dg.Config, resources: dict[str, dict[str, Any]] | None = None, **made_with: Any
    ) -> None:
        self.folder().record_settings(asset, run_config, resources, **made_with)

    def refresh_warehouse(self, log: Any = None) -> None:
        self.folder().refresh_warehouse(log)


def relative_path(path: Path | str, root: Path | str) -> str:
    """A path relative to root when it lies under it, else the path as it is."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def data_dir_metadata(root: Path) -> dict[str, Any]:
    """The data directory the `path`-like entries are relative to."""
    return {"data_dir": dg.MetadataValue.path(str(root))}


def sample_rows_metadata(
    frame: pl.DataFrame, id_column: str, columns: Sequence[str] = (), n: int = 5
) -> dict[str, Any]:
    """Metadata for any asset: a few rows with their ids, and how to trace one (CLI or the trace_row job)."""
    if frame.is_empty():
        return {}
    shown = [id_column, *[c for c in columns if c != id_column and c in frame.columns]]
    sample = frame.select(shown).head(n)
    first = sample[id_column][0]
    return {
        "sample_rows": dg.MetadataValue.md(markdown_table(sample.rows(), shown, width=60)),
        "trace_a_row": dg.MetadataValue.md(
            f"{md_code_span(f'xcoder trace {first}')} on the command line, or launch the **trace_row** job with "
            f"run config {md_code_span(f'ops: {{trace_lineage: {{config: {{row_id: {first}}}}}}}')}"
        ),
    }


def llm_metadata(
    results: Sequence[LLMResult] | GatewayStats | LLMFigures, models: dict[str, str], **extra: Any
) -> dict[str, Any]:
    """The LLM figures of one materialization (this run's results; a gateway's stats give them without the
    cached tokens), and which model answered."""
    offline = any(m.startswith("xcoder-offline/") for m in models.values())
    if isinstance(results, LLMFigures):  # added up chunk by chunk
        figures = results
    else:
        figures = LLMFigures.of_stats(results) if isinstance(results, GatewayStats) else LLMFigures.of(results)
    return {
        "llm_model": ", ".join(f"{role}={model}" for role, model in models.items())
        + (" (offline simulator, not a real LLM)" if offline else ""),
        **figures.metadata(),
        **extra,
    }


def _role_field(role: str, what: str, variable: str) -> Any:
    return Field(
        default=None, description=f"{what} of the {role} role ({variable}_{role.upper()}); unset: the shared one."
    )


class LLMGatewayResource(dg.ConfigurableResource):
    """The LLM gateway (litellm): one model per stage role, limits, retries, and a response cache.

    Unset models fall back to `model` (XCODER_MODEL), then to the offline simulator
    `xcoder-offline/synthsmith-sim-1` (deterministic, no network; not a real LLM).
    """

    model: str | None = Field(
        default=None,
        description="litellm model name for every role (XCODER_MODEL), e.g. "
        "openai/Qwen3-235B-A22B; unset: the offline simulator.",
    )
    extract_model: str | None = _role_field("extract", "Model", "XCODER_MODEL")
    evolve_model: str | None = _role_field("evolve", "Model", "XCODER_MODEL")
    compose_model: str | None = _role_field("compose", "Model", "XCODER_MODEL")
    solve_model: str | None = _role_field("solve", "Model", "XCODER_MODEL")
    test_write_model: str | None = _role_field("test_write", "Model", "XCODER_MODEL")
    api_base: str | None = Field(
        default=None, description="OpenAI-compatible endpoint for every role (XCODER_API_BASE)."
    )
    extract_api_base: str | None = _role_field("extract", "API base", "XCODER_API_BASE")
    evolve_api_base: str | None = _role_field("evolve", "API base", "XCODER_API_BASE")
    compose_api_base: str | None = _role_field("compose", "API base", "XCODER_API_BASE")
    solve_api_base: str | None = _role_field("solve", "API base", "XCODER_API_BASE")
    test_write_api_base: str | None = _role_field("test_write", "API base", "XCODER_API_BASE")
    api_key: str | None = Field(
        default=None,
        description="Key for that endpoint (XCODER_API_KEY); provider keys such as OPENAI_API_KEY work too.",
    )
    extract_api_key: str | None = _role_field("extract", "API key", "XCODER_API_KEY")
    evolve_api_key: str | None = _role_field("evolve", "API key", "XCODER_API_KEY")
    compose_api_key: str | None = _role_field("compose", "API key", "XCODER_API_KEY")
    solve_api_key: str | None = _role_field("solve", "API key", "XCODER_API_KEY")
    test_write_api_key: str | None = _role_field("test_write", "API key", "XCODER_API_KEY")
    max_in_flight: int = Field(
        default=64,
        description="Requests in flight at once (XCODER_MAX_IN_FLIGHT); raise to thousands for slow reasoning models.",
    )
    requests_per_minute: int | None = Field(
        default=None, description="At most this many requests per minute (unset: no limit)."
    )
    tokens_per_minute: int | None = Field(
        default=None, description="At most this many tokens per minute (unset: no limit)."
    )
    max_retries: int = Field(default=6, description="Retries of a failed request (429, 5xx, timeouts), with backoff.")
    request_timeout_s: float = Field(default=600.0, description="Seconds one request may take.")
    budget_usd: float | None = Field(
        default=None,
        description="At most this many USD of LLM calls per run, across its assets and processes (XCODER_BUDGET_USD); "
        "each request reserves its worst case before it is sent. Unset: no cap.",
    )
    budget_usd_per_day: float | None = Field(
        default=None, description="At most this many USD per UTC day, all runs together (XCODER_BUDGET_USD_PER_DAY)."
    )
    budget_usd_per_batch: float | None = Field(
        default=None,
        description="At most this many USD per generation batch, all its runs together (XCODER_BUDGET_USD_PER_BATCH).",
    )
    price: str | None = Field(
        default=None,
        description="Price of every role's model, 'IN,OUT[,BATCH_IN,BATCH_OUT]' USD per million tokens (XCODER_PRICE); "
        "for self-hosted models. Unset: litellm's price map.",
    )
    extract_price: str | None = _role_field("extract", "Price", "XCODER_PRICE")
    evolve_price: str | None = _role_field("evolve", "Price", "XCODER_PRICE")
    compose_price: str | None = _role_field("compose", "Price", "XCODER_PRICE")
    solve_price: str | None = _role_field("solve", "Price", "XCODER_PRICE")
    test_write_price: str | None = _role_field("test_write", "Price", "XCODER_PRICE")
    extract_batch: bool = Field(
        default=False, description="Send the extract role's requests through the batch API (XCODER_BATCH_EXTRACT=1)."
    )
    evolve_batch: bool = Field(default=False, description="Send the evolve role's requests through the batch API.")
    compose_batch: bool = Field(default=False, description="Send the compose role's requests through the batch API.")
    solve_batch: bool = Field(default=False, description="Send the solve role's requests through the batch API.")
    test_write_batch: bool = Field(
        default=False, description="Send the test_write role's requests through the batch API."
    )
    batch_wait_s: float = Field(
        default=3600.0,
        description="How long a run waits for a provider batch; then the asset stops and a rerun collects it.",
    )
    batch_poll_s: float = Field(default=30.0, description="Seconds between two status reads of a provider batch.")
    _partition: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # The run's generation batch (its partition), for the per-batch budget.
        run = getattr(context, "dagster_run", None)
        self._partition = run.tags.get("dagster/partition") if run is not None else None

    def role_models(self, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
        return {role: self.settings(role).model for role in roles}

    def settings(self, role: str) -> RoleSettings:
        return role_settings(
            role,
            model=getattr(self, f"{role}_model") or self.model,
            api_base=getattr(self, f"{role}_api_base") or self.api_base,
            api_key=getattr(self, f"{role}_api_key") or self.api_key,
            price=getattr(self, f"{role}_price", None) or self.price,
            batch=getattr(self, f"{role}_batch", False),
        )

    def settings_record(self, roles: tuple[str, ...]) -> dict[str, Any]:
        """The resource settings behind an asset's calls, for its settings record (never a key)."""
        return {
            "models": self.role_models(roles),
            "api_base": {r: self.settings(r).api_base for r in roles},
            "max_in_flight": self.max_in_flight,
            "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "max_retries": self.max_retries,
            "request_timeout_s": self.request_timeout_s,
            "budget_usd": self.budget_usd,
            "batch": {r: self.settings(r).batch for r in roles},
        }

    def gateway(
        self,
        storage: StorageResource,
        roles: tuple[str, ...],
        run_id: str,
        asset: str,
        settings_of: Mapping[str, RoleSettings] | None = None,
    ) -> LLMGateway:
        """The one gateway every asset calls through: this resource's limits, budgets and shared cache.
        `settings_of` replaces the roles' own settings (the scoring assets' model under test)."""
        config = GatewayConfig(
            max_in_flight=self.max_in_flight,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            max_retries=self.max_retries,
            request_timeout_s=self.request_timeout_s,
            batch_wait_s=self.batch_wait_s,
            batch_poll_s=self.batch_poll_s,
        )
        try:
            config.budgets = tuple(
                budget_limits(
                    run_id, self.budget_usd, self.budget_usd_per_day, self.budget_usd_per_batch, self._partition
                )
            )
            roles_settings = dict(settings_of) if settings_of else {r: self.settings(r) for r in roles}
            register_offline_if_used(roles_settings.values())
            for settings in roles_settings.values():
                check_role_settings(settings)  # before the cache opens or any call is made
            cache = ResponseCache.at(storage.root)  # XCODER_CACHE_URL's Postgres when set (store/sqlstore.py)
            return LLMGateway(roles_settings, cache, config, run_id=run_id, asset=asset, on_stop=llm_stop_failure)
        except (LLMConfigError, ValueError) as exc:
            raise refused(f"LLM settings for {asset}: {exc}") from None


def llm_stop_failure(exc: LLMRunStopped) -> dg.Failure:
    """A budget reached or a provider batch still pending: the asset fails with that one message (what was
    answered is cached, so a rerun continues)."""
    return refused(str(exc))


def complete(
    gateway: LLMGateway,
    requests: Sequence[LLMRequest],
    log: Callable[[str], Any],
    label: str,
    meter: ProgressMeter | ChunkProgress | None = None,
) -> list[LLMResult]:
    """gateway.complete with a progress line in the run log (fed by its on_progress hook where it has one);
    `meter`: a chunk of a stage's StageProgress, whose line covers every chunk."""
    meter = meter or ProgressMeter(label, log, **LLM_COUNTS)
    results = with_progress(gateway.complete, meter, list(requests))
    meter.finish(len(results), len(results), sum(r.cache_hit for r in results))
    return results


def ask_with(gateway: LLMGateway, log: Callable[[str], Any]) -> Callable[[list[LLMRequest], Any], list[LLMResult]]:
    """A recipe stage's `ask` (recipe/stage.py): complete the requests through the gateway, the progress on
    the meter the stage hands over."""
    return lambda requests, meter: complete(gateway, requests, log, "", meter)


@dataclass
class SandboxSession:
    """An open sandbox backend with its run cache and limits: run program x input matrices in it."""

    backend: Any
    cache: Any
    limits: Limits
    workers: int
    log: Callable[[str], Any]

    def run(
        self,
        label: str,
        programs: Sequence[Any],
        inputs: Sequence[Sequence[str]],
        meter: ProgressMeter | ChunkProgress | None = None,
        **kwargs: Any,
    ) -> tuple[list[list[Any]], SandboxFigures]:
        from xcoder_assets.sandbox.runs import run_matrix

        meter = meter or ProgressMeter(label, self.log, **SANDBOX_COUNTS)
        outcomes, stats = with_progress(
            run_matrix, meter, self.backend, programs, inputs, self.limits, self.cache, workers=self.workers, **kwargs
        )
        meter.finish(stats.runs, stats.runs, stats.cached, stats.runs - stats.cached - stats.executed)
        return outcomes, SandboxFigures.of(stats, outcomes)


class SandboxResource(dg.ConfigurableResource):
    """Where generated programs run: bwrap (default), docker, or none (unsafe, must be allowed).

    Generated code never runs in the pipeline's process; a warm sandbox pool is kept per
    materialization, and every finished run is cached in the data directory.
    """

    backend: str = Field(
        default="bwrap",
        description="bwrap, docker, none (no isolation; needs allow_unsafe), or judge servers' addresses "
        "(http://a:8080,http://b:8080 or a load balancer's; token XCODER_JUDGE_TOKEN) (XCODER_SANDBOX).",
    )
    image: str = Field(default=DEFAULT_IMAGE, description="The docker backend's image.")
    allow_unsafe: bool = Field(default=False, description="Allow the none backend (programs run unisolated).")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 2, description="Programs run at once (default: the CPU count)."
    )
    cpu_s: float = Field(default=2.0, description="CPU seconds per run (the time limit).")
    wall_s: float = Field(default=6.0, description="Wall-clock seconds per run.")
    memory_mb: int = Field(default=1024, description="Memory per run, MiB.")
    output_mb: int = Field(default=8, description="Output per run, MiB; more fails the run.")

    def limits(self) -> Limits:
        return Limits(
            cpu_s=self.cpu_s, wall_s=self.wall_s, memory_bytes=self.memory_mb << 20, output_bytes=self.output_mb << 20
        )

    def settings_record(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "workers": self.workers,
            "cpu_s": self.cpu_s,
            "wall_s": self.wall_s,
            "memory_mb": self.memory_mb,
            "output_mb": self.output_mb,
        }

    def open(self) -> Any:
        """A started backend (close it when done); a clear failure when this machine cannot sandbox."""
        from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend

        try:
            return make_backend(self.backend, image=self.image, allow_unsafe=self.allow_unsafe)
        except (SandboxUnavailable, ValueError) as exc:
            raise refused(f"sandbox {self.backend!r}: {exc}") from None

    def run_cache(self, storage: StorageResource) -> Any:
        from xcoder_assets.sandbox.runs import RunCache

        try:
            return RunCache.at(storage.root)  # XCODER_CACHE_URL's Postgres when set, else RUN_CACHE_FILE
        except ValueError as exc:  # store/sqlstore.py's CacheConfigError: the setting named, no stack trace
            raise refused(f"sandbox run cache: {exc}") from None

    @contextmanager
    def session(self, storage: StorageResource, log: Callable[[str], Any]) -> Iterator[SandboxSession]:
        """A started backend and the run cache, both closed when done."""
        backend = self.open()
        cache = self.run_cache(storage)
        try:
            yield SandboxSession(backend, cache, self.limits(), self.workers, log)
        finally:
            backend.close()
            cache.close()


class LcbReleaseSource(dg.ConfigurableResource):
    """Where a new LiveCodeBench release appears: a local folder of the dataset's raw test*.jsonl files
    (XCODER_LCB_RELEASE_DIR), or a Hugging Face dataset repo (XCODER_LCB_REPO_ID; with HF_HUB_OFFLINE=1
    the revision is read from the local Hub cache)."""

    dataset_dir: str | None = Field(
        default=None, description="A folder of raw test*.jsonl files (XCODER_LCB_RELEASE_DIR)."
    )
    repo_id: str | None = Field(
        default=None,
        description="A Hugging Face dataset repo, e.g. livecodebench/code_generation_lite (XCODER_LCB_REPO_ID).",
    )
    hub_cache_dir: str | None = Field(
        default=None, description="The Hub cache to read offline (default: huggingface_hub's)."
    )

    def current(self, seen: ReleaseState | None) -> ReleaseState | None:
        if self.dataset_dir:
            return folder_release(Path(self.dataset_dir), seen)
        if self.repo_id:
            return hub_release(self.repo_id, Path(self.hub_cache_dir) if self.hub_cache_dir else None)
        raise ReleaseSourceError(
            "no LiveCodeBench release source: set XCODER_LCB_RELEASE_DIR (a folder) or "
            "XCODER_LCB_REPO_ID (a Hugging Face dataset repo)"
        )

    def lcb_config(self, state: ReleaseState) -> dict[str, Any]:
        """lcb_problems' run config that reads exactly the release seen."""
        if state.source.startswith("dir:"):
            return {"dataset_dir": state.source[4:], "release": state.release}
        return {"repo_id": state.source[3:], "revision": state.digest, "release": state.release}


def release_source_from_env(env: Mapping[str, str] | None = None) -> LcbReleaseSource:
    env = os.environ if env is None else env
    return LcbReleaseSource(
        dataset_dir=env.get("XCODER_LCB_RELEASE_DIR") or None,
        repo_id=env.get("XCODER_LCB_REPO_ID") or None,
        hub_cache_dir=env.get("XCODER_LCB_HUB_CACHE") or None,
    )


def _env(env: dict[str, str], name: str) -> Any:
    """Bind a setting to an environment variable only when it is set (dg.EnvVar fails on unset ones)."""
    return dg.EnvVar(name) if env.get(name) else None


def batch_shards_from_env(env: Mapping[str, str] | None = None) -> int:
    """How many shards the nightly schedule splits its batch into (XCODER_BATCH_SHARDS, default 1)."""
    from xcoder_assets.recipe.batches import MAX_SHARDS

    text = (os.environ if env is None else env).get("XCODER_BATCH_SHARDS") or "1"
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_SHARDS:
        raise ValueError(f"XCODER_BATCH_SHARDS must be a whole number from 1 to {MAX_SHARDS}, got {text!r}")
    return int(text)


def build_resources(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The resources, configured from the environment: the one place that reads it."""
    env = dict(os.environ if env is None else env)
    llm: dict[str, Any] = {
        "model": _env(env, "XCODER_MODEL"),
        "api_base": _env(env, "XCODER_API_BASE"),
        "api_key": _env(env, "XCODER_API_KEY"),
    }
    for role in ROLES:
        llm[f"{role}_model"] = _env(env, f"XCODER_MODEL_{role.upper()}")
        llm[f"{role}_api_base"] = _env(env, f"XCODER_API_BASE_{role.upper()}")
        llm[f"{role}_api_key"] = _env(env, f"XCODER_API_KEY_{role.upper()}")
    llm["price"] = _env(env, "XCODER_PRICE")
    for role in ROLES:
        llm[f"{role}_price"] = _env(env, f"XCODER_PRICE_{role.upper()}")
        if env.get(f"XCODER_BATCH_{role.upper()}", "").lower() in ("1", "true", "yes"):
            llm[f"{role}_batch"] = True  # the provider's batch API for this role
    for name, field_name in (
        ("XCODER_BUDGET_USD", "budget_usd"),
        ("XCODER_BUDGET_USD_PER_DAY", "budget_usd_per_day"),
        ("XCODER_BUDGET_USD_PER_BATCH", "budget_usd_per_batch"),
    ):
        if env.get(name):
            try:
                llm[field_name] = float(env[name])
            except ValueError:
                raise ValueError(f"{name} must be a number of USD, got {env[name]!r}") from None
    if env.get("XCODER_MAX_IN_FLIGHT"):
        try:
            llm["max_in_flight"] = int(env["XCODER_MAX_IN_FLIGHT"])
        except ValueError:
            raise ValueError(
                f"XCODER_MAX_IN_FLIGHT must be a whole number, got {env['XCODER_MAX_IN_FLIGHT']!r}"
            ) from None
    return {
        "storage": StorageResource(data_dir=env.get("XCODER_DATA_DIR", "data")),
        "llm": LLMGatewayResource(**{k: v for k, v in llm.items() if v is not None}),
        "sandbox": SandboxResource(backend=env.get("XCODER_SANDBOX", "bwrap")),
        "lcb_release_source": release_source_from_env(env),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())


__all__ = [
    "StorageResource",
    "LLMGatewayResource",
    "SandboxResource",
    "SandboxSession",
    "build_resources",
    "llm_metadata",
    "complete",
    "asset_tags",
    "OWNERS",
    "OFFLINE_MODEL",
]
