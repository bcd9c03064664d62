"""Synthesis stages through Dagster: cache reuse when settings grow, problems in chunks with re-asks, and resumable
evolution."""

import json
from collections import Counter

import polars as pl
import pytest

from xcoder_assets.llm.gateway import LLMGateway
from xcoder_assets.store.tables import EVOLVED_POOL, FEATURE_CONFIGS, PROBLEMS, llm_calls_path
from xcoder_assets_tests.defs.test_materialize import materialize, metadata_of
from xcoder_assets.store.tables import batch_dir
from xcoder_assets_tests.batches import TEST_BATCH
from xcoder_assets_tests.demo import DEMO_ROUNDS


def run_config(rounds=20, count=12, only=("evolved_pool", "feature_configs")):
    ops = {"evolved_pool": {"config": {"rounds": rounds}}, "feature_configs": {"config": {"count": count}}}
    return {"ops": {name: value for name, value in ops.items() if name in only}}


@pytest.fixture
def small(demo_data, tmp_path):
    """A copy of the session's demo (conftest: demo_data) to write to, and the demo's first run."""
    return demo_data.copy(tmp_path / "data"), demo_data.first


def test_more_configurations_call_only_for_the_new_ones(small):
    data_dir, first = small
    configs_before = pl.read_parquet(FEATURE_CONFIGS.path(batch_dir(data_dir, TEST_BATCH)))
    count = configs_before.height
    again = materialize(
        data_dir,
        run_config=run_config(count=count + 4, only=["feature_configs"]),
        selection=["feature_configs", "problems"],
    )
    configs_after = pl.read_parquet(FEATURE_CONFIGS.path(batch_dir(data_dir, TEST_BATCH)))
    assert configs_after.height == count + 4
    assert configs_after["config_id"].head(count).to_list() == configs_before["config_id"].to_list()
    meta = metadata_of(again, "problems")
    before = metadata_of(first, "problems")
    assert meta["llm_cache_hits"] == before["llm_requests"]  # the earlier configurations: all from the cache
    # at most two steps of max_attempts (3) calls for each of the 4 new ones
    assert 0 < meta["llm_calls_made"] <= 4 * 2 * 3


def test_problems_in_chunks_of_three_write_the_same_table_every_attempt_from_the_cache(small):
    data_dir, first = small
    folder = batch_dir(data_dir, TEST_BATCH)
    before = pl.read_parquet(PROBLEMS.path(folder))
    again = materialize(
        data_dir, run_config={"ops": {"problems": {"config": {"chunk_problems": 3}}}}, selection=["problems"]
    )
    after = pl.read_parquet(PROBLEMS.path(folder))
    assert after.drop("run_id").equals(before.drop("run_id"))  # the dedup spans the chunks
    meta = metadata_of(again, "problems")
    requests = after["attempts"].sum()
    assert meta["llm_calls_made"] == 0 and meta["llm_cache_hits"] == meta["llm_requests"] == requests
    # every attempt is a row of llm_calls; the rows name their last attempt's calls
    calls = pl.read_parquet(llm_calls_path(folder, "problems"))
    assert calls.height == requests and after["attempts"].max() > 2
    final = set(after["scenario_call_id"]) | set(after["statement_call_id"].drop_nulls())
    assert final <= set(calls["call_id"])
    seeds = calls["request_json"].map_elements(lambda r: json.loads(r)["params"].get("seed"), return_dtype=pl.Int64)
    assert (
        set(seeds.drop_nulls()) in ({2}, {2, 3})  # attempts 2 and 3 (the demo may need no third)
        and seeds.null_count() == before.height + after["scenario"].is_not_null().sum()
    )
    assert meta["configurations_by_attempts"] == {
        str(k): v for k, v in sorted(Counter(after["attempts"].to_list()).items())
    }


