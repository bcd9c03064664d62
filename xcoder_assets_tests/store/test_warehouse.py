"""The warehouse's figures from small files written here: LLM usage per writing run, lineage sources."""

import polars as pl

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.store import warehouse
from xcoder_assets.store.parquet import write_parquet
from xcoder_assets.store.tables import LLM_CALLS, TEST_INPUTS, batch_dir, llm_calls_path


def _call(call_id: str, run_id: str, cache_hit: bool, asset: str = "evolved_pool", **extra) -> dict:
    row = {name: None for name in LLM_CALLS.schema}
    row.update(
        call_id=call_id,
        asset=asset,
        role="evolve",
        model="m",
        template="evolve_features@v1",
        request_json="{}",
        content="",
        truncated=False,
        cache_hit=cache_hit,
        attempts=0 if cache_hit else 1,
        prompt_tokens=10,
        completion_tokens=5,
        cost_usd=0.0,
        run_id=run_id,
    )
    row.update(extra)
    return row


def _usage(run_id: str, asset: str, cache_hit: bool, attempts: int = 1, error: str | None = None) -> tuple:
    return (0.0, run_id, asset, "evolve", "m", "k", int(cache_hit), error, attempts, 10, 5, 0.01)


def test_llm_usage_counts_the_writing_runs_requests_and_what_came_from_earlier_runs(data_dir):
    # r1 made 3 calls (one failed after its attempts); r2 resumed from r1's checkpoint, asked two new
    # requests (a cache hit, and one whose identical twin failed: not sent) and wrote all five answers
    # behind its data, stamped with its run id.
    cache = ResponseCache(data_dir / warehouse.LLM_CACHE_FILE)
    cache.log_usage(
        [
            _usage("r1", "evolved_pool", False),
            _usage("r1", "evolved_pool", False),
            _usage("r1", "evolved_pool", False, attempts=3, error="timeout"),
            _usage("r2", "evolved_pool", True, attempts=0),
            _usage("r2", "evolved_pool", False, attempts=0, error="shared request failed"),  # not sent
            _usage("r2", "features", False),
        ]
    )  # another asset of the same run
    cache.close()
    rows = [
        _call("call-1", "r2", False),
        _call("call-2", "r2", False),
        _call("call-3", "r2", False, error="timeout"),
        _call("call-4", "r2", True, truncated=True),
        _call("call-5", "r2", False, attempts=0, error="shared request failed"),
    ]
    write_parquet(
        pl.DataFrame(rows, schema=LLM_CALLS.schema), llm_calls_path(data_dir, "evolved_pool"), LLM_CALLS.schema
    )
    con = warehouse.connect(data_dir)
    (row,) = warehouse.llm_usage(con)
    assert row["asset"] == "evolved_pool" and row["run_id"] == "r2"
    assert (
        row["behind_data"],
        row["run_requests"],
        row["sent_to_model"],
        row["cache_hits"],
        row["not_sent"],
        row["from_earlier_runs"],
    ) == (5, 2, 0, 1, 1, 3)
    assert (row["errors"], row["truncated"]) == (2, 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (0, 0)  # r2 sent nothing to the model
    totals = warehouse.llm_totals(con)
    # a failed call that reached the model counts as sent (as the gateway's llm_calls_made does)
    assert (
        totals["requests"],
        totals["sent_to_model"],
        totals["cache_hits"],
        totals["not_sent"],
        totals["errors"],
        totals["runs"],
    ) == (6, 4, 1, 1, 2, 2)
    assert totals["prompt_tokens"] == 40 and totals["cost_usd"] == 0.04


def test_no_usage_log_reads_as_empty(data_dir):
    con = warehouse.connect(data_dir)
    assert warehouse.llm_usage(con) == []
    assert warehouse.llm_totals(con)["requests"] == 0
    assert warehouse.cached_responses(data_dir) == 0
    assert not (data_dir / warehouse.LLM_CACHE_FILE).exists()  # reading never creates the cache


def _test_row(test_id: str, kind: str, index: int) -> dict:
    return {
        "test_id": test_id,
        "problem_id": "prob-0000000000000001",
        "kind": kind,
        "case_index": index,
        "status": "valid",
        "reason": None,
        "input": "1\n",
        "input_bytes": 2,
        "generator_call_id": "call-00000000000000aa",
        "run_id": "r1",
    }


def test_lineage_credits_examples_to_the_statement_and_the_rest_to_the_generator(data_dir):
    rows = [_test_row("test-0000000000000001", "example", 0), _test_row("test-0000000000000002", "random", 1)]
    frame = pl.DataFrame(rows, schema=TEST_INPUTS.schema)
    write_parquet(frame, TEST_INPUTS.path(batch_dir(data_dir, "b1")), TEST_INPUTS.schema)
    con = warehouse.connect(data_dir)
    example, generated = (warehouse.trace(con, r["test_id"])[0] for r in rows)
    assert example["llm_call_ids"] is None and "example #0 from the statement" in example["summary"]
    assert example["label"] == "examples from the statement"
    assert generated["llm_call_ids"] == ["call-00000000000000aa"] and "from the test generator" in generated["summary"]
    assert generated["label"] == "random inputs from the test generator"


def test_query_returns_columns_and_rows(data_dir):
    con = warehouse.connect(data_dir)
    assert warehouse.query(con, "SELECT 1 AS a, 'x' AS b") == (["a", "b"], [(1, "x")])


def test_batched_tables_read_every_batch_with_its_key(data_dir):
    """One view over every batch's file (Hive-style folders), the batch's key as a column; the LLM calls
    of batched and unbatched assets in one llm_calls view; the writing run per batch."""
    for key, run in (("nightly-2026-12-02", "r1"), ("2026", "r2")):  # a numeric-looking key stays a string
        folder = batch_dir(data_dir, key)
        frame = pl.DataFrame([_test_row(f"test-{run}", "random", 0) | {"run_id": run}], schema=TEST_INPUTS.schema)
        write_parquet(frame, TEST_INPUTS.path(folder), TEST_INPUTS.schema)
        calls = pl.DataFrame([_call(f"call-{run}", run, False, asset="test_inputs")], schema=LLM_CALLS.schema)
        write_parquet(calls, llm_calls_path(folder, "test_inputs"), LLM_CALLS.schema)
    pool_calls = pl.DataFrame([_call("call-pool", "r0", False)], schema=LLM_CALLS.schema)
    write_parquet(pool_calls, llm_calls_path(data_dir, "evolved_pool"), LLM_CALLS.schema)
    con = warehouse.connect(data_dir)
    assert con.execute("SELECT batch, test_id FROM test_inputs ORDER BY batch").fetchall() == [
        ("2026", "test-r2"),
        ("nightly-2026-12-02", "test-r1"),
    ]
    assert sorted(con.execute("SELECT call_id, batch FROM llm_calls").fetchall(), key=str) == [
        ("call-pool", None),
        ("call-r1", "nightly-2026-12-02"),
        ("call-r2", "2026"),
    ]
    assert warehouse.data_runs(con)["test_inputs"] == [("2026", "r2"), ("nightly-2026-12-02", "r1")]
    usage = {(u["asset"], u["batch"]): u["behind_data"] for u in warehouse.llm_usage(con)}
    assert usage == {("evolved_pool", None): 1, ("test_inputs", "2026"): 1, ("test_inputs", "nightly-2026-12-02"): 1}
