"""End to end: the webserver serves the asset graph, the CLI's bench runs against a real endpoint."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from xcoder_assets_tests.conftest import PROJECT_ROOT, free_port, graphql

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e


def test_bench_llm_prints_both_rates_and_the_ratio_last(fake_llm_url):
    run = subprocess.run(
        [
            BIN / "xcoder",
            "bench",
            "llm",
            "--api-base",
            fake_llm_url,
            "--model",
            "openai/fake-model",
            "--requests",
            "40",
            "--concurrency",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert "plain litellm" in lines[-3] and "requests/s" in lines[-3] and "0 errors" in lines[-3]
    assert "xcoder gateway" in lines[-2] and "0 errors" in lines[-2]
    assert lines[-1].startswith("gateway/plain requests/s ratio: ")
    assert float(lines[-1].split(": ")[1].split()[0]) > 0


def test_definitions_validate_command(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    run = subprocess.run(
        [BIN / "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=PROJECT_ROOT,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All code locations passed validation" in run.stdout + run.stderr


def test_dg_check_defs(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    run = subprocess.run(
        [BIN / "dg", "check", "defs"], capture_output=True, text=True, timeout=180, cwd=PROJECT_ROOT, env=env
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All definitions loaded successfully" in run.stdout + run.stderr


def test_webserver_serves_the_asset_graph(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "XCODER_DATA_DIR": str(tmp_path / "data")}
    process, port = _start_webserver(env)
    try:
        deadline = time.monotonic() + 120
        info = _wait_for_webserver(port, deadline)
        assert "dagster_webserver_version" in info
        nodes = None
        while time.monotonic() < deadline:
            data = graphql(
                f"http://127.0.0.1:{port}", "{ assetNodes { assetKey { path } dependencyKeys { path } description } }"
            )
            nodes = data.get("data", {}).get("assetNodes")
            if nodes:
                break
            time.sleep(0.5)
        graph = {
            "/".join(n["assetKey"]["path"]): sorted("/".join(d["path"]) for d in n["dependencyKeys"]) for n in nodes
        }
        # exactly the location's graph (which the definitions snapshot pins)
        from xcoder_assets.definitions import defs

        expected = defs().resolve_asset_graph()
        assert graph == {
            k.to_user_string(): sorted(p.to_user_string() for p in expected.get(k).parent_keys)
            for k in expected.get_all_asset_keys()
        }
        assert graph["verified_solutions"] == ["candidate_solutions", "test_inputs"]
        assert graph["trained_model"] == ["training_shards"] and "lcb_problems" in graph["benchmark_scores"]
        resources = graphql(
            f"http://127.0.0.1:{port}", "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
        )
        assert resources["data"]["workspaceOrError"]["locationEntries"][0]["name"] == "xcoder_assets"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _start_webserver(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """dagster-webserver on the project's workspace, on a free port of 127.0.0.1."""
    port = free_port()
    process = subprocess.Popen(
        [BIN / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, port


def _wait_for_webserver(port: int, deadline: float) -> dict:
    """The webserver's /server_info once it answers."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError("the webserver did not start")


REEXECUTE = """mutation($parent: String!) {
  launchRunReexecution(reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""


def test_the_ui_reexecutes_a_run_started_by_xcoder_materialize(tmp_path):
    """ "Re-execute all" in the UI on a run of `make demo` (issue 20 item 6): the run carries the code
    location's origin, and its run config (the terminal logger) is valid for the UI's job too."""
    home = tmp_path / "home"
    home.mkdir()
    # runs launched from the webserver start at once (no daemon to dequeue them in this test)
    coordinator = "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + coordinator)
    env = {**os.environ, "DAGSTER_HOME": str(home), "XCODER_DATA_DIR": str(tmp_path / "data")}
    env.pop("XCODER_DEBUG", None)
    done = subprocess.run(
        [BIN / "xcoder", "materialize", "--select", "seed_problems"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    parent = done.stdout.split("run ")[-1].split(":")[0]
    process, port = _start_webserver(env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        _wait_for_webserver(port, deadline)
        launched = graphql(url, REEXECUTE, {"parent": parent})["data"]["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status = None
        while time.monotonic() < deadline and status not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(1)
            status = graphql(
                url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id}
            )["data"]["runOrError"]["status"]
        assert status == "SUCCESS"
    finally:
        process.terminate()
        process.wait(timeout=30)
