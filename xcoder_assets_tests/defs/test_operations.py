"""Operations: batch keys and seed offsets, the nightly schedule, the release sensor, the automation
conditions and the trace_row job, evaluated directly against a Dagster instance."""

import json
import os
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from xcoder_assets.defs import operations as ops
from xcoder_assets.defs.partitions import BATCH_ASSET_KEYS, BATCH_PARTITIONS_NAME, batch_partitions, existing_batches
from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource
from xcoder_assets.definitions import defs as lazy_defs
from xcoder_assets.recipe.batches import (
    BatchKeyError,
    batch_seed,
    check_batch_key,
    nightly_key,
    BatchShard,
    plan_nightly,
    seed_offset,
    select_batches,
    shard_keys,
    shard_of,
)
from xcoder_assets.defs.resources import batch_shards_from_env

TICK = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)


# ---- batches ------------------------------------------------------------------------------------


def test_batch_keys_and_seed_offsets():
    assert nightly_key(TICK) == "nightly-2026-12-02"
    keys = [nightly_key(TICK + timedelta(days=d)) for d in range(2000)] + ["campaign-graphs", "campaign-dp"]
    offsets = [seed_offset(k) for k in keys]
    assert len(set(offsets)) == len(keys) and all(0 < o < 2**48 for o in offsets)
    assert seed_offset("campaign-graphs") == seed_offset("campaign-graphs")  # a pure function of the key
    assert batch_seed(42, "campaign-graphs") == 42 + seed_offset("campaign-graphs")
    for bad in ["", "Nightly", "a b", "x" * 65, "-lead", "a/b"]:
        with pytest.raises(BatchKeyError, match="batch key"):
            check_batch_key(bad)


def test_plan_nightly_and_batch_selection():
    assert [p.status for p in plan_nightly(TICK, [])] == ["new"]
    assert [p.status for p in plan_nightly(TICK, ["nightly-2026-12-02"])] == ["exists"]
    assert select_batches(["b1", "b2", "b3"], None) == ["b1", "b2", "b3"]
    assert select_batches(["b1", "b2", "b3"], ["b3", "b1"]) == ["b1", "b3"]  # in the batches' order
    with pytest.raises(BatchKeyError, match="unknown batch.*b9"):
        select_batches(["b1"], ["b9"])


def test_a_batch_splits_into_shards_that_are_batches_of_their_own():
    keys = shard_keys("nightly-2026-12-02", 12)
    assert keys[0] == "nightly-2026-12-02.s00-of-12" and keys[-1] == "nightly-2026-12-02.s11-of-12"
    assert [check_batch_key(k) for k in keys] == keys  # valid partition keys, folders and URLs
    assert len({seed_offset(k) for k in keys}) == 12  # each samples its own configurations
    assert shard_of(keys[3]) == BatchShard("nightly-2026-12-02", 3, 12) and shard_of("nightly-2026-12-02") is None
    assert shard_of("b.s12-of-12") is None and shard_of("b.s1-of-12") is None  # out of range; not the written key
    assert shard_keys("campaign", 1) == ["campaign"]
    with pytest.raises(BatchKeyError, match="1 to 9999"):
        shard_keys("campaign", 0)
    plans = plan_nightly(TICK, ["nightly-2026-12-02.s1-of-3"], shards=3)
    assert [(p.key, p.status) for p in plans] == [
        ("nightly-2026-12-02.s0-of-3", "new"),
        ("nightly-2026-12-02.s1-of-3", "exists"),
        ("nightly-2026-12-02.s2-of-3", "new"),
    ]
    assert batch_shards_from_env({}) == 1 and batch_shards_from_env({"XCODER_BATCH_SHARDS": "16"}) == 16
    with pytest.raises(ValueError, match="XCODER_BATCH_SHARDS must be a whole number from 1 to 9999, got 'x'"):
        batch_shards_from_env({"XCODER_BATCH_SHARDS": "x"})


def test_a_sharded_schedule_requests_one_run_per_shard():
    schedule = ops.build_batch_schedule(shards=4)
    defs = dg.Definitions(assets=_batch_stage(), schedules=[schedule])
    with dg.instance_for_test() as instance:
        repo = defs.get_repository_def()
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK, repository_def=repo)
        requests = schedule.evaluate_tick(context).run_requests
        keys = [r.partition_key for r in requests]
        assert keys == shard_keys("nightly-2026-12-02", 4) == [r.run_key for r in requests]
        assert existing_batches(instance) == keys
        assert "split into 4 shards" in schedule.description


