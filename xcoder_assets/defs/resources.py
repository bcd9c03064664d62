"""Resources, in one place: where the data lives, and which models answer each role.

Models and keys come from the environment through dg.EnvVar, so secrets never enter run config or
the UI. With no model configured every role uses the offline provider (xcoder-offline/...), a
deterministic simulator that is not a real LLM; the UI and every row say so.
"""


import os
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, GatewayStats, LLMConfigError, LLMGateway, LLMResult, check_role_settings
from xcoder_assets.llm.settings import OFFLINE_MODEL, ROLES, role_settings_from_env
from xcoder_assets.sandbox.backends import DEFAULT_IMAGE
from xcoder_assets.store.parquet import write_parquet
from xcoder_assets.store.tables import LLM_CALLS, Table, llm_calls_path
from xcoder_assets.store.warehouse import refresh_warehouse_file

CACHE_FILE = "llm_cache.sqlite"


class StorageResource(dg.ConfigurableResource):
    """The data directory: one Parquet file per asset, the LLM cache, and the DuckDB warehouse."""

    data_dir: str = "data"

    @property
    def root(self) -> Path:
        return Path(self.data_dir).resolve()

    def write_table(self, table: Table, frame: pl.DataFrame) -> dict[str, Any]:
        """Atomically write an asset's table; return the metadata every asset reports."""
        path = write_parquet(frame, table.path(self.root), table.schema)
        return {
            "dagster/row_count": frame.height,
            "path": dg.MetadataValue.path(str(path)),
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(name, str(dtype)) for name, dtype in table.schema.items()]
            ),
        }

    def write_llm_calls(self, asset: str, results: list[LLMResult], run_id: str) -> None:
        self.write_llm_calls_rows(asset, [r.as_row() for r in results], run_id)

    def write_llm_calls_rows(self, asset: str, rows: list[dict[str, Any]], run_id: str) -> None:
        """Every LLM call behind an asset's data (from LLMResult.as_row), stamped with asset and run."""
        rows = [{**row, "asset": asset, "run_id": run_id} for row in rows]
        frame = pl.DataFrame(rows, schema=LLM_CALLS.schema) if rows else pl.DataFrame(schema=LLM_CALLS.schema)
        write_parquet(frame, llm_calls_path(self.root, asset), LLM_CALLS.schema)

    def refresh_warehouse(self, log: Any = None) -> None:
        try:
            refresh_warehouse_file(self.root)
        except TimeoutError as exc:  # the views are convenience; the Parquet files are the data
            if log:
                log.warning(str(exc))


def llm_metadata(stats: GatewayStats, models: dict[str, str]) -> dict[str, Any]:
    offline = any(m.startswith("xcoder-offline/") for m in models.values())
    return {
        "llm_model": ", ".join(f"{role}={model}" for role, model in models.items())
        + (" (offline simulator, not a real LLM)" if offline else ""),
        "llm_requests": stats.requests,
        "llm_calls_made": stats.llm_calls,
        "llm_cache_hits": stats.cache_hits,
        "llm_errors": stats.errors,
        "llm_truncated": stats.truncated,
        "llm_retries": stats.retries,
        "llm_prompt_tokens": stats.prompt_tokens,
        "llm_completion_tokens": stats.completion_tokens,
        "llm_cost_usd": round(stats.cost_usd, 6),
    }


class LLMGatewayResource(dg.ConfigurableResource):
    """The LLM gateway (litellm): one model per stage role, limits, retries, and a response cache.

    Unset models fall back to XCODER_MODEL, then to the offline simulator
    `xcoder-offline/synthsmith-sim-1` (deterministic, no network; not a real LLM).
    """

    model: str | None = None
    extract_model: str | None = None
    evolve_model: str | None = None
    compose_model: str | None = None
    solve_model: str | None = None
    test_write_model: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    max_in_flight: int = 64
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_retries: int = 6
    request_timeout_s: float = 600.0

    def role_models(self, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
        return {role: self.settings(role).model for role in roles}

    def settings(self, role: str):
        model = getattr(self, f"{role}_model") or self.model
        return role_settings_from_env(role, model=model, api_base=self.api_base, api_key=self.api_key)

    def gateway(self, storage: StorageResource, roles: tuple[str, ...], run_id: str, asset: str) -> LLMGateway:
        config = GatewayConfig(
            max_in_flight=self.max_in_flight,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            max_retries=self.max_retries,
            request_timeout_s=self.request_timeout_s,
        )
        try:
            roles_settings = {r: self.settings(r) for r in roles}
            for settings in roles_settings.values():
                check_role_settings(settings)  # before the cache opens or any call is made
        except (LLMConfigError, ValueError) as exc:
            raise dg.Failure(description=f"LLM settings for {asset}: {exc}", allow_retries=False) from None
        cache = ResponseCache(storage.root / CACHE_FILE)
        return LLMGateway(roles_settings, cache, config, run_id=run_id, asset=asset)


class SandboxResource(dg.ConfigurableResource):
    """Where generated programs run: bwrap (default), docker, or none (unsafe, must be allowed).

    Generated code never runs in the pipeline's process; a warm sandbox pool is kept per run.
    """

    backend: str = "bwrap"
    image: str = DEFAULT_IMAGE
    allow_unsafe: bool = False
    workers: int = Field(default_factory=lambda: os.cpu_count() or 2)
    cpu_s: float = 2.0
    wall_s: float = 6.0
    memory_mb: int = 1024
    output_mb: int = 8

    def limits(self):
        from xcoder_assets.sandbox.backends import Limits

        return Limits(cpu_s=self.cpu_s, wall_s=self.wall_s, memory_bytes=self.memory_mb << 20,
                      output_bytes=self.output_mb << 20)

    def open(self):
        """A started backend (close it when done); a clear failure when this machine cannot sandbox."""
        from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend

        try:
            return make_backend(self.backend, image=self.image, allow_unsafe=self.allow_unsafe)
        except (SandboxUnavailable, ValueError) as exc:
            raise dg.Failure(description=f"sandbox {self.backend!r}: {exc}", allow_retries=False) from None

    def run_cache(self, storage: StorageResource):
        from xcoder_assets.sandbox.runs import RunCache

        return RunCache(storage.root / "sandbox_cache.sqlite")


def _env(name: str) -> Any:
    """Bind a setting to an environment variable only when it is set (dg.EnvVar fails on unset ones)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict[str, Any]:
    llm_settings = {f"{role}_model": _env(f"XCODER_MODEL_{role.upper()}") for role in ROLES}
    llm_settings.update(model=_env("XCODER_MODEL"), api_base=_env("XCODER_API_BASE"), api_key=_env("XCODER_API_KEY"))
    if os.environ.get("XCODER_MAX_IN_FLIGHT"):
        llm_settings["max_in_flight"] = int(os.environ["XCODER_MAX_IN_FLIGHT"])
    return {
        "storage": StorageResource(data_dir=os.environ.get("XCODER_DATA_DIR", "data")),
        "llm": LLMGatewayResource(**{k: v for k, v in llm_settings.items() if v is not None}),
        "sandbox": SandboxResource(backend=os.environ.get("XCODER_SANDBOX", "bwrap")),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())


__all__ = ["StorageResource", "LLMGatewayResource", "SandboxResource", "build_resources", "llm_metadata", "OFFLINE_MODEL"]
