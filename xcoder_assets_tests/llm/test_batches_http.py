"""Provider batch APIs over real HTTP, against the fake server's files/batches endpoints: completed batches,
failed lines, expired and failed batches, a pending batch resumed by the next run (never resubmitted), and
the features stage through the batch API giving the synchronous path's rows."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import polars as pl
import pytest

from xcoder_assets.llm.batches import BatchPending
from xcoder_assets.llm.budget import BudgetExceeded, BudgetLimit
from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.store.tables import FEATURES
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.llm.cost_helpers import (
    BATCH_PRICE,
    SIM_MODEL,
    batch_control,
    batch_gateway,
    batch_requests,
    batch_server_fixtures,
    failure_message,
    llm_resource,
    materialize,
    seeds,
    server_stats,
)

pytestmark = pytest.mark.timeout(1200)
PRICE = BATCH_PRICE
server, complete_mode = batch_server_fixtures()
gateway, requests = batch_gateway, batch_requests


def test_a_batch_is_answered_into_the_same_cache_and_usage_log_at_the_batch_price(server, tmp_path):
    prefix = str(time.time_ns())
    before = server_stats(server)
    first = gateway(server, tmp_path / "c.sqlite")
    results = first.complete(requests(prefix, 5) + requests(prefix, 1))  # the last repeats the first
    after = server_stats(server)
    assert after["batches_created"] - before["batches_created"] == 1
    assert after["batch_lines"] - before["batch_lines"] == 5 and after["requests"] == before["requests"]
    assert all(r.ok and r.content.startswith("answer to") for r in results)
    assert [r.cache_hit for r in results] == [False] * 5 + [True]
    billed = after["billed_usd"] - before["billed_usd"]
    assert sum(r.cost_usd for r in results[:5]) == pytest.approx(billed)  # the batch price, as the server bills
    totals = ResponseCache(tmp_path / "c.sqlite").totals()
    assert totals["llm_calls"] == 5 and totals["cost_usd"] == pytest.approx(billed, abs=1e-6)
    # The same requests again, synchronously: all from the cache.
    again = gateway(server, tmp_path / "c.sqlite", batch=False).complete(requests(prefix, 5))
    assert all(r.cache_hit for r in again) and server_stats(server)["requests"] == before["requests"]


def test_failed_lines_are_errors_and_the_next_run_sends_only_them(server, tmp_path):
    prefix = str(time.time_ns())
    batch = requests(prefix, 4, failing={2})
    before = server_stats(server)
    results = gateway(server, tmp_path / "c.sqlite").complete(batch)
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].error.startswith("batch_line_error: http_500: simulated line failure")
    again = gateway(server, tmp_path / "c.sqlite").complete(batch)
    after = server_stats(server)
    assert after["batches_created"] - before["batches_created"] == 2
    assert after["batch_lines"] - before["batch_lines"] == 5  # 4, then the failed one alone
    assert [r.cache_hit for r in again] == [True, True, False, True]


def test_an_expired_batch_keeps_its_answers_and_a_failed_one_none(server, tmp_path):
    prefix = str(time.time_ns())
    batch_control(server, "expire")
    expired = gateway(server, tmp_path / "c.sqlite").complete(requests(prefix, 4))
    assert [r.ok for r in expired] == [True, True, False, False]
    assert expired[3].error.startswith("batch_line_error: batch_expired: This request could not be executed")
    batch_control(server, "fail")
    failed = gateway(server, tmp_path / "c.sqlite").complete(requests(prefix + "x", 2))
    assert all(not r.ok for r in failed)
    assert (
        failed[0].error.startswith("batch_failed: provider batch batch_")
        and "simulated validation failure" in failed[0].error
    )
    batch_control(server, "complete")
    retried = gateway(server, tmp_path / "c.sqlite").complete(requests(prefix, 4))
    assert [r.cache_hit for r in retried] == [True, True, False, False] and all(r.ok for r in retried)


def test_a_pending_batch_is_resumed_by_the_next_run_not_resubmitted(server, tmp_path):
    prefix = str(time.time_ns())
    batch_control(server, "hold")
    before = server_stats(server)
    with pytest.raises(BatchPending) as caught:
        gateway(server, tmp_path / "c.sqlite", wait_s=0.3).complete(requests(prefix, 3))
    assert "(3 requests, role extract) is still in_progress" in str(caught.value)
    assert "submits nothing new" in str(caught.value)
    batch_control(server, "complete")
    results = gateway(server, tmp_path / "c.sqlite").complete(requests(prefix, 3))
    after = server_stats(server)
    assert all(r.ok and not r.cache_hit for r in results)
    assert (
        after["batches_created"] - before["batches_created"] == 1
        and after["files_created"] - before["files_created"] == 1
    )


# -- the features stage ------------------------------------------------------------------------------
def feature_rows(data_dir) -> pl.DataFrame:
    return pl.read_parquet(FEATURES.path(data_dir)).drop("run_id").sort("feature_id")


def test_the_stage_through_the_batch_api_gives_the_synchronous_rows_and_resumes_after_a_kill(server, tmp_path):
    sync_dir, batch_dir = tmp_path / "sync" / "data", tmp_path / "batch" / "data"
    for data_dir in (sync_dir, batch_dir):
        seeds(data_dir, 6)
    materialize(sync_dir, ["features"], llm=llm_resource(server, extract_price=PRICE))

    # A run that submits the batch and is killed while the provider still works on it.
    batch_control(server, "hold")
    before = server_stats(server)
    home = tmp_path / "dagster_home"  # its own instance, never the project's .dagster_home
    home.mkdir()
    (home / "dagster.yaml").write_text("{}\n")
    log = tmp_path / "run.log"
    env = {
        **os.environ,
        "XCODER_MODEL_EXTRACT": SIM_MODEL,
        "XCODER_API_BASE_EXTRACT": server,
        "XCODER_API_KEY_EXTRACT": "sk-test",
        "XCODER_PRICE_EXTRACT": PRICE,
        "XCODER_BATCH_EXTRACT": "1",
        "DAGSTER_HOME": str(home),
    }
    command = [sys.executable, "-m", "xcoder_assets.cli", "--data-dir", str(batch_dir), "materialize"]
    process = subprocess.Popen(
        [*command, "--select", "features"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while server_stats(server)["batches_created"] == before["batches_created"]:
            assert process.poll() is None, f"the run ended before it submitted its batch:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no batch submitted in 300 s"
            time.sleep(0.5)
        time.sleep(1.0)  # it polls the pending batch now
    finally:
        process.kill()
        process.wait()
    assert not FEATURES.path(batch_dir).exists()

    # The rerun finds the batch pending at first, then collects it: nothing new is submitted or sent.
    batch_control(server, "complete", polls=2)
    llm = llm_resource(server, extract_price=PRICE, extract_batch=True, batch_poll_s=0.05)
    result = materialize(batch_dir, ["features"], llm=llm)
    after = server_stats(server)
    assert result.success
    assert after["batches_created"] - before["batches_created"] == 1
    assert after["files_created"] - before["files_created"] == 1 and after["requests"] == before["requests"]
    assert after["batch_requests_answered"] - before["batch_requests_answered"] == 6

    assert feature_rows(batch_dir).equals(feature_rows(sync_dir))
    assert feature_rows(batch_dir)["status"].to_list().count("ok") >= 4


def test_a_stage_whose_batch_is_still_pending_fails_with_one_message(server, tmp_path):
    data_dir = tmp_path / "data"
    seeds(data_dir, 2)
    batch_control(server, "hold")
    llm = llm_resource(server, extract_price=PRICE, extract_batch=True, batch_poll_s=0.05, batch_wait_s=0.3)
    result = materialize(data_dir, ["features"], llm=llm, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert message.startswith("features: provider batch batch_") and "Rerun the stage later" in message


def test_a_budget_caps_what_a_batch_submits_and_the_rerun_sends_the_rest(server, tmp_path):
    prefix = str(time.time_ns())
    probe = gateway(server, tmp_path / "probe.sqlite")
    batch = requests(prefix, 4)
    worst = probe.worst_case_cost(batch[0], probe.request_body(batch[0]), batch=True)
    before = server_stats(server)
    first = gateway(server, tmp_path / "c.sqlite")
    first.config.budgets = (BudgetLimit(f"run:{first.run_id}", worst * 2.5, "run", "XCODER_BUDGET_USD"),)
    with pytest.raises(BudgetExceeded, match=r"2 request\(s\) not sent \(2 answered by this stage are cached\)"):
        first.complete(batch)
    middle = server_stats(server)
    assert middle["batch_lines"] - before["batch_lines"] == 2
    assert middle["billed_usd"] - before["billed_usd"] <= worst * 2.5
    results = gateway(server, tmp_path / "c.sqlite").complete(batch)
    after = server_stats(server)
    assert [r.cache_hit for r in results] == [True, True, False, False] and all(r.ok for r in results)
    assert (
        after["batch_lines"] - before["batch_lines"] == 4 and after["batches_created"] - before["batches_created"] == 2
    )


def test_a_chunked_stage_submits_every_chunk_before_it_waits_for_one(server, tmp_path):
    """A stage that works a chunk at a time (test_inputs, candidate_solutions) first hands every chunk's
    requests to the batch API (submit_batches: nothing waits), so the provider works on all of them at
    once; each chunk's complete then collects from a batch already under way and submits nothing."""
    prefix = str(time.time_ns())
    chunks = [requests(f"{prefix} a", 3), requests(f"{prefix} b", 3)]
    before = server_stats(server)
    batch_control(server, "hold")
    g = gateway(server, tmp_path / "c.sqlite")
    assert [g.submit_batches(chunk) for chunk in chunks] == [3, 3]
    assert server_stats(server)["batches_created"] - before["batches_created"] == 2
    assert g.submit_batches(chunks[0]) == 3  # asked again: an open batch holds them, nothing is submitted
    assert server_stats(server)["batches_created"] - before["batches_created"] == 2
    batch_control(server, "complete")
    results = [g.complete(chunk) for chunk in chunks]
    after = server_stats(server)
    assert (
        after["batches_created"] - before["batches_created"] == 2 and after["batch_lines"] - before["batch_lines"] == 6
    )
    assert all(r.ok for chunk in results for r in chunk) and after["requests"] == before["requests"]
    assert gateway(server, tmp_path / "c.sqlite", batch=False).submit_batches(chunks[0]) == 0  # not a batch role
