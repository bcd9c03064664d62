"""The SynthSmith chain end to end on the offline provider: the session's demo (two `xcoder materialize` runs,
conftest: demo_data) read here, dg.materialize for what a test must run itself (and once on the fake HTTP server)."""

import json
import re

import dagster as dg
import polars as pl
import pytest

from xcoder_assets.cli import main as xcoder
from xcoder_assets.defs.resources import LLMGatewayResource
from xcoder_assets.definitions import defs as lazy_defs
from xcoder_assets_tests.batches import materialize_location
from xcoder_assets.store.tables import (
    SYNTHESIS_ASSETS,
    CANDIDATE_SOLUTIONS,
    FEATURE_TREE,
    FEATURES,
    PROBLEMS,
    SEED_PROBLEMS,
    SEED_REJECTS,
    TEST_INPUTS,
    VERIFIED_SOLUTIONS,
)
from xcoder_assets.store.tables import batch_dir, llm_calls_path, verified_problems_path
from xcoder_assets_tests.batches import TEST_BATCH, folder_of
from xcoder_assets_tests.demo import DEMO_ROUNDS


# The first test to ask for the session's demo waits for its two materializations: on a loaded 2-core
# machine they outgrow the default 300 s.
pytestmark = pytest.mark.timeout(1200)

# The synthesis pipeline, seed to verified solutions (the benchmark assets have their own tests).
PIPELINE = list(SYNTHESIS_ASSETS)


def materialize(data_dir, llm=None, run_config=None, raise_on_error=True, instance=None, selection=None):
    selection = PIPELINE if selection is None else selection
    return materialize_location(data_dir, selection, llm, run_config, instance, raise_on_error)


FIRST_STAGE = ["seed_problems", "features", "feature_tree"]


def metadata_of(result, asset):
    (event,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in event.metadata.items()}


@pytest.fixture(scope="module")
def demo_instance(demo_data):
    return demo_data.instance


@pytest.fixture(scope="module")
def demo(demo_data):
    """Two materializations of the SynthSmith chain into one data directory: the session's demo
    (conftest: demo_data, `xcoder materialize` twice), read only here."""
    return demo_data.data, demo_data.first, demo_data.second


def test_graph_materializes_and_every_check_passes(demo):
    """The demo batch is like real data: its statements name the method (the simulator's 12%) or fail to parse
    now and then; the problems stage asks those again, so the leak_share check (which warned before re-asks)
    passes with every other check, and the re-asked problems say how many requests they took."""
    data_dir, first, _ = demo
    assert first.success
    checks = {c.check_name: c for c in first.get_asset_check_evaluations()}
    failed = {name: c for name, c in checks.items() if not c.passed}
    assert not failed, {k: c.metadata for k, c in failed.items()}
    problems = pl.read_parquet(PROBLEMS.path(batch_dir(data_dir, TEST_BATCH)))
    leaked = problems.filter(pl.col("status") == "leak")["problem_id"].to_list()
    assert checks["leak_share"].metadata["leak_share"].value <= 0.10 and len(leaked) <= 2
    assert problems.filter(pl.col("status") == "ok").height >= 0.9 * problems.height
    # a problem asked again (more than its two first requests) traces back like any other
    reasked = problems.filter(pl.col("attempts") > 2)["problem_id"].to_list()
    assert reasked and xcoder(["--data-dir", str(data_dir), "trace", reasked[0]]) == 0
    seeds = pl.read_parquet(SEED_PROBLEMS.path(data_dir))
    features = pl.read_parquet(FEATURES.path(data_dir))
    tree = pl.read_parquet(FEATURE_TREE.path(data_dir))
    assert seeds.height >= 30 and features.height == seeds.height and tree.height > 0
    assert set(features["status"]) <= {"ok", "parse_error", "truncated", "llm_error"}
    failed = features.filter(pl.col("status") != "ok")
    assert failed.height > 0 and failed["error"].null_count() == 0  # failures are rows with a reason
    assert set(features["model"]) == {"xcoder-offline/synthsmith-sim-1"}
    assert set(features["template"]) == {"extract_features@v1"}
    ok_sources = set(features.filter(pl.col("status") == "ok")["feature_id"])
    assert set(tree.explode("source_feature_ids")["source_feature_ids"]) <= ok_sources
    assert (data_dir / "feature_tree.json").exists() and (data_dir / "xcoder.duckdb").exists()
    meta = metadata_of(first, "feature_tree")
    assert meta["leaves"] == tree.height and meta["leaves/algorithms"] > 0


