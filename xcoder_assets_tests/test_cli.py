"""The `xcoder` command as a user meets it: materialize (progress, one clear error, exit status),
status (figures that agree with the run metadata), trace (short and --full), sql.

The session's demo (xcoder_assets_tests/demo.py: 10 evolution rounds, 48 problems) is materialized twice
per test run with `xcoder materialize`, against its own DAGSTER_HOME, on the offline simulator; the
defs tests read the same data.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from xcoder_assets.cli import main as xcoder
from xcoder_assets.recipe.batches import DEFAULT_BATCH
from xcoder_assets.store.tables import batch_dir
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.demo import DEMO_ROUNDS, cli_env, cli_materialize, dagster_home, start_materialize

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # the session demo runs in the first test
BIN = Path(sys.executable).parent
LLM_ASSETS = ("features", "evolved_pool", "problems", "test_inputs", "candidate_solutions")


_env, _home = cli_env, dagster_home  # one helper each, shared with the session's demo (demo.py)


def materialize(home: Path, data: Path, *args: str, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    return cli_materialize(home, data, *args, timeout=timeout, **env)


def run_metadata(home: Path, run_id: str) -> dict[str, dict]:
    """Each asset's materialization metadata in one run, as the UI shows it."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        found = {}
        for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
            materialization = record.dagster_event.event_specific_data.materialization
            found[materialization.asset_key.to_user_string()] = {
                k: v.value for k, v in materialization.metadata.items()
            }
        return found


@pytest.fixture(scope="session")
def small_demo(demo_data):
    """The session's demo (conftest: demo_data): `xcoder materialize` twice, against its own DAGSTER_HOME,
    the runs' output kept. Read only: a test that writes copies the data."""
    return demo_data.home, demo_data.data, demo_data.runs


def _run_id(done: subprocess.CompletedProcess) -> str:
    return re.search(r"^run (\S+): \d+ asset\(s\) materialized$", done.stdout, re.MULTILINE).group(1)