# ---- batch keys the project refuses ---------------------------------------------------------------
# Dagster has no validation hook for a dynamic partition key: the UI's "add partition" (dagster_graphql's
# add_dynamic_partition) calls instance.add_dynamic_partitions with any key. The project removes the keys
# it refuses afterwards: the batch_key_guard sensor, and a run launched on one before the sensor ran.


def test_the_guard_removes_a_refused_key_added_as_the_ui_adds_it():
    guard = ops.batch_key_guard
    assert guard in lazy_defs().sensors and guard.name == ops.BATCH_KEY_GUARD
    assert guard.default_status == dg.DefaultSensorStatus.RUNNING  # on without anyone turning it on
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["campaign-a", "Campaign_A", "nightly-2026-12-02"])
        assert "Campaign_A" in existing_batches(instance)
        result = guard(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and "'Campaign_A' is not valid" in result.skip_message
        assert existing_batches(instance) == ["campaign-a", "nightly-2026-12-02"]
        again = guard(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "every batch key is valid"


def test_a_run_on_a_refused_key_fails_and_removes_it(tmp_path):
    from xcoder_assets.defs.synthesis import feature_configs

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["Campaign_B"])
        result = dg.materialize(
            [feature_configs],
            partition_key="Campaign_B",
            instance=instance,
            resources={"storage": StorageResource(data_dir=str(tmp_path))},
            raise_on_error=False,
        )
        assert not result.success
        message = result.get_step_failure_events()[0].step_failure_data.user_failure_data.description
        assert "'Campaign_B' is not valid" in message and f"removed from {BATCH_PARTITIONS_NAME}: Campaign_B" in message
        assert existing_batches(instance) == []


# ---- the nightly schedule ------------------------------------------------------------------------


def _batch_stage():
    """The partitioned stage as the definitions wire it: the real keys on batch_partitions, trivially computed."""
    assets = []
    for key in BATCH_ASSET_KEYS:

        @dg.asset(name=key, partitions_def=batch_partitions)
        def _asset(context: dg.AssetExecutionContext) -> None:
            context.log.info(context.partition_key)

        assets.append(_asset)
    return assets


def test_schedule_adds_the_batch_and_requests_it_once():
    schedule = ops.build_batch_schedule()
    defs = dg.Definitions(assets=_batch_stage(), schedules=[schedule])
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=TICK, repository_def=defs.get_repository_def()
        )
        (request,) = schedule.evaluate_tick(context).run_requests
        assert request.partition_key == request.run_key == "nightly-2026-12-02"
        assert request.tags[ops.BATCH_TAG] == "nightly-2026-12-02"
        assert instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME) == ["nightly-2026-12-02"]
        # the same tick again before its run launched (a daemon restart): no second partition, the same run key
        (again,) = schedule.evaluate_tick(context).run_requests
        assert again.run_key == request.run_key
        assert instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME) == ["nightly-2026-12-02"]
        # the run it requests really materializes every asset of the stage for that batch
        result = dg.materialize(
            _batch_stage(), instance=instance, partition_key=request.partition_key, tags=request.tags
        )
        assert result.success
        assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} == set(BATCH_ASSET_KEYS)
        # once it ran, another tick that day requests nothing
        later = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=TICK + timedelta(hours=12),
            repository_def=defs.get_repository_def(),
        )
        data = schedule.evaluate_tick(later)
        assert not data.run_requests and "already exists and has run" in data.skip_message
        nxt = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=TICK + timedelta(days=1),
            repository_def=defs.get_repository_def(),
        )
        (tomorrow,) = schedule.evaluate_tick(nxt).run_requests
        assert tomorrow.partition_key == "nightly-2026-12-03"
        assert existing_batches(instance) == ["nightly-2026-12-02", "nightly-2026-12-03"]