@pytest.mark.parametrize("asset", ["features", "evolved_pool", "problems", "test_inputs", "candidate_solutions"])
def test_second_materialization_makes_zero_llm_calls(demo, asset):
    _, first, second = demo
    before, after = metadata_of(first, asset), metadata_of(second, asset)
    assert before["llm_calls_made"] > 0
    if asset == "evolved_pool":  # its finished rounds are checkpointed: nothing to ask, not even the cache
        assert after["llm_requests"] == 0 and after["resumed_after_round"] == DEMO_ROUNDS
    else:
        assert after["llm_calls_made"] == 0 and after["llm_cache_hits"] == before["llm_requests"]
    assert "offline simulator, not a real LLM" in after["llm_model"]
    for meta in (before, after):  # the terms add up and each is named
        assert meta["llm_requests"] == meta["llm_calls_made"] + meta["llm_cache_hits"] + meta["llm_requests_not_sent"]
    if asset == "evolved_pool":
        assert after["llm_calls_from_checkpoint"] == before["llm_requests"]
    else:  # a cached answer shows the tokens it cost when it was made, apart from tokens spent now
        assert after["llm_prompt_tokens_spent"] == 0 and after["llm_completion_tokens_spent"] == 0
        assert after["llm_completion_tokens_cached"] == before["llm_completion_tokens_spent"] > 0


def sandbox_terms(meta, prefix="sandbox_runs"):
    return sum(
        meta[f"{prefix}_{term}"]
        for term in ("executed", "cached", "skipped_after_time_limit", "not_compiled", "sandbox_failures")
    )


@pytest.mark.parametrize("asset", ["test_inputs", "verified_solutions"])
def test_sandbox_figures_add_up(demo, asset):
    _, first, second = demo
    for meta in (metadata_of(first, asset), metadata_of(second, asset)):
        assert meta["sandbox_runs"] == sandbox_terms(meta) > 0 and meta["sandbox_runs_unexplained"] == 0
        assert meta["sandbox_runs_sum"].startswith(f"{meta['sandbox_runs']} runs = ")
    verified = metadata_of(first, "verified_solutions")
    assert verified["sandbox_runs_skipped_after_time_limit"] > 0  # the simulator deals candidates that never end
    inputs = metadata_of(first, "test_inputs")
    assert inputs["sandbox_runs"] == inputs["sandbox_generator_runs"] + inputs["sandbox_validator_runs"]


def test_progress_lines_in_the_run_log(demo, demo_instance):
    _, first, _ = demo
    logs = [entry.user_message for entry in demo_instance.all_logs(first.run_id)]
    for label in (
        "features: LLM calls",
        "evolved_pool: LLM calls",
        "problems: scenario calls",
        "test_inputs: generator runs",
        "candidate_solutions: LLM calls",
        "verified_solutions: sandbox runs",
    ):
        closing = [m for m in logs if m.startswith(label) and " in " in m.rsplit(",", 1)[-1]]
        assert len(closing) == 1, (label, [m for m in logs if label in m])
        assert "from cache" in closing[0] and "/s" in closing[0]


def test_ui_metadata_draws_charts_and_says_none(demo):
    _, first, second = demo
    meta = metadata_of(first, "verified_solutions")
    assert (
        meta["funnel_chart"].startswith("![verification funnel")
        and "data:image/svg+xml;base64," in meta["funnel_chart"]
    )
    assert "data:image/svg+xml;base64," in meta["agreement_distribution"]
    reasons = meta["rejection_reasons"]
    assert reasons.startswith("| reason") or reasons == "_none: no problem was rejected_"
    marked = metadata_of(first, "test_inputs")["marked_problems"]
    assert marked.startswith("| problem_id") or marked.startswith("_none")
    columns = first.asset_materializations_for_node("problems")[0].metadata["dagster/column_schema"].value.columns
    assert all(column.description for column in columns)


