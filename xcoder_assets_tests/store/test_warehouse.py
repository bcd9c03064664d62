"""The warehouse's figures from small files written here: LLM usage per writing run, lineage sources."""

import polars as pl

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.store import warehouse
from xcoder_assets.store.parquet import write_parquet
from xcoder_assets.store.tables import (
    FEATURE_CONFIGS,
    FEATURES,
    LLM_CALLS,
    PROBLEMS,
    SEED_PROBLEMS,
    TEST_INPUTS,
    batch_dir,
    llm_calls_path,
)


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


# ---- lineage at scale: the step-wise walk, the calls and values of a trace's rows, the lazy usage log ----

# The recursive query `xcoder trace` ran before the walk (over the whole lineage view): the oracle.
RECURSIVE_TRACE = """
WITH RECURSIVE chain(depth, row_id) AS (
    SELECT 0, $row_id
    UNION
    SELECT chain.depth + 1, lineage.parent_id
    FROM chain JOIN lineage ON lineage.row_id = chain.row_id
    WHERE lineage.parent_id IS NOT NULL AND chain.depth < 64
),
nodes AS (SELECT row_id, min(depth) AS depth FROM chain GROUP BY row_id)
SELECT nodes.depth, l.asset, l.row_id, any_value(l.summary) AS summary, any_value(l.label) AS label,
       list(DISTINCT l.parent_id ORDER BY l.parent_id) FILTER (WHERE l.parent_id IS NOT NULL) AS parent_ids,
       list(DISTINCT l.llm_call_id ORDER BY l.llm_call_id) FILTER (WHERE l.llm_call_id IS NOT NULL) AS llm_call_ids,
       any_value(l.run_id) AS run_id
FROM nodes JOIN lineage AS l ON l.row_id = nodes.row_id
GROUP BY nodes.depth, l.asset, l.row_id
ORDER BY nodes.depth, l.asset, l.row_id
"""


def _id(kind: str, n: int) -> str:
    return f"{kind}-{n:016x}"


def _row(table, **values) -> dict:
    return {name: None for name in table.schema} | values


def _write(table, rows: list[dict], data_dir, batch: str | None = None) -> None:
    folder = batch_dir(data_dir, batch) if batch else data_dir
    write_parquet(pl.DataFrame(rows, schema=table.schema), table.path(folder), table.schema)


def _lineage_dir(data_dir):
    """Two batches over one seed and feature tree; test 3 of batch b2 descends from a problem of b1,
    test 4 from a problem that no longer exists."""
    seed, feat = _id("seed", 1), _id("feat", 1)
    _write(SEED_PROBLEMS, [_row(SEED_PROBLEMS, seed_id=seed, question="q", run_id="r0")], data_dir)
    _write(
        FEATURES,
        [
            _row(
                FEATURES,
                feature_id=feat,
                seed_id=seed,
                status="ok",
                leaf_count=3,
                llm_call_id=_id("call", 9),
                run_id="r0",
            )
        ],
        data_dir,
    )
    for b, batch in enumerate(("b1", "b2"), start=1):
        cfg, prob = _id("cfg", b), _id("prob", b)
        _write(
            FEATURE_CONFIGS,
            [
                _row(
                    FEATURE_CONFIGS,
                    config_id=cfg,
                    config_index=b,
                    shape=[1],
                    feature_ids=[feat],
                    leaf_count=1,
                    run_id=batch,
                )
            ],
            data_dir,
            batch,
        )
        _write(
            PROBLEMS,
            [
                _row(
                    PROBLEMS,
                    problem_id=prob,
                    config_id=cfg,
                    status="ok",
                    title=f"t{b}",
                    statement_call_id=_id("call", b),
                    run_id=batch,
                )
            ],
            data_dir,
            batch,
        )
        calls = [_call(_id("call", b), batch, False, asset="problems")]
        write_parquet(
            pl.DataFrame(calls, schema=LLM_CALLS.schema),
            llm_calls_path(batch_dir(data_dir, batch), "problems"),
            LLM_CALLS.schema,
        )
    tests = {"b1": [(1, _id("prob", 1))], "b2": [(2, _id("prob", 2)), (3, _id("prob", 1)), (4, _id("prob", 99))]}
    for batch, rows in tests.items():
        _write(
            TEST_INPUTS,
            [_test_row(_id("test", n), "random", n) | {"problem_id": prob, "run_id": batch} for n, prob in rows],
            data_dir,
            batch,
        )
    calls = [_call(_id("call", 9), "r0", True, asset="features")]
    write_parquet(pl.DataFrame(calls, schema=LLM_CALLS.schema), llm_calls_path(data_dir, "features"), LLM_CALLS.schema)