def test_schedule_on_the_project_definitions():
    """On the project's definitions: the batch stage is partitioned, and a tick requests tonight's batch."""
    defs = lazy_defs()
    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def("nightly_batch")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED and schedule.cron_schedule == ops.NIGHTLY_CRON
    for key in BATCH_ASSET_KEYS:
        assert getattr(repo.asset_graph.get(dg.AssetKey(key)).partitions_def, "name", None) == BATCH_PARTITIONS_NAME
    for key in ("evolved_pool", "feature_tree", "training_shards"):  # one pool, grown over time; shards read all
        assert repo.asset_graph.get(dg.AssetKey(key)).partitions_def is None
    with dg.instance_for_test() as instance:
        data = schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK, repository_def=repo)
        )
        assert [r.partition_key for r in data.run_requests] == ["nightly-2026-12-02"]
        assert instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME) == ["nightly-2026-12-02"]


# ---- the release sensor ----------------------------------------------------------------------------


def _tick(sensor, source, cursor, instance):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"lcb_release_source": source})
    data = sensor.evaluate_tick(context)
    return data, context.cursor


def test_release_sensor_fires_once_per_release(tmp_path):
    folder = tmp_path / "lcb"
    folder.mkdir()
    sensor = ops.build_lcb_release_sensor(dg.AssetSelection.all())
    source = ops.LcbReleaseSource(dataset_dir=str(folder))
    with dg.instance_for_test() as instance:
        data, cursor = _tick(sensor, source, None, instance)
        assert not data.run_requests and "no test*.jsonl" in data.skip_message
        (folder / "test.jsonl").write_text('{"question_id": "1"}\n')
        data, cursor = _tick(sensor, source, cursor, instance)
        (request,) = data.run_requests
        assert request.run_config["ops"]["lcb_problems"]["config"] == {
            "dataset_dir": str(folder.resolve()),
            "release": "release_v1",
        }
        assert json.loads(cursor)["release"] == "release_v1"
        data, cursor2 = _tick(sensor, source, cursor, instance)  # nothing new: nothing requested
        assert not data.run_requests and "already seen" in data.skip_message and cursor2 == cursor
        stat = (folder / "test.jsonl").stat()
        os.utime(folder / "test.jsonl", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same content
        data, cursor3 = _tick(sensor, source, cursor, instance)
        assert not data.run_requests and "content unchanged" in data.skip_message and cursor3 != cursor
        (folder / "test2.jsonl").write_text('{"question_id": "2"}\n')
        data, cursor4 = _tick(sensor, source, cursor3, instance)
        (request2,) = data.run_requests
        assert request2.run_config["ops"]["lcb_problems"]["config"]["release"] == "release_v2"
        assert request2.run_key != request.run_key and json.loads(cursor4)["digest"] != json.loads(cursor)["digest"]


def test_release_sensor_reads_a_hub_revision_offline(tmp_path):
    refs = tmp_path / "hub" / "datasets--livecodebench--code_generation_lite" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("a" * 40)
    source = ops.LcbReleaseSource(repo_id="livecodebench/code_generation_lite", hub_cache_dir=str(tmp_path / "hub"))
    state = ops.hub_release(source.repo_id, tmp_path / "hub", offline=True)
    assert state.digest == "a" * 40
    assert source.lcb_config(state) == {
        "repo_id": "livecodebench/code_generation_lite",
        "revision": "a" * 40,
        "release": "release_latest",
    }
    missing = ops.decide_release(
        ops.LcbReleaseSource(repo_id="someone/else", hub_cache_dir=str(tmp_path / "hub")), None
    )
    if missing.status == "error":  # offline in this environment: the message names the repo
        assert "someone/else" in missing.reason


def test_release_sensor_without_a_source_says_what_to_set():
    decision = ops.decide_release(ops.LcbReleaseSource(), None)
    assert decision.status == "error" and "XCODER_LCB_RELEASE_DIR" in decision.reason


def test_project_sensor_targets_the_benchmark_assets():
    repo = lazy_defs().get_repository_def()
    sensor = repo.get_sensor_def("lcb_release_sensor")
    keys = {k.to_user_string() for k in repo.get_job(sensor.job_name).asset_layer.selected_asset_keys}
    assert keys == {"lcb_problems", "training_shards", "benchmark_scores"}
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


# ---- automation ----------------------------------------------------------------------------------


def test_gpu_gate_waits_for_the_cron_tick_and_eager_does_not():
    @dg.asset
    def upstream() -> None: ...

    @dg.asset(deps=[upstream], automation_condition=ops.eager_downstream())
    def report() -> None: ...

    @dg.asset(deps=[upstream], automation_condition=ops.gpu_cron_gate("0 5 * * *"))
    def trained() -> None: ...

    defs = dg.Definitions(assets=[upstream, report, trained])
    with dg.instance_for_test() as instance:
        morning = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)
        first = dg.evaluate_automation_conditions(defs, instance, evaluation_time=morning)
        dg.materialize([upstream], instance=instance)
        result = dg.evaluate_automation_conditions(
            defs, instance, evaluation_time=morning + timedelta(minutes=5), cursor=first.cursor
        )
        # upstream changed: the eager asset runs, the GPU one waits for 05:00
        assert result.get_num_requested(dg.AssetKey("report")) == 1
        assert result.get_num_requested(dg.AssetKey("trained")) == 0
        # 05:00 passes: the gate opens, and waits for its upstream to update after the tick
        tick = dg.evaluate_automation_conditions(
            defs, instance, evaluation_time=morning + timedelta(hours=1, minutes=1), cursor=result.cursor
        )
        assert tick.get_num_requested(dg.AssetKey("trained")) == 0
        dg.materialize([upstream], instance=instance)
        after = dg.evaluate_automation_conditions(
            defs, instance, evaluation_time=morning + timedelta(hours=1, minutes=10), cursor=tick.cursor
        )
        assert after.get_num_requested(dg.AssetKey("trained")) == 1