def test_problems_refuses_bad_attempts_and_chunks(small):
    data_dir, _ = small
    for config, message in (({"max_attempts": 0}, "max_attempts"), ({"chunk_problems": 0}, "chunk_problems")):
        result = materialize(
            data_dir, run_config={"ops": {"problems": {"config": config}}}, selection=["problems"], raise_on_error=False
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert failure.step_failure_data.user_failure_data.description.startswith(f"problems: {message} must be")


def test_an_interrupted_evolution_resumes_after_its_last_round(demo_data, tmp_path, monkeypatch):
    # the reference: the demo's pool, DEMO_ROUNDS rounds evolved without interruption
    assert DEMO_ROUNDS == 10
    reference = pl.read_parquet(EVOLVED_POOL.path(demo_data.data))

    # the demo's first stage (seeds, features, tree), without its pool and the pool's checkpoint
    data_dir = demo_data.copy(tmp_path / "data")
    EVOLVED_POOL.path(data_dir).unlink()
    (data_dir / "checkpoints" / "evolved_pool.jsonl").unlink()
    original = LLMGateway.complete
    calls = {"n": 0}

    def dies_in_round_7(self, requests):
        if self.asset == "evolved_pool":
            calls["n"] += 1
            if calls["n"] == 7:
                raise KeyboardInterrupt("the machine went away")
        return original(self, requests)

    monkeypatch.setattr(LLMGateway, "complete", dies_in_round_7)
    with pytest.raises(BaseException):
        materialize(data_dir, run_config=run_config(rounds=10, only=["evolved_pool"]), selection=["evolved_pool"])
    monkeypatch.setattr(LLMGateway, "complete", original)
    assert not EVOLVED_POOL.path(data_dir).exists()  # no half result
    resumed = materialize(data_dir, run_config=run_config(rounds=10, only=["evolved_pool"]), selection=["evolved_pool"])
    meta = metadata_of(resumed, "evolved_pool")
    assert meta["resumed_after_round"] == 6 and meta["rounds_done"] == 10
    assert meta["llm_requests"] == 4 * 4  # rounds 7..10 only
    pool = pl.read_parquet(EVOLVED_POOL.path(data_dir))
    assert pool.select("pool_id", "origin_round").rows() == reference.select("pool_id", "origin_round").rows()

    more = materialize(data_dir, run_config=run_config(rounds=12, only=["evolved_pool"]), selection=["evolved_pool"])
    assert metadata_of(more, "evolved_pool")["resumed_after_round"] == 10


def test_an_interrupted_verification_redoes_no_finished_sandbox_run(small, monkeypatch):
    import contextlib
    import sqlite3

    import xcoder_assets.sandbox.runs as runs

    data_dir, _ = small
    # The demo's latest sandbox runs are forgotten: verification (the last stage it ran) has those to run
    # again, the rest comes from the cache (so the test does not pay for the whole verification).
    cache_file = data_dir / "sandbox_cache.sqlite"
    with contextlib.closing(sqlite3.connect(cache_file)) as con, con:
        latest = "SELECT key FROM runs ORDER BY at DESC LIMIT 300"
        forgotten = con.execute(f"DELETE FROM runs WHERE key IN ({latest})").rowcount
    before = sqlite3.connect(cache_file).execute("SELECT count(*) FROM runs").fetchone()[0]
    original = runs.run_program
    calls = {"n": 0}

    def dies_on_the_sixth_program(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("the machine went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(runs, "run_program", dies_on_the_sixth_program)
    with pytest.raises(BaseException):
        materialize(data_dir, selection=["verified_solutions"])
    monkeypatch.setattr(runs, "run_program", original)
    done = sqlite3.connect(cache_file).execute("SELECT count(*) FROM runs").fetchone()[0] - before
    assert done > 0  # runs finished before the interruption were kept
    resumed = materialize(data_dir, selection=["verified_solutions"])
    meta = metadata_of(resumed, "verified_solutions")
    assert meta["sandbox_runs_cached"] >= done
    assert 0 < meta["sandbox_runs_executed"] <= forgotten - done  # only what was forgotten and not yet redone
    assert meta["sandbox_runs_executed"] + meta["sandbox_runs_cached"] <= meta["sandbox_runs"]
    again = metadata_of(materialize(data_dir, selection=["verified_solutions"]), "verified_solutions")
    assert again["sandbox_runs_executed"] == 0 and again["problems_verified"] == meta["problems_verified"]