def test_trace_walk_finds_what_the_recursive_query_over_all_lineage_finds(data_dir):
    _lineage_dir(data_dir)
    con = warehouse.connect(data_dir)
    ids = [_id("test", n) for n in (1, 2, 3, 4)] + [_id("prob", 2), _id("cfg", 1), _id("feat", 1), _id("seed", 1)]
    for row_id in ids:
        expected = [
            dict(zip([d[0] for d in c.description], r))
            for c in [con.execute(RECURSIVE_TRACE, {"row_id": row_id})]
            for r in c.fetchall()
        ]
        assert expected, row_id
        assert warehouse.trace(con, row_id) == expected, row_id
    walk = warehouse.trace_walk(con, _id("test", 3))
    # the cross-batch parent was found by looking for it in every batch; the seed's asset is unbatched
    assert walk.batches == {
        _id("test", 3): "b2",
        _id("prob", 1): "b1",
        _id("cfg", 1): "b1",
        _id("feat", 1): None,
        _id("seed", 1): None,
    }
    assert [s["depth"] for s in walk.steps] == [0, 1, 2, 3, 4]
    missing = warehouse.trace(con, _id("test", 4))
    assert [s["row_id"] for s in missing] == [_id("test", 4)] and missing[0]["parent_ids"] == [_id("prob", 99)]
    assert warehouse.trace(con, _id("test", 77)) == [] and warehouse.trace(con, _id("ver", 1)) == []


def test_a_rows_parents_are_read_from_its_own_batch(data_dir):
    """The same problem id in two batches (one batch made again under another key): a test's trace
    shows its own batch's problem, where the union of all lineage mixed both."""
    _lineage_dir(data_dir)
    prob = _id("prob", 1)
    _write(
        PROBLEMS,
        [_row(PROBLEMS, problem_id=prob, config_id=_id("cfg", 2), status="ok", title="again", run_id="b2")],
        data_dir,
        "b2",
    )
    con = warehouse.connect(data_dir)
    steps = {s["row_id"]: s for s in warehouse.trace(con, _id("test", 3))}
    assert "again" in steps[prob]["summary"] and steps[prob]["parent_ids"] == [_id("cfg", 2)]
    steps = {s["row_id"]: s for s in warehouse.trace(con, _id("test", 1))}
    assert "t1" in steps[prob]["summary"] and steps[prob]["parent_ids"] == [_id("cfg", 1)]


def test_trace_calls_and_values_come_from_the_rows_files(data_dir):
    _lineage_dir(data_dir)
    con = warehouse.connect(data_dir)
    walk = warehouse.trace_walk(con, _id("test", 2))
    calls = warehouse.trace_calls(con, walk)
    wanted = sorted({c for s in walk.steps for c in s["llm_call_ids"] or []})
    assert wanted == [_id("call", 2), _id("call", 9), "call-00000000000000aa"]  # the generator's: in no file
    assert sorted(calls) == [_id("call", 2), _id("call", 9)]
    assert calls == warehouse.llm_calls_by_id(con, wanted)  # what the view over every calls file holds
    assert calls[_id("call", 2)]["batch"] == "b2" and calls[_id("call", 9)]["batch"] is None
    # a call that is not in its row's calls file is still found (in any batch's)
    (batch_dir(data_dir, "b2") / "llm_calls" / "problems.parquet").rename(
        batch_dir(data_dir, "b1") / "llm_calls" / "extra.parquet"
    )
    con = warehouse.connect(data_dir)
    assert warehouse.trace_calls(con, warehouse.trace_walk(con, _id("test", 2)))[_id("call", 2)]["batch"] == "b1"
    assert warehouse.trace_row_values(con, walk, _id("prob", 2), ["title", "status"]) == {"title": "t2", "status": "ok"}
    assert warehouse.trace_row_values(con, walk, _id("prob", 1), ["title"]) == {}  # not in this trace


def test_usage_log_is_scanned_lazily_with_the_querys_filter_and_columns(data_dir):
    cache = ResponseCache(data_dir / warehouse.LLM_CACHE_FILE)
    cache.log_usage(
        [
            _usage(
                f"r{i % 3}", "features" if i % 2 else "problems", cache_hit=i % 5 == 0, error="x" if i == 7 else None
            )
            for i in range(300)
        ]
    )
    cache.close()
    con = warehouse.connect(data_dir)
    assert con.execute("SELECT count(*) FROM llm_usage_log").fetchall() == [(300,)]
    assert con.execute("SELECT count(*) FROM llm_usage_log WHERE run_id = 'r1' AND asset = 'features'").fetchall() == [
        (50,)
    ]
    # read twice in one query, and again by the next: a source that can be scanned any number of times
    assert con.execute(
        "SELECT count(*) FROM llm_usage_log a JOIN llm_usage_log b ON a.run_id = b.run_id WHERE a.cache_hit AND b.error IS NOT NULL"
    ).fetchall() == [(20,)]
    assert con.execute("SELECT count(*) FILTER (WHERE cache_hit) FROM llm_usage_log").fetchall() == [(60,)]
    assert len(con.execute("SELECT asset FROM llm_usage_log LIMIT 2").fetchall()) == 2
    log = warehouse.read_usage_log(data_dir)
    assert log.schema == warehouse.USAGE_LOG_SCHEMA and log.height == 300
    assert warehouse.llm_totals(con)["runs"] == 3 and warehouse.llm_totals(con)["cache_hits"] == 60