def test_demo_problems_are_varied_and_recorded(demo):
    data_dir, first, _ = demo
    problems = pl.read_parquet(PROBLEMS.path(batch_dir(data_dir, TEST_BATCH)))
    kept = problems.filter(pl.col("status") == "ok")
    assert kept.height >= 24
    assert set(kept["style"]) == {"codeforces", "leetcode", "atcoder"}
    assert kept.filter(pl.col("style") == "leetcode")["function_name"].null_count() == 0
    assert "duplicate" not in set(problems["status"])  # the simulator writes no duplicates any more (issue 21)
    assert problems["attempts"].min() >= 1 and kept.height >= 0.9 * problems.height  # failed answers asked again
    assert problems.filter(pl.col("status") != "ok")["error"].null_count() == 0
    assert all(len(ids) >= 1 for ids in kept["feature_ids"])
    settings = json.loads((folder_of(data_dir, "problems") / "settings" / "problems.json").read_text())
    assert settings["run_config"]["style_probabilities"] == {"codeforces": 0.7, "leetcode": 0.15, "atcoder": 0.15}
    assert settings["resources"]["llm"]["models"] == {"compose": "xcoder-offline/synthsmith-sim-1"}
    assert settings["made_with"]["templates"] == ["compose_scenario@v1", "compose_problem@v1"]
    pool = metadata_of(first, "evolved_pool")
    assert pool["rounds_done"] == DEMO_ROUNDS and pool["dagster/row_count"] > pool["seed_tree_features"]
    assert "pool size" in pool["growth_curve"] and "(data:image/svg+xml;base64," in pool["growth_curve"]


@pytest.mark.parametrize(
    "asset",
    [
        "seed_problems",
        "features",
        "evolved_pool",
        "feature_configs",
        "problems",
        "test_inputs",
        "candidate_solutions",
        "verified_solutions",
    ],
)
def test_settings_records_paste_into_run_config(demo, asset):
    """settings/<asset>.json keeps run config apart from resource settings: its run_config is valid run config."""
    data_dir, _, _ = demo
    record = json.loads((folder_of(data_dir, asset) / "settings" / f"{asset}.json").read_text())
    assert set(record) == {"asset", "note", "run_config", "resources", "made_with"}
    job = lazy_defs().resolve_implicit_global_asset_job_def()
    run_config = {"ops": {asset: {"config": record["run_config"]}}} if record["run_config"] else {}
    assert dg.validate_run_config(job, run_config)
    if asset == "verified_solutions":
        assert "limits" not in record["run_config"] and record["resources"]["sandbox"]["cpu_s"] == 2.0
        with pytest.raises(dg.DagsterInvalidConfigError):  # what a user copying a resource key would meet
            dg.validate_run_config(job, {"ops": {asset: {"config": {**record["run_config"], "cpu_s": 2.0}}}})


def trace(data_dir, capsys, row_id, *flags):
    assert xcoder(["--data-dir", str(data_dir), "trace", row_id, *flags]) == 0
    return capsys.readouterr().out


def assert_ancestors(out, *expected):
    """Each ancestor is named on a line of its own: its asset, then a row id or a count of rows."""
    for asset, kind in expected:
        assert re.search(rf"^ *{asset} +({kind}-|x\d+)", out, re.MULTILINE), (asset, out[:2000])


def test_trace_of_a_problem_reaches_its_seeds(demo, capsys):
    data_dir, _, _ = demo
    problem = (
        pl.read_parquet(PROBLEMS.path(batch_dir(data_dir, TEST_BATCH)))
        .filter(pl.col("status") == "ok")
        .row(0, named=True)
    )
    out = trace(data_dir, capsys, problem["problem_id"])
    assert_ancestors(
        out,
        ("problems", "prob"),
        ("feature_configs", "cfg"),
        ("evolved_pool", "pool"),
        ("feature_tree", "node"),
        ("features", "feat"),
        ("seed_problems", "seed"),
    )
    for template in ("compose_scenario@v1", "compose_problem@v1", "extract_features@v1"):
        assert template in out, template
    assert problem["feature_ids"][0] in trace(data_dir, capsys, problem["problem_id"], "--full")