def _status(monkeypatch, capsys, home: Path, data: Path) -> dict:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert xcoder(["--data-dir", str(data), "status", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ---- materialize -------------------------------------------------------------------------------


def test_materialize_prints_progress_not_dagster_internals(small_demo):
    _, _, (first, second) = small_demo
    for done in (first, second):
        text = done.stdout + done.stderr
        for noise in (" - DEBUG - ", "Traceback", "ReadOnly", "Warning", "STEP_START", "dagster - "):
            assert noise not in text, noise
        for asset in ("seed_problems", "evolved_pool", "verified_solutions"):
            assert re.search(rf"^{asset}: materialized in \d+\.\d s$", done.stdout, re.MULTILINE), asset
    assert _run_id(first) != _run_id(second)


def test_materialized_runs_are_recorded_in_dagster_home(small_demo):
    home, data, (first, _) = small_demo
    metadata = run_metadata(home, _run_id(first))
    assert set(metadata) >= {"seed_problems", "features", "evolved_pool", "verified_solutions"}
    assert metadata["evolved_pool"]["rounds_done"] == DEMO_ROUNDS  # the demo's --config applied
    assert metadata["seed_problems"]["dagster/row_count"] == pl.read_parquet(data / "seed_problems.parquet").height


def _bad_seed_config(tmp_path: Path) -> Path:
    seeds = tmp_path / "bad_seeds.jsonl"
    seeds.write_text(
        '{"question": "Add two numbers.", "solutions": ["print(sum(map(int, input().split())))"]}\n'
        "this line is not JSON\n"
    )
    config = tmp_path / "bad.yaml"
    config.write_text(f"ops:\n  seed_problems:\n    config:\n      paths: ['{seeds}']\n")
    return config


def test_a_bad_seed_file_is_one_clear_error_and_a_failed_exit(tmp_path):
    done = materialize(_home(tmp_path / "home"), tmp_path / "data", "--config", str(_bad_seed_config(tmp_path)))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("xcoder: error:")]
    assert len(errors) == 1 and errors[0].startswith("xcoder: error: seed_problems: 1 bad seed record(s)")
    text = done.stdout + done.stderr
    assert text.count("bad_seeds.jsonl:2: not valid JSON") == 1  # the message once, with file and line
    assert "Traceback" not in text and " - DEBUG - " not in text and 'File "' not in text
    assert "not materialized (upstream of them failed): " in done.stdout and "verified_solutions" in done.stdout


def test_verbose_adds_the_stack_and_dagster_log(tmp_path):
    done = materialize(
        _home(tmp_path / "home"),
        tmp_path / "data",
        "--select",
        "seed_problems",
        "--config",
        str(_bad_seed_config(tmp_path)),
        XCODER_DEBUG="1",
    )
    assert done.returncode == 1
    assert "Traceback" in done.stderr or 'File "' in done.stderr
    assert " - DEBUG - " in done.stderr and "STEP_START" in done.stderr  # Dagster's own console log


def test_an_unknown_model_is_one_error_naming_role_and_model(tmp_path):
    done = materialize(
        _home(tmp_path / "home"), tmp_path / "data", "--select", "seed_problems,features", XCODER_MODEL="no-such-model"
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("xcoder: error:")]
    assert len(errors) == 1 and errors[0].startswith("xcoder: error: features: ")
    assert "'extract'" in errors[0] and "no-such-model" in errors[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert "seed_problems: materialized in" in done.stdout  # what ran before the failure still did


def materialize_together(calls: list[tuple[Path, Path, tuple[str, ...]]]) -> list[subprocess.CompletedProcess]:
    """Several `xcoder materialize` commands at once (each its own DAGSTER_HOME): most of each one's time is
    the interpreter's start, which they need not wait for one after the other."""
    processes = [(args, start_materialize(home, data, *args)) for home, data, args in calls]
    done = []
    for args, process in processes:
        stdout, stderr = process.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(args, process.returncode, stdout, stderr))
    return done


def test_bad_selection_and_bad_run_config_are_one_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("ops: {seed_problems: {config: {no_such_field: 1}}}\n")
    unknown, malformed, bad_config, missing = materialize_together(
        [
            (_home(tmp_path / f"home{i}"), tmp_path / f"data{i}", args)
            for i, args in enumerate(
                [
                    ("--select", "no_such_asset"),
                    ("--select", "seed_problems features"),  # not a selection string
                    ("--select", "seed_problems", "--config", str(config)),
                    ("--config", str(tmp_path / "missing.yaml")),
                ]
            )
        ]
    )
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "no_such_asset" in unknown.stderr
    assert malformed.returncode == 2 and malformed.stderr.count("\n") == 1
    assert "Invalid selection string" in malformed.stderr
    assert bad_config.returncode == 2 and bad_config.stderr.startswith("xcoder: error: invalid run config: ")
    assert "no_such_field" in bad_config.stderr and "Traceback" not in bad_config.stderr
    assert missing.returncode == 2 and "missing.yaml" in missing.stderr and missing.stderr.count("\n") == 1


# ---- status ------------------------------------------------------------------------------------


def test_status_llm_figures_are_the_writing_runs_metadata(small_demo, monkeypatch, capsys):
    home, data, (_, second) = small_demo
    status = _status(monkeypatch, capsys, home, data)
    metadata = run_metadata(home, _run_id(second))
    by_asset = {row["asset"]: row for row in status["llm_by_asset"]}
    assert set(by_asset) == set(LLM_ASSETS)
    for asset in LLM_ASSETS:
        row, meta = by_asset[asset], metadata[asset]
        assert {run for _, run in status["runs"][asset]} == {_run_id(second)}
        assert (row["run_requests"], row["sent_to_model"], row["cache_hits"], row["not_sent"]) == (
            meta["llm_requests"],
            meta["llm_calls_made"],
            meta["llm_cache_hits"],
            meta["llm_requests_not_sent"],
        ), asset
        assert row["run_requests"] == row["sent_to_model"] + row["cache_hits"] + row["not_sent"]
        folder = batch_dir(data, row["batch"]) if row["batch"] else data
        assert row["behind_data"] == pl.read_parquet(folder / "llm_calls" / f"{asset}.parquet").height
        assert row["behind_data"] == row["run_requests"] + row["from_earlier_runs"]
        assert row["sent_to_model"] == 0  # the second run: everything came from the cache or the checkpoint
    # evolved_pool replays its checkpointed rounds: no request at all, every answer from the first run
    pool = by_asset["evolved_pool"]
    assert (
        pool["run_requests"] == 0
        and pool["from_earlier_runs"] == metadata["evolved_pool"]["llm_calls_from_checkpoint"] > 0
    )
    assert by_asset["features"]["cache_hits"] == status["assets"]["seed_problems"]
    totals = status["llm"]
    assert totals["runs"] == 2 and totals["requests"] == totals["sent_to_model"] + totals["cache_hits"]


def test_status_sandbox_runs_add_up_and_agree_with_the_metadata(small_demo, monkeypatch, capsys):
    home, data, (_, second) = small_demo
    status = _status(monkeypatch, capsys, home, data)
    metadata = run_metadata(home, _run_id(second))
    rows = {row["asset"]: row for row in status["sandbox_by_asset"]}
    assert set(rows) == {"test_inputs", "verified_solutions"}
    terms = ("executed", "cached", "skipped_after_time_limit", "not_compiled", "sandbox_failures")
    for asset, row in rows.items():
        meta = metadata[asset]
        assert row["runs"] == meta["sandbox_runs"] > 0
        assert [row[t] for t in ("executed", "cached", "skipped", "not_compiled", "sandbox_failures")] == [
            meta[f"sandbox_runs_{t}"] for t in terms
        ], asset
        assert row["runs"] == sum(meta[f"sandbox_runs_{t}"] for t in terms), asset
        assert "unaccounted" not in row
    assert rows["verified_solutions"]["executed"] == rows["test_inputs"]["executed"] == 0  # the second run ran nothing


def test_status_table_says_what_each_column_counts(small_demo, monkeypatch, capsys):
    home, data, _ = small_demo
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert xcoder(["--data-dir", str(data), "status"]) == 0
    out = capsys.readouterr().out
    for legend in (
        "behind data: answers the current rows use",
        "= sent to model (llm_calls_made)",
        "+ cache hits (llm_cache_hits) + not sent",
        "earlier runs: answers reused without a request",
        "runs = executed",
        "skipped (the",
        "+ not compiled",
        "written by run",
    ):
        assert legend in out, legend


def test_status_without_dagster_home_says_why_sandbox_runs_are_missing(small_demo, monkeypatch, capsys, tmp_path):
    _, data, _ = small_demo
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # no .dagster_home here
    assert xcoder(["--data-dir", str(data), "status"]) == 0
    assert "sandbox runs: DAGSTER_HOME is not set and there is no .dagster_home here" in capsys.readouterr().out


def test_status_finds_the_projects_dagster_home_by_itself(small_demo, monkeypatch, capsys, tmp_path):
    """From a shell without DAGSTER_HOME, in the project folder: the runs of `.dagster_home` (as make sets it)."""
    home, data, _ = small_demo
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / ".dagster_home").symlink_to(home)
    monkeypatch.chdir(tmp_path)
    assert xcoder(["--data-dir", str(data), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["sandbox_by_asset"] and not status["notes"], status["notes"]
    assert "DAGSTER_HOME" not in os.environ  # the command's environment only


def test_every_command_honours_data_dir(tmp_path, monkeypatch, capsys):
    """--data-dir wins over XCODER_DATA_DIR for materialize, status, trace and sql; the other directory is
    not touched."""
    home, first, second = _home(tmp_path / "home"), tmp_path / "first", tmp_path / "second"
    done = subprocess.run(
        [BIN / "xcoder", "--data-dir", str(second), "materialize", "--select", "seed_problems"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
        env=_env(home, first),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not first.exists(), sorted(p.name for p in first.rglob("*"))
    monkeypatch.setenv("XCODER_DATA_DIR", str(first))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert xcoder(["--data-dir", str(second), "sql", "SELECT seed_id FROM seed_problems LIMIT 1", "--json"]) == 0
    seed_id = json.loads(capsys.readouterr().out)[0]["seed_id"]
    assert xcoder(["--data-dir", str(second), "trace", seed_id]) == 0
    assert seed_id in capsys.readouterr().out
    assert xcoder(["--data-dir", str(second), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["assets"]["seed_problems"] > 0 and status["data_dir"] == str(second.resolve())
    assert not first.exists() and os.environ["XCODER_DATA_DIR"] == str(first)


# ---- trace -------------------------------------------------------------------------------------


def _golden(data: Path) -> dict:
    return (
        pl.read_parquet(batch_dir(data, DEFAULT_BATCH) / "verified_solutions.parquet")
        .filter(pl.col("is_golden"))
        .row(0, named=True)
    )


def test_short_trace_is_one_line_per_ancestor_up_to_the_seed(small_demo, capsys):
    _, data, _ = small_demo
    row = _golden(data)
    assert xcoder(["--data-dir", str(data), "trace", row["verified_id"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) <= 20
    assert lines[0].startswith(f"verified_solutions {row['verified_id']}: verified")
    stages = [line.split()[0] for line in lines[1:] if re.match(r"^\s+[a-z_]+ (x\d+:|[a-z]+-[0-9a-f]{16}:)", line)]
    assert stages == [
        "candidate_solutions",
        "test_inputs",
        "problems",
        "feature_configs",
        "evolved_pool",
        "feature_tree",
        "features",
        "seed_problems",
    ]
    text = "\n".join(lines)
    write_call = pl.read_parquet(batch_dir(data, DEFAULT_BATCH) / "test_inputs.parquet").filter(
        (pl.col("problem_id") == row["problem_id"]) & (pl.col("kind") != "example")
    )["generator_call_id"][0]
    assert text.count(write_call) == 1  # the test-writing call once, for all the tests it wrote
    tests_line = next(line for line in lines if line.strip().startswith("test_inputs x"))
    kinds = pl.read_parquet(batch_dir(data, DEFAULT_BATCH) / "test_inputs.parquet").filter(
        pl.col("test_id").is_in(row["test_ids"])
    )["kind"]
    examples = int((kinds == "example").sum())
    assert f"{examples} examples from the statement" in tests_line
    assert f"{len(kinds) - examples} inputs from the test generator" in tests_line


def test_trace_agreement_figures_are_one_definition(small_demo, capsys):
    _, data, _ = small_demo
    row = _golden(data)
    assert xcoder(["--data-dir", str(data), "trace", row["verified_id"], "--full"]) == 0
    out = capsys.readouterr().out
    votes = json.loads(row["votes_json"])
    per_test = re.findall(r"(test-[0-9a-f]{16}): (\d+) of (\d+) normal runs agree \(agreement (\d\.\d\d);", out)
    assert len(per_test) == len(votes)
    for test_id, top, voters, agreement in per_test:
        assert float(agreement) == round(int(top) / int(voters), 2) == round(votes[test_id]["agreement"], 2)
    mean = sum(int(t) / int(v) for _, t, v, _ in per_test) / len(per_test)
    assert f"mean {mean:.2f} over the tests" in out and f"mean agreement {round(row['mean_agreement'], 2)}" in out


def test_an_example_input_is_credited_to_the_statement(small_demo, capsys):
    _, data, _ = small_demo
    tests = pl.read_parquet(batch_dir(data, DEFAULT_BATCH) / "test_inputs.parquet")
    example = tests.filter(pl.col("kind") == "example").row(0, named=True)
    generated = tests.filter(pl.col("kind") != "example").row(0, named=True)
    assert xcoder(["--data-dir", str(data), "trace", example["test_id"]]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "from the statement" in first and "<-" not in first and "write_tests" not in first
    assert xcoder(["--data-dir", str(data), "trace", generated["test_id"]]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "from the test generator" in first and generated["generator_call_id"] in first


def test_full_trace_prints_each_prompt_once(small_demo, capsys):
    _, data, _ = small_demo
    row = _golden(data)
    assert xcoder(["--data-dir", str(data), "trace", row["verified_id"], "--full"]) == 0
    out = capsys.readouterr().out
    assert "--- answer" in out and "--- user ---" in out
    mentioned = set(re.findall(r"LLM call: \S+ (call-[0-9a-f]{16}) \(", out))
    first_time = re.findall(r"LLM call: \S+ (call-[0-9a-f]{16}) \((?!shown above)", out)
    assert mentioned and sorted(first_time) == sorted(mentioned)  # each call in full once, then referred to
    assert len(re.findall(r"^\s*--- answer", out, re.MULTILINE)) == len(mentioned)


# ---- sql ---------------------------------------------------------------------------------------


def test_sql_prints_a_table_csv_and_json(small_demo, capsys):
    _, data, _ = small_demo
    query = "SELECT status, count(*) AS n FROM problems GROUP BY status ORDER BY status"
    expected = (
        pl.read_parquet(batch_dir(data, DEFAULT_BATCH) / "problems.parquet").group_by("status").len().sort("status")
    )
    assert xcoder(["--data-dir", str(data), "sql", query]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["status", "n"] and set(lines[1]) <= {"-", " "}
    assert lines[-1] == f"({expected.height} row{'s' if expected.height != 1 else ''})"
    assert [line.split() for line in lines[2:-1]] == [[s, str(n)] for s, n in expected.iter_rows()]
    assert xcoder(["--data-dir", str(data), "sql", query, "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["status", "n"]] + [[s, str(n)] for s, n in expected.iter_rows()]
    assert xcoder(["--data-dir", str(data), "sql", query, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"status": s, "n": n} for s, n in expected.iter_rows()]


def test_sql_sees_lineage_and_the_llm_usage_log(small_demo, capsys):
    _, data, _ = small_demo
    assert (
        xcoder(
            [
                "--data-dir",
                str(data),
                "sql",
                "SELECT count(*) AS n FROM llm_usage_log WHERE asset = 'features'",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["n"] == 2 * pl.read_parquet(data / "seed_problems.parquet").height
    assert xcoder(["--data-dir", str(data), "sql", "SELECT count(DISTINCT asset) AS n FROM lineage", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] == 9


def test_sql_limits_rows_and_cells(small_demo, capsys):
    _, data, _ = small_demo
    assert (
        xcoder(["--data-dir", str(data), "sql", "SELECT statement FROM problems", "--max-rows", "2", "--width", "20"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and "not shown: --max-rows 0 for all" in lines[-1]
    assert all(len(line) <= 20 for line in lines[2:4])


def test_a_bad_query_is_one_error_line(small_demo, capsys):
    _, data, _ = small_demo
    assert xcoder(["--data-dir", str(data), "sql", "SELEC 1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xcoder: error: query failed: Parser Error")
    assert xcoder(["--data-dir", str(data), "sql", "SELECT * FROM no_such_table"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_table" in err and "verified_solutions" in err  # names the tables there are


def test_sql_without_data_is_a_clear_error(tmp_path, capsys):
    assert xcoder(["--data-dir", str(tmp_path / "nope"), "sql", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "make demo" in err


def test_a_damaged_file_is_named_with_its_asset_batch_and_rebuild_command(small_demo, tmp_path, monkeypatch, capsys):
    """A Parquet file truncated to half (issue 20 item 15): status shows the other assets and marks the
    damaged one; reading it names the file, its asset and batch, and the command that rebuilds it."""
    import shutil

    from xcoder_assets.store.parquet import DamagedFile, read_parquet

    home, data, _ = small_demo
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    damaged = batch_dir(copy, DEFAULT_BATCH) / "verified_solutions.parquet"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert xcoder(["--data-dir", str(copy), "status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^verified_solutions\s+damaged", out, re.MULTILINE)
    assert re.search(r"^candidate_solutions\s+\d+", out, re.MULTILINE)  # the others still count
    assert f"rebuild: xcoder materialize --select verified_solutions --batch {DEFAULT_BATCH}" in out
    assert "Traceback" not in out
    assert xcoder(["--data-dir", str(copy), "sql", "SELECT asset, batch FROM damaged_files", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"asset": "verified_solutions", "batch": DEFAULT_BATCH}]
    with pytest.raises(
        DamagedFile, match=rf"verified_solutions.parquet \(asset verified_solutions, batch {DEFAULT_BATCH}\)"
    ):
        read_parquet(damaged)


def test_the_readme_figures_come_from_the_data(small_demo, monkeypatch, tmp_path):
    """scripts/readme_figures.py renders the demo block from a data directory and its runs, and writes
    it between the markers of docs/getting-started.md (issue 20 item 12: the figures are regenerated, not typed)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_figures", PROJECT_ROOT / "scripts" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    home, data, _ = small_demo
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    block = module.render(module.figures(data))
    funnel = json.loads(
        subprocess.run(
            [BIN / "xcoder", "--data-dir", str(data), "status", "--json"],
            capture_output=True,
            text=True,
            env=_env(home, data),
        ).stdout
    )["verification"]
    assert " -> ".join(f"{n} {stage}" for stage, n in funnel.items()) in block
    assert "easy_share" in block and "unverified_share" in block
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{module.BEGIN}\nstale\n{module.END}\nrest\n")
    module.write(readme, block)
    assert readme.read_text() == f"intro\n{module.BEGIN}\n{block}\n{module.END}\nrest\n"
    text = (PROJECT_ROOT / "docs" / "getting-started.md").read_text()  # where the demo's figures live
    assert text.count(module.BEGIN) == 1 and text.count(module.END) == 1
