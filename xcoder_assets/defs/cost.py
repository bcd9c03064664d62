"""What a run costs, in the UI: the estimate_cost job (`xcoder estimate` as a launchpad job, its figures as
metadata of the job's step and as an observation of each estimated asset), and the sensor that
rematerializes a stage once the provider batches it submitted are done, so that no run waits for them.

The estimate itself is recipe/estimate.py; the budget and the batches are in llm/.
"""

from typing import Any, Mapping

import dagster as dg
from dagster._config import process_config
from pydantic import Field

from xcoder_assets.defs.resources import LLMGatewayResource, StorageResource, refused
from xcoder_assets.recipe import estimate as cost
from xcoder_assets.recipe.batches import DEFAULT_BATCH, BatchKeyError, check_batch_key


class EstimateInputError(ValueError):
    """A bad input of an estimate: `field` names it (the CLI's flag, the job's config field)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def estimate_selection(
    asset_graph: Any,
    data_dir: Any,
    select: str,
    run_config: Mapping[str, Any],
    batch: str,
    token_items: list[str],
    llm: LLMGatewayResource,
) -> tuple[list[str], cost.Estimate]:
    """The estimate for materializing `select` (as `xcoder materialize --select` takes it) with `run_config`
    (its ops' config sizes the plans; its llm resource config the roles): the assets in graph order, and the
    figures. EstimateInputError names a bad input; an LLM settings error is a ValueError."""
    try:
        keys = dg.AssetSelection.from_coercible([s.strip() for s in select.split(",")]).resolve(asset_graph)
    except (dg.DagsterInvalidSubsetError, dg.DagsterInvalidDefinitionError, KeyError, ValueError) as exc:
        raise EstimateInputError("select", f"{select!r}: {str(exc).splitlines()[0]}") from None
    if not keys:
        raise EstimateInputError("select", f"{select!r} selects no asset")
    try:
        batch = check_batch_key(batch)
    except BatchKeyError as exc:
        raise EstimateInputError("batch", str(exc)) from None
    configs = {}
    for name in cost.CONFIG_ASSETS:  # upstream sizes come from these even when they are not selected
        op = asset_graph.get(dg.AssetKey(name)).assets_def.op
        given = (((run_config.get("ops") or {}).get(name) or {}).get("config")) or {}
        processed = process_config(op.config_schema.config_type, given)
        if not processed.success:
            raise EstimateInputError("config", f"ops.{name}.config: {'; '.join(e.message for e in processed.errors)}")
        configs[name] = processed.value
    names = [key.to_user_string() for key in asset_graph.toposorted_asset_keys if key in keys]
    llm_config = ((run_config.get("resources") or {}).get("llm") or {}).get("config") or {}
    llm = llm.model_copy(update=llm_config).process_config_and_initialize()
    roles = {role: llm.settings(role) for name in names for role in cost.ROLE_OF.get(name, ())}
    result = cost.estimate(data_dir, names, configs, roles, batch, cost.parse_token_figures(token_items))
    skipped = [n for n in names if n not in cost.PLANS and "llm" in (asset_graph.get(dg.AssetKey(n)).kinds or ())]
    if skipped:
        result.notes.append(f"not estimated (their LLM calls are not modelled here): {', '.join(skipped)}")
    return names, result


# ---- the estimate in the UI ------------------------------------------------------------------------
ESTIMATE_JOB = "estimate_cost"


class EstimateCostConfig(dg.Config):
    select: str = Field(description="Assets to estimate, as materialize takes them (e.g. 'problems+').")
    batch: str = Field(default=DEFAULT_BATCH, description="The generation batch they would run in.")
    run_config_yaml: str = Field(
        default="",
        description="The materialization's run config (YAML): its ops' config sizes the estimate "
        "(feature_configs count, candidates_per_problem...), its resources.llm config the roles.",
    )
    tokens: list[str] = Field(
        default_factory=list,
        description="TEMPLATE=PROMPT,COMPLETION tokens per request to assume instead of the history (PROMPT may be "
        "empty: the counted prompt stays).",
    )


def _markdown(names: list[str], result: cost.Estimate) -> str:
    numeric = {"requests", "cached", "prompt/req", "compl/req", "USD"}
    lines = [
        f"**{result.summary()}** for {', '.join(names)}",
        "",
        "| " + " | ".join(result.HEADER) + " |",
        "|" + "|".join("---:" if column in numeric else "---" for column in result.HEADER) + "|",
        *("| " + " | ".join(result.cells(r)) + " |" for r in result.rows),
        "",
        *(f"- {line}" for line in result.basis_lines()),
    ]
    return "\n".join(lines).replace("$", "\\$")  # the UI's markdown would read $...$ as math


ESTIMATE_OP = "cost_estimate"


def location_asset_graph() -> Any:
    """The code location's asset graph (a step's context has its repository only when a run was launched from
    the location, not in execute_in_process)."""
    from xcoder_assets.definitions import defs

    return defs().get_repository_def().asset_graph


@dg.op(
    name=ESTIMATE_OP,
    description="What materializing the selection would cost: requests after the cache, tokens, price, USD "
    "(xcoder estimate). Sends nothing and writes no data.",
)
def estimate_cost_op(
    context: dg.OpExecutionContext, config: EstimateCostConfig, storage: StorageResource, llm: LLMGatewayResource
) -> dg.Output:
    import yaml

    try:
        run_config = yaml.safe_load(config.run_config_yaml) if config.run_config_yaml.strip() else {}
    except yaml.YAMLError as exc:
        raise refused(f"{ESTIMATE_JOB}: run_config_yaml: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(run_config, dict):
        raise refused(f"{ESTIMATE_JOB}: run_config_yaml: must be a mapping (ops: {{<asset>: {{config: ...}}}})")
    try:
        names, result = estimate_selection(
            location_asset_graph(),
            storage.root,
            config.select,
            run_config,
            config.batch,
            config.tokens,
            llm,
        )
    except ValueError as exc:  # EstimateInputError, LLM settings, token figures
        raise refused(f"{ESTIMATE_JOB}: {exc}") from None
    context.log.info(result.summary())
    for name in names:  # on each asset's page too, beside its materializations
        rows = [r for r in result.rows if r.asset == name]
        if rows:
            figures = {
                "estimated_usd": dg.MetadataValue.float(round(sum(r.usd for r in rows), 6)),
                "estimated_requests": sum(r.requests for r in rows),
                "estimated_tokens": int(round(sum(r.tokens for r in rows))),
                "estimate_batch": config.batch,
            }
            context.log_event(dg.AssetObservation(asset_key=name, metadata=figures))
    metadata = {
        "estimated_usd": dg.MetadataValue.float(round(result.usd, 6)),
        "estimated_requests": result.requests,
        "estimated_tokens": result.tokens,
        "estimate": dg.MetadataValue.md(_markdown(names, result)),
        "figures": dg.MetadataValue.json(result.metadata()),
    }
    return dg.Output(result.summary(), metadata=metadata)


@dg.job(
    name=ESTIMATE_JOB,
    description="What materializing some assets would cost, before pressing Materialize (run config: select, "
    "and the materialization's own run config).",
    tags={"xcoder/kind": "cost"},
)
def estimate_cost() -> None:
    estimate_cost_op()


# ---- provider batches: rematerialize a stage once its batches are done -----------------------------
BATCHES_SENSOR = "provider_batches_sensor"
PARTITION_TAG = "dagster/partition"


def _partition_of(instance: dg.DagsterInstance, run_id: str | None) -> str | None:
    run = instance.get_run_by_id(run_id) if run_id else None
    return run.tags.get(PARTITION_TAG) if run is not None else None


@dg.sensor(
    name=BATCHES_SENSOR,
    target=dg.AssetSelection.all(),  # each request names the one asset (and partition) to materialize
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Polls the provider batches the stages submitted (llm_batches in the LLM cache) and, once every "
    "batch an asset's run left pending is done, materializes that asset for its batch partition: the run "
    "collects the answers and submits nothing new. Off until turned on.",
)
def provider_batches_sensor(context: dg.SensorEvaluationContext, storage: StorageResource, llm: LLMGatewayResource):
    from xcoder_assets.llm.batches import pending_batches, plan_collections, provider_statuses

    records = pending_batches(storage.root)
    if not records:
        return dg.SkipReason("no provider batch is pending")
    roles = tuple(sorted({rec["role"] for rec in records}))
    gateway = llm.gateway(storage, roles, run_id=f"sensor:{BATCHES_SENSOR}", asset=BATCHES_SENSOR)
    try:
        statuses = provider_statuses(gateway, records)
    finally:
        gateway.cache.close()
    graph = context.repository_def.asset_graph

    def partitioned(asset: str) -> bool | None:
        key = dg.AssetKey.from_user_string(asset) if asset else None
        return graph.get(key).partitions_def is not None if key is not None and graph.has(key) else None

    plan = plan_collections(records, statuses, lambda run_id: _partition_of(context.instance, run_id), partitioned)
    if plan.waiting:
        context.log.info("; ".join(plan.waiting))
    requests = [
        dg.RunRequest(
            run_key=f"collect:{due.asset}:{due.partition or ''}:{','.join(due.batch_ids)}",  # once per set of batches
            asset_selection=[dg.AssetKey.from_user_string(due.asset)],
            partition_key=due.partition,
            tags={"xcoder/provider_batches": ",".join(due.batch_ids)[:4000]},
        )
        for due in plan.due
    ]
    return requests or dg.SkipReason("; ".join(plan.waiting))


@dg.definitions
def cost_definitions() -> dg.Definitions:
    return dg.Definitions(jobs=[estimate_cost], sensors=[provider_batches_sensor])