def test_usage_rollup_sums_only_the_rows_logged_since_and_notices_a_rewritten_log(data_dir):
    import sqlite3

    cache = ResponseCache(data_dir / warehouse.LLM_CACHE_FILE)
    cache.log_usage([_usage("r1", "features", False), _usage("r1", "features", True, attempts=0)])
    con = warehouse.connect(data_dir)
    assert (warehouse.llm_totals(con)["requests"], warehouse.llm_totals(con)["cache_hits"]) == (2, 1)
    rollup = sqlite3.connect(data_dir / warehouse.ROLLUP_FILE)
    assert rollup.execute("SELECT last_rowid FROM mark").fetchall() == [(2,)]
    cache.log_usage([_usage("r2", "problems", False, error="timeout")])
    totals = warehouse.llm_totals(con)
    assert (totals["requests"], totals["runs"], totals["errors"], totals["prompt_tokens"]) == (3, 2, 1, 20)
    assert rollup.execute("SELECT last_rowid FROM mark").fetchall() == [(3,)]
    # the figures equal those of the whole log summed again, in DuckDB, from the lazy usage log
    whole = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT cache_hit AND attempts > 0), count(DISTINCT run_id) "
        "FROM llm_usage_log"
    ).fetchall()[0]
    assert (totals["requests"], totals["sent_to_model"], totals["runs"]) == whole
    cache.close()
    # a log rewritten under the rollup (rows gone, others in their place): summed again from the start
    db = sqlite3.connect(data_dir / warehouse.LLM_CACHE_FILE)
    db.execute("DELETE FROM usage")
    db.execute("INSERT INTO usage VALUES (1.0, 'r9', 'problems', 'r', 'm', 'other', 0, NULL, 1, 7, 1, 0.5)")
    db.commit()
    db.close()
    totals = warehouse.llm_totals(con)
    assert (totals["requests"], totals["runs"], totals["prompt_tokens"], totals["cost_usd"]) == (1, 1, 7, 0.5)
    rollup.close()


def test_table_figures_are_the_funnel_runs_and_example_ids(data_dir):
    _lineage_dir(data_dir)
    con = warehouse.connect(data_dir, lineage=False)
    figures = warehouse.table_figures(con)
    assert figures.funnel == warehouse.funnel(con)
    assert figures.runs == warehouse.data_runs(con)
    assert figures.examples == warehouse.example_ids(con)
    assert figures.runs["test_inputs"] == [("b1", "b1"), ("b2", "b2")] and figures.examples["test_inputs"] == _id(
        "test", 4
    )
    assert not warehouse._has_view(con, "lineage")  # status binds no lineage view


def test_batch_files_from_one_listing_are_the_tables_own(tmp_path):
    """warehouse._batch_files (strings, one listing) finds exactly what Table.batch_files finds."""
    from xcoder_assets.store import warehouse
    from xcoder_assets.store.tables import ALL_TABLES, BATCHES_DIR, batch_dir

    problems, verified = ALL_TABLES["problems"], ALL_TABLES["verified_solutions"]
    assert warehouse._batch_files(problems, tmp_path) == {} == problems.batch_files(tmp_path)
    for key in ("b2", "b10", "a1"):
        batch_dir(tmp_path, key).mkdir(parents=True)
        problems.path(batch_dir(tmp_path, key)).write_bytes(b"")
    verified.path(batch_dir(tmp_path, "b10")).write_bytes(b"")
    (tmp_path / BATCHES_DIR / "batch=file").write_text("a file, not a batch folder")
    (tmp_path / BATCHES_DIR / "other").mkdir()  # not a batch folder
    for table in (problems, verified):
        assert warehouse._batch_files(table, tmp_path) == table.batch_files(tmp_path)
    assert list(warehouse._batch_files(problems, tmp_path)) == ["a1", "b10", "b2"]
    assert list(warehouse._batch_files(verified, tmp_path)) == ["b10"]
