"""What a run costs, in the UI: the estimate_cost job gives `xcoder estimate`'s figures as metadata (and on
each estimated asset's page), and the provider batches sensor materializes a stage once the batches its
run left pending are done, over real HTTP against the fake server's files/batches endpoints."""

from __future__ import annotations

import time

import dagster as dg
import pytest

from xcoder_assets.cli import main as xcoder
from xcoder_assets.defs import cost
from xcoder_assets.defs.resources import LLMGatewayResource, StorageResource
from xcoder_assets.definitions import defs as lazy_defs
from xcoder_assets.llm.gateway import LLMRequest
from xcoder_assets.store.tables import FEATURES
from xcoder_assets_tests.llm.cost_helpers import (
    BATCH_PRICE,
    SIM_MODEL,
    batch_server_fixtures,
    batch_control,
    failure_message,
    llm_resource,
    materialize,
    seeds,
    server_stats,
)

pytestmark = pytest.mark.timeout(600)
PRICE = BATCH_PRICE
server, complete_mode = batch_server_fixtures()


def run_estimate_job(data_dir, llm, instance, **config):
    job = lazy_defs().get_job_def(cost.ESTIMATE_JOB)
    return job.execute_in_process(
        run_config={"ops": {cost.ESTIMATE_OP: {"config": config}}},
        resources={"storage": StorageResource(data_dir=str(data_dir)), "llm": llm},
        instance=instance,
        raise_on_error=False,
    )


def test_the_estimate_job_shows_the_commands_figures_in_the_ui(server, tmp_path, capsys, monkeypatch):
    data_dir = tmp_path / "data"
    seeds(data_dir, 3)
    materialize(data_dir, ["features"], llm=llm_resource(server, extract_price=PRICE))  # a history of 3 answers
    seeds(data_dir, 8)
    for name, value in {"MODEL": SIM_MODEL, "API_BASE": server, "API_KEY": "sk-test", "PRICE": PRICE}.items():
        monkeypatch.setenv(f"XCODER_{name}_EXTRACT", value)
    capsys.readouterr()
    assert xcoder(["--data-dir", str(data_dir), "estimate", "--select", "seed_problems,features"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("estimated cost: $") and "(requests 5, tokens " in printed  # 8 seeds, 3 answered

    with dg.instance_for_test() as instance:
        run = run_estimate_job(data_dir, llm_resource(server, extract_price=PRICE), instance, select="seed_problems+")
        assert run.success
        (output,) = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
        metadata = output.event_specific_data.metadata
        assert run.output_for_node(cost.ESTIMATE_OP) == printed  # the command's last line, to the cent
        assert metadata["estimated_requests"].value == 5
        table = metadata["estimate"].value
        assert "| features | extract | openai/synthsmith-sim-1 | extract_features@v1 | 5 | 3 |" in table
        assert "history (3 answers of extract_features@v1" in table
        rows = metadata["figures"].value["rows"]
        assert [r["asset"] for r in rows] == ["features"]  # seed_problems+ is seed_problems and features
        (observed,) = instance.fetch_observations(dg.AssetKey("features"), limit=5).records
        assert observed.asset_observation.metadata["estimated_requests"].value == 5
        assert observed.asset_observation.metadata["estimated_usd"].value == pytest.approx(
            next(r["usd"] for r in rows if r["asset"] == "features"), abs=1e-6
        )

        before = server_stats(server)
        bad = run_estimate_job(data_dir, LLMGatewayResource(), instance, select="no_such_asset")
        assert not bad.success
        assert failure_message(bad).startswith("estimate_cost: select: 'no_such_asset': ")
        bad = run_estimate_job(data_dir, LLMGatewayResource(), instance, select="features", run_config_yaml="- 1")
        assert (
            failure_message(bad) == "estimate_cost: run_config_yaml: must be a mapping (ops: {<asset>: {config: ...}})"
        )
        assert server_stats(server)["requests"] == before["requests"]


def evaluate(instance, data_dir, llm):
    context = dg.build_sensor_context(
        instance=instance,
        resources={"storage": StorageResource(data_dir=str(data_dir)), "llm": llm},
        repository_def=lazy_defs().get_repository_def(),
    )
    result = cost.provider_batches_sensor(context)
    if isinstance(result, dg.SkipReason):
        return result.skip_message
    return list(result)


def test_the_sensor_materializes_a_stage_once_its_pending_batch_is_done(server, tmp_path):
    data_dir = tmp_path / "data"
    seeds(data_dir, 4)
    batch_llm = llm_resource(server, extract_price=PRICE, extract_batch=True, batch_poll_s=0.05, batch_wait_s=0.3)
    with dg.instance_for_test() as instance:
        assert evaluate(instance, data_dir, batch_llm) == "no provider batch is pending"
        batch_control(server, "hold")
        stopped = materialize(data_dir, ["features"], llm=batch_llm, instance=instance, raise_on_error=False)
        assert not stopped.success and "Rerun the stage later" in failure_message(stopped)
        waiting = evaluate(instance, data_dir, batch_llm)
        assert waiting.startswith("features waits for batch_") and waiting.endswith(" in_progress"), waiting

        before = server_stats(server)
        batch_control(server, "complete")
        (request,) = evaluate(instance, data_dir, batch_llm)
        assert request.asset_selection == [dg.AssetKey("features")] and request.partition_key is None
        assert request.run_key.startswith("collect:features::xb-")
        collected = materialize(data_dir, ["features"], llm=batch_llm, instance=instance)
        after = server_stats(server)
        assert collected.success and FEATURES.path(data_dir).exists()
        assert after["batches_created"] == before["batches_created"] and after["requests"] == before["requests"]
        assert after["batch_requests_answered"] - before["batch_requests_answered"] == 4
        assert evaluate(instance, data_dir, batch_llm) == "no provider batch is pending"


def solve_requests(prefix: str, n: int) -> list[LLMRequest]:
    return [LLMRequest.of("solve", [{"role": "user", "content": f"{prefix} solve {i}"}], "t@v1") for i in range(n)]


def test_the_sensor_asks_for_the_batch_partition_of_the_run_that_submitted(server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    storage = StorageResource(data_dir=str(data_dir))
    llm = LLMGatewayResource(
        solve_model="openai/fake-model",
        solve_api_base=server,
        solve_api_key="sk-test",
        solve_price=PRICE,
        solve_batch=True,
    )

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["night-1"]))
    def probe() -> int:
        return 1

    prefix = str(time.time_ns())
    with dg.instance_for_test() as instance:
        run_id = dg.materialize([probe], partition_key="night-1", instance=instance).run_id
        batch_control(server, "hold")
        for asset, submitter, part in (("candidate_solutions", run_id, "a"), ("test_inputs", "run-elsewhere", "b")):
            gateway = llm.gateway(storage, ("solve",), run_id=submitter, asset=asset)
            assert gateway.submit_batches(solve_requests(f"{prefix} {part}", 2)) == 2
            gateway.cache.close()
        waiting = evaluate(instance, data_dir, llm)
        assert "candidate_solutions [night-1] waits for batch_" in waiting
        assert "run run-elsewhere that submitted it is not in this instance; materialize test_inputs" in waiting

        batch_control(server, "complete")
        (request,) = evaluate(instance, data_dir, llm)
        assert request.asset_selection == [dg.AssetKey("candidate_solutions")]
        assert request.partition_key == "night-1"