# ---- trace_row ---------------------------------------------------------------------------------------


def test_trace_row_renders_the_lineage(data_dir):
    defs = lazy_defs()
    result = dg.materialize(
        [*defs.assets],
        selection=["seed_problems", "features", "feature_tree"],
        resources={
            **defs.resources,
            "storage": StorageResource(data_dir=str(data_dir)),
            "llm": LLMGatewayResource(),
            "sandbox": SandboxResource(),
        },
    )
    assert result.success
    from xcoder_assets.store import warehouse

    con = warehouse.connect(data_dir)
    node = con.execute("SELECT node_id FROM feature_tree LIMIT 1").fetchone()[0]
    job = defs.get_job_def(ops.TRACE_JOB)
    with dg.instance_for_test() as instance:
        run = job.execute_in_process(
            run_config={"ops": {"trace_lineage": {"config": {"row_id": node}}}},
            resources={"storage": StorageResource(data_dir=str(data_dir))},
            instance=instance,
        )
        assert run.success
        (output,) = [e for e in run.all_events if e.event_type_value == "STEP_OUTPUT"]
        md = output.event_specific_data.metadata["lineage"].value
        assert f"# Lineage of `{node}` (feature_tree)" in md.replace("\\", "")  # as shown: escapes unseen
        assert "seed_problems" in md and "features" in md and "extract_features@v1" in md and "**answer**" in md
        observed = instance.fetch_observations(dg.AssetKey("feature_tree"), limit=5).records
        assert observed and observed[0].asset_observation.metadata["row_id"].value == node
        bad = job.execute_in_process(
            run_config={"ops": {"trace_lineage": {"config": {"row_id": "nonsense"}}}},
            resources={"storage": StorageResource(data_dir=str(data_dir))},
            instance=instance,
            raise_on_error=False,
        )
        assert not bad.success
        failure = bad.get_step_failure_events()[0].step_failure_data.error.message
        assert "is not a row id" in failure


def test_sample_rows_metadata_names_ids_and_the_trace_job():
    import polars as pl

    frame = pl.DataFrame({"problem_id": ["prob-0000000000000001", "prob-0000000000000002"], "status": ["ok", "leak"]})
    meta = ops.sample_rows_metadata(frame, "problem_id", ["status"])
    assert "prob-0000000000000001" in meta["sample_rows"].value and "| status |" in meta["sample_rows"].value
    assert (
        "xcoder trace prob-0000000000000001" in meta["trace_a_row"].value and ops.TRACE_JOB in meta["trace_a_row"].value
    )
    assert ops.sample_rows_metadata(frame.clear(), "problem_id") == {}