def test_trace_of_a_reasked_problem_shows_its_earlier_attempts(demo, capsys):
    """Each attempt is a row of llm_calls, and the row names only the last: the trace finds the earlier ones (the
    same template and messages, another seed) and shows them, first first, with their prompts in --full."""
    from xcoder_assets.present import lineage_view
    from xcoder_assets.store import warehouse

    data_dir, _, _ = demo
    problems = pl.read_parquet(PROBLEMS.path(batch_dir(data_dir, TEST_BATCH)))
    reasked = problems.filter(pl.col("attempts") > 2).row(0, named=True)
    once = problems.filter(pl.col("attempts") == 2).row(0, named=True)
    con = warehouse.connect(data_dir, views=False, usage_log=False)
    try:
        lineage = lineage_view.read_lineage(con, reasked["problem_id"])
        assert lineage_view.read_lineage(con, once["problem_id"]).earlier == {}
    finally:
        con.close()
    finals = {reasked["scenario_call_id"], reasked["statement_call_id"]}
    assert set(lineage.earlier) <= finals
    assert sum(len(ids) for ids in lineage.earlier.values()) == reasked["attempts"] - len(finals)
    for final_id, earlier_ids in lineage.earlier.items():
        final = lineage.calls[final_id]
        for earlier_id in earlier_ids:
            earlier = lineage.calls[earlier_id]
            assert (earlier.template, earlier.messages) == (final.template, final.messages)
    # in attempt order: the first attempt has no seed, attempt k has seed k (the row's own call the last)
    calls = pl.read_parquet(llm_calls_path(batch_dir(data_dir, TEST_BATCH), "problems"))
    seeds = {
        row["call_id"]: json.loads(row["request_json"])["params"].get("seed") or 1
        for row in calls.iter_rows(named=True)
    }
    for final_id, earlier_ids in lineage.earlier.items():
        assert [seeds[i] for i in (*earlier_ids, final_id)] == list(range(1, len(earlier_ids) + 2))
    short = trace(data_dir, capsys, reasked["problem_id"])
    earlier_ids = [i for ids in lineage.earlier.values() for i in ids]
    assert "asked again after" in short and all(i in short for i in earlier_ids)
    full = trace(data_dir, capsys, reasked["problem_id"], "--full")
    assert "earlier attempt" in full and all(i in full for i in earlier_ids)


def test_ids_are_stable_across_runs(demo):
    data_dir, first, second = demo
    # both runs wrote the same ids (the second overwrote the first's files with identical rows)
    features = pl.read_parquet(FEATURES.path(data_dir))
    assert features["run_id"].unique().to_list() == [second.run_id]
    assert features["feature_id"].n_unique() == features.height


def test_status_and_trace_commands(demo, capsys):
    data_dir, _, second = demo
    assert xcoder(["--data-dir", str(data_dir), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["assets"]["seed_problems"] >= 30 and status["assets"]["feature_tree"] > 0
    by_asset = {row["asset"]: row for row in status["llm_by_asset"]}
    features = by_asset["features"]
    assert features.get("run_requests", features.get("requests")) == status["assets"]["seed_problems"]
    assert features["cache_hits"] == status["assets"]["seed_problems"]  # the second run's
    assert status["llm"]["cache_hits"] >= status["assets"]["seed_problems"]

    node = pl.read_parquet(FEATURE_TREE.path(data_dir)).row(0, named=True)
    out = trace(data_dir, capsys, node["node_id"])
    assert node["node_id"] in out and second.run_id in out and "extract_features@v1" in out
    assert_ancestors(out, ("features", "feat"), ("seed_problems", "seed"))
    full = trace(data_dir, capsys, node["source_feature_ids"][0], "--full")
    assert "Task: feature-extraction" in full and "call-" in full

    assert xcoder(["--data-dir", str(data_dir), "trace", "feat-0123456789abcdef"]) == 2
    assert "unknown row id feat-0123456789abcdef" in capsys.readouterr().err


def test_status_without_data_dir_is_a_clear_error(tmp_path, capsys):
    assert xcoder(["--data-dir", str(tmp_path / "none"), "status"]) == 2
    assert "does not exist" in capsys.readouterr().err


def seed_config(**config):
    return {"ops": {"seed_problems": {"config": config}}}


def test_malformed_seed_file_fails_with_its_line(tmp_path, data_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Q", "solutions": ["print(1)"]}) + "\n{oops\n")
    result = materialize(
        data_dir, run_config=seed_config(paths=[str(bad)]), raise_on_error=False, selection=["seed_problems"]
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert f"{bad}:2: not valid JSON" in message


def test_skip_bad_records_keeps_them_as_rows(tmp_path, data_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Q", "solutions": ["print(1)"]}) + "\n{oops\n")
    result = materialize(
        data_dir, run_config=seed_config(paths=[str(bad)], skip_bad_records=True), selection=["seed_problems"]
    )
    assert result.success
    rejects = pl.read_parquet(SEED_REJECTS.path(data_dir))
    assert rejects.select("source_line", "raw").rows() == [(2, "{oops\n")]
    assert metadata_of(result, "seed_problems")["rejected_records"] == 1
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "reject_share"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN  # 1 of 2 records read
    assert check.metadata["reject_share"].value == 0.5
    # rejects never became rows: the check names their file and line, and has no trace command
    assert check.metadata["rejected_ids"].value == f"{bad}:2" and check.metadata["rejected"].value == 1
    assert "trace" not in check.metadata


@pytest.mark.parametrize(
    "llm, expected",
    [
        (LLMGatewayResource(model="no-such-model-anywhere"), "unknown model 'no-such-model-anywhere'"),
        (LLMGatewayResource(extract_model="anthropic/claude-sonnet-4-5"), "needs ANTHROPIC_API_KEY"),
    ],
)
def test_bad_model_settings_fail_before_any_call(data_dir, monkeypatch, llm, expected):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = materialize(data_dir, llm=llm, raise_on_error=False, selection=FIRST_STAGE)
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert expected in message and "role 'extract'" in message
    assert not (data_dir / "llm_cache.sqlite").exists()


def test_real_path_through_litellm_over_http(fake_llm_url, data_dir):
    """A configured OpenAI-compatible model: same assets, real HTTP; its non-JSON answers become error rows."""
    llm = LLMGatewayResource(model="openai/fake-model", api_base=fake_llm_url, api_key="sk-test")
    result = materialize(
        data_dir, llm=llm, run_config=seed_config(limit=4), raise_on_error=False, selection=FIRST_STAGE
    )
    features = pl.read_parquet(FEATURES.path(data_dir))
    assert features.height == 4 and set(features["status"]) == {"parse_error"}
    assert set(features["model"]) == {"openai/fake-model"}
    meta = metadata_of(result, "features")
    assert meta["llm_calls_made"] == 4 and "offline" not in meta["llm_model"]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["parse_failures"].passed
    assert checks["parse_failures"].severity == dg.AssetCheckSeverity.WARN


def test_second_materialization_runs_nothing_in_the_sandbox_again(demo):
    _, first, second = demo
    before, after = metadata_of(first, "verified_solutions"), metadata_of(second, "verified_solutions")
    assert before["sandbox_runs_executed"] > 0
    assert after["sandbox_runs_executed"] == 0 and after["sandbox_runs_cached"] >= before["sandbox_runs_executed"]
    assert after["sandbox_runs"] == before["sandbox_runs"]
    assert (
        metadata_of(second, "test_inputs")["sandbox_runs_cached"] == metadata_of(second, "test_inputs")["sandbox_runs"]
    )


def test_wrong_candidates_never_end_up_verified(demo):
    data_dir, first, _ = demo
    verified = pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(data_dir, TEST_BATCH))).filter(
        pl.col("status") == "verified"
    )
    assert verified.height >= 10 and verified["problem_id"].n_unique() >= 5
    # every deliberately wrong, crashing or slow candidate of the offline provider wraps the solver
    assert not any("_solve = solve" in code for code in verified["code"])
    candidates = pl.read_parquet(CANDIDATE_SOLUTIONS.path(batch_dir(data_dir, TEST_BATCH)))
    assert candidates.filter(pl.col("code").str.contains("_solve = solve", literal=True)).height > 0
    assert set(candidates["status"]) >= {"ok", "truncated"}
    tests = pl.read_parquet(TEST_INPUTS.path(batch_dir(data_dir, TEST_BATCH)))
    assert {"valid", "invalid"} <= set(tests["status"])
    assert tests.filter(pl.col("status") != "valid")["reason"].null_count() == 0
    meta = metadata_of(first, "verified_solutions")
    assert "with a golden solution" in meta["funnel"] and meta["problems_verified"] == verified["problem_id"].n_unique()


def test_verified_problems_are_judged_like_livecodebench_problems(demo, tmp_path, capsys):
    data_dir, _, _ = demo
    verified = pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(data_dir, TEST_BATCH))).filter(pl.col("is_golden"))
    generations = [
        {"question_id": row["problem_id"], "code_list": [row["code"]]} for row in verified.iter_rows(named=True)
    ]
    (tmp_path / "g.json").write_text(json.dumps(generations))
    out = tmp_path / "r.json"
    assert (
        xcoder(
            [
                "judge",
                "--problems",
                str(verified_problems_path(batch_dir(data_dir, TEST_BATCH))),
                "--generations",
                str(tmp_path / "g.json"),
                "--out",
                str(out),
                "--workers",
                "2",
            ]
        )
        == 0
    )
    results = json.loads(out.read_text())
    assert len(results) == verified.height and all(r["graded_list"] == [True] for r in results)


def test_trace_of_a_verified_solution(demo, capsys):
    data_dir, _, _ = demo
    row = (
        pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(data_dir, TEST_BATCH)))
        .filter(pl.col("is_golden"))
        .row(0, named=True)
    )
    out = trace(data_dir, capsys, row["verified_id"])
    assert "tests verified, mean agreement" in out
    assert_ancestors(
        out,
        ("verified_solutions", "ver"),
        ("test_inputs", "test"),
        ("candidate_solutions", "cand"),
        ("problems", "prob"),
        ("evolved_pool", "pool"),
        ("seed_problems", "seed"),
    )
    for template in ("solve@v1", "write_tests@v1", "compose_problem@v1"):
        assert template in out, template
    assert "test-" in trace(data_dir, capsys, row["verified_id"], "--full")


def test_chunks_of_any_size_write_the_same_tables(demo, tmp_path):
    """The per-problem stages go through a batch a chunk of problems at a time (memory bounded by the
    chunk): chunks of 3 problems write the same rows, in the same order, as the default chunks."""
    import shutil

    data_dir, _, _ = demo
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)  # the demo is shared: runs write to a copy
    stages = ["test_inputs", "candidate_solutions", "verified_solutions"]
    result = materialize(
        copy,
        run_config={"ops": {name: {"config": {"chunk_problems": 3}} for name in stages}},
        selection=stages,
    )
    assert result.success
    folder, chunked = batch_dir(data_dir, TEST_BATCH), batch_dir(copy, TEST_BATCH)
    for table in (TEST_INPUTS, CANDIDATE_SOLUTIONS, VERIFIED_SOLUTIONS):
        expected = pl.read_parquet(table.path(folder)).drop("run_id")
        got = pl.read_parquet(table.path(chunked)).drop("run_id")
        assert got.height == expected.height > 0 and got.equals(expected), table.name
    assert verified_problems_path(chunked).read_text() == verified_problems_path(folder).read_text()
    assert sum(1 for _ in chunked.glob("*.parquet")) == sum(1 for _ in folder.glob("*.parquet"))
