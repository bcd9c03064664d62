"""Every run in a container of its own (`make serve RUNS=docker`, deploy/serve.py --runs docker): four
batches launched at once through the UI's GraphQL each run in their own container of the code image
(deploy/build-code-image.sh) and write what a sequential run writes; a run container killed mid-run and
launched again resumes from the caches on the shared data volume without re-sending an LLM request; nothing
of the deployment listens beyond loopback and Postgres wants its password, from containers too.

The LLM is the fake OpenAI server (real HTTP on 127.0.0.1, which the containers share with the host),
so the requests it answered can be counted. Slow (marked `slow`), and skipped when no Docker daemon runs:
    pytest -m slow -s xcoder_assets_tests/test_deploy_docker.py      (-s prints the measured figures)
The code image is built once per content (its tag is `deploy/serve.py image-name`), so a second session
on the same checkout reuses it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest

from xcoder_assets.defs.partitions import BATCH_ASSET_KEYS
from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.definitions import defs as project_defs
from xcoder_assets.store.tables import ALL_TABLES, batch_dir
from xcoder_assets.simulator import fake_server
from xcoder_assets_tests.batches import materialize
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.test_deploy import (
    REPO,
    Deployment,
    _graphql,
    _postgres_or_skip,
    _prepare_pool,
    _run_messages,
    _wait,
)

DEPLOY = PROJECT_ROOT / "deploy"
sys.path.insert(0, str(DEPLOY))
try:
    import serve as serve_module
finally:
    sys.path.remove(str(DEPLOY))

# the first test also waits for the module's setup: a first build of the image (minutes on 2 cores) and
# the sequential baseline
# `image`: builds the code image (about 12 minutes from nothing), so not part of CI's slow run: `make test-image`
pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.timeout(2400)]

PARALLEL = ["docker-a", "docker-b", "docker-c", "docker-d"]
KILLED = "docker-kill"
# Small batches (2 cores): a few configurations, a few candidates each.
RUN_CONFIG = {
    "ops": {
        "feature_configs": {"config": {"count": 6}},
        "candidate_solutions": {"config": {"candidates_per_problem": 4}},
    }
}
# Columns that differ between two runs of the same batch by nature: the run, and what the sandbox measured.
VOLATILE = {"run_id", "max_time_s", "max_memory_kb"}
FIGURES: dict[str, float | int | str] = {}


def _docker_or_skip() -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker command is not installed (bash scripts/install-system-deps.sh)")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker daemon answers (bash scripts/ensure-dockerd.sh)")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed: the code image cannot be built (scripts/install-system-deps.sh)")


def _code_image() -> str:
    """The code image of this checkout, built by the project's script when its content-named tag is missing."""
    image = serve_module.image_name()
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
        FIGURES["image_build_s"] = "reused (built earlier for the same content)"
        return image
    if os.geteuid() != 0:
        pytest.skip(f"{image} is not built and building it needs root (debootstrap, chroot): make code-image as root")
    started = time.monotonic()
    built = subprocess.run(
        ["bash", str(DEPLOY / "build-code-image.sh"), image], capture_output=True, text=True, timeout=1500
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-4000:]
    FIGURES["image_build_s"] = round(time.monotonic() - started, 1)
    return image


def _stats(url: str) -> dict:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
        return json.loads(response.read())


def _answered(url: str) -> int:
    """Requests the fake server answered since it started (differences count a stretch)."""
    return int(_stats(url)["requests"])


def _llm_env(url: str) -> dict[str, str]:
    # a model the fake server simulates, reached over real HTTP; the key is a placeholder the server ignores
    return {"XCODER_MODEL": "openai/synthsmith-sim-1", "XCODER_API_BASE": url, "XCODER_API_KEY": "sk-fake-for-tests"}


def _tables(data: Path, batch: str) -> dict[str, pl.DataFrame]:
    frames = {}
    for key in BATCH_ASSET_KEYS:
        frame = pl.read_parquet(ALL_TABLES[key].path(batch_dir(data, batch)))
        frames[key] = frame.drop([c for c in frame.columns if c in VOLATILE]).sort(frame.columns[0])
    return frames


def _assert_same_data(docker_data: Path, baseline: Path, batch: str) -> None:
    ours, theirs = _tables(docker_data, batch), _tables(baseline, batch)
    for key in BATCH_ASSET_KEYS:
        assert ours[key].height > 0, (batch, key)
        assert ours[key].equals(theirs[key]), (batch, key, ours[key].head(3), theirs[key].head(3))


@pytest.fixture(scope="module")
def setup():
    """The code image, the fake LLM server, the evolved pool, the sequential baseline (in this process,
    one batch after another, into a folder of its own) and the container deployment on a copy of the pool."""
    _docker_or_skip()
    _postgres_or_skip()
    image = _code_image()
    with fake_server.running(latency_s=0.02) as url, pytest.MonkeyPatch.context() as patch:
        for name, value in _llm_env(url).items():
            patch.setenv(name, value)
        patch.setenv("XCODER_SANDBOX", "bwrap")
        deployment = Deployment(
            "xcoder_assets.definitions", {**_llm_env(url), "XCODER_SANDBOX": "bwrap", "RUNS": "docker"}
        )
        baseline = Path(tempfile.mkdtemp(prefix=".docker-baseline-", dir=PROJECT_ROOT))
        try:
            _prepare_pool(baseline)  # unpartitioned: offline, before any batch
            shutil.copytree(baseline, deployment.data)
            defs = project_defs()
            assets = [*defs.assets, *defs.asset_checks]
            requests: dict[str, int] = {}
            started = time.monotonic()
            for batch in [*PARALLEL, KILLED]:
                if batch == KILLED:
                    FIGURES["sequential_4_batches_in_process_s"] = round(time.monotonic() - started, 1)
                before = _answered(url)
                done = materialize(
                    assets,
                    selection=list(BATCH_ASSET_KEYS),
                    resources={**defs.resources, "storage": StorageResource(data_dir=str(baseline))},
                    run_config=RUN_CONFIG,
                    batch=batch,
                )
                assert done.success, batch
                requests[batch] = _answered(url) - before
            FIGURES["llm_requests_per_batch"] = json.dumps(requests)
            started = deployment.serve("start", timeout_s=600)
            assert started.returncode == 0, started.stdout + started.stderr + deployment.logs()
            yield {"url": url, "deployment": deployment, "baseline": baseline, "requests": requests, "image": image}
        finally:
            deployment.close()
            shutil.rmtree(baseline, ignore_errors=True)
            print("\nfigures:", json.dumps(FIGURES, indent=2))


def _launch(url: str, batch: str) -> str:
    _graphql(
        url,
        "mutation($r: RepositorySelector!, $k: String!) { addDynamicPartition(repositorySelector: $r, "
        'partitionsDefName: "generation_batches", partitionKey: $k) { __typename } }',
        {"r": REPO, "k": batch},
    )
    launched = _graphql(
        url,
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
        ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
        ... on RunConfigValidationInvalid { errors { message } } } }""",
        {
            "p": {
                "selector": {
                    **REPO,
                    "jobName": "__ASSET_JOB",
                    "assetSelection": [{"path": [key]} for key in BATCH_ASSET_KEYS],
                },
                "runConfigData": RUN_CONFIG,
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": batch}]},
            }
        },
    )
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    return launched["launchRun"]["run"]["runId"]


RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"""


def _run(url: str, run_id: str) -> dict:
    return _graphql(url, RUN, {"id": run_id})["runOrError"]


def _container(run: dict) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == "docker/container_id"), None)


def _materialized(url: str, run_id: str) -> set[str]:
    events = _graphql(
        url,
        """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
        __typename ... on MaterializationEvent { assetKey { path } } } } } }""",
        {"id": run_id},
    )["logsForRun"]["events"]
    return {e["assetKey"]["path"][-1] for e in events if e["__typename"] == "MaterializationEvent"}


def _finished(deployment: Deployment, run_id: str, want: str = "SUCCESS") -> dict | None:
    run = _run(deployment.url, run_id)
    if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
        assert run["status"] == want, (run["status"], _run_messages(deployment.url, run_id), deployment.logs())
        return run
    return None


def test_four_batches_at_once_each_in_its_own_container_equal_a_sequential_run(setup):
    deployment, url = setup["deployment"], setup["url"]
    before = _answered(url)
    started = time.monotonic()
    run_ids = {batch: _launch(deployment.url, batch) for batch in PARALLEL}
    runs = {
        batch: _wait(f"run of {batch}", lambda r=run_id: _finished(deployment, r), 600, every_s=1)
        for batch, run_id in run_ids.items()
    }
    FIGURES["parallel_4_batches_in_containers_s"] = round(time.monotonic() - started, 1)
    containers = {batch: _container(run) for batch, run in runs.items()}
    assert all(containers.values()) and len(set(containers.values())) == 4, containers  # one container each
    for container in containers.values():  # the run is recorded a moment before its process has exited
        subprocess.run(["docker", "wait", container], capture_output=True, timeout=120)
    for batch, container in containers.items():
        inspected = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True).stdout)[0]
        assert inspected["Config"]["Image"] == setup["image"], inspected["Config"]["Image"]
        assert inspected["Config"]["Labels"]["dagster/run_id"] == run_ids[batch]
        assert inspected["HostConfig"]["NetworkMode"] == "host"
        assert inspected["State"]["ExitCode"] == 0
    # they overlapped: each started before another one finished
    spans = [
        (json.loads(subprocess.run(["docker", "inspect", c], capture_output=True).stdout)[0]["State"])
        for c in containers.values()
    ]
    assert max(s["StartedAt"] for s in spans) < min(s["FinishedAt"] for s in spans), spans
    for batch in PARALLEL:
        _assert_same_data(deployment.data, setup["baseline"], batch)
    # the sandbox ran inside the containers (bubblewrap there): verified solutions were judged
    for batch in PARALLEL:
        verified = pl.read_parquet(ALL_TABLES["verified_solutions"].path(batch_dir(deployment.data, batch)))
        assert verified.filter(pl.col("status") == "verified").height > 0, batch
    # and every answer came over HTTP from the fake server into the shared cache: as many as sequentially
    assert _answered(url) - before == sum(setup["requests"][b] for b in PARALLEL)


def test_a_killed_run_container_relaunched_loses_nothing_and_resends_nothing(setup):
    deployment, url = setup["deployment"], setup["url"]
    base = _answered(url)
    first = _launch(deployment.url, KILLED)
    # mid-run: the first two assets are written, the LLM stages after them are under way
    _wait(
        "the first assets of the run",
        lambda: {"feature_configs", "problems"} <= _materialized(deployment.url, first),
        300,
        every_s=0.5,
    )
    in_flight = int(_stats(url)["in_flight"])
    container = _container(_run(deployment.url, first))
    killed = subprocess.run(["docker", "kill", container], capture_output=True, text=True)
    assert killed.returncode == 0, killed.stderr
    # the daemon's run monitoring sees the dead container and fails the run
    _wait("the killed run to be marked failed", lambda: _finished(deployment, first, want="FAILURE"), 120, every_s=1)
    before_relaunch = _answered(url) - base
    assert before_relaunch > 0  # it had sent requests before it died
    second = _launch(deployment.url, KILLED)
    _wait("the relaunched run", lambda: _finished(deployment, second), 600, every_s=1)
    total = _answered(url) - base
    clean = setup["requests"][KILLED]
    FIGURES["killed_run_requests"] = json.dumps(
        {
            "before_kill": before_relaunch,
            "relaunch": total - before_relaunch,
            "uninterrupted": clean,
            "in_flight_at_kill": in_flight,
        }
    )
    # nothing re-sent: the relaunch asked only what the killed run had not got an answer for (at most the
    # requests in flight at the kill, whose answers never reached the container)
    assert total - clean <= in_flight, (total, clean, in_flight)
    assert total - before_relaunch < clean  # it resumed rather than starting over
    _assert_same_data(deployment.data, setup["baseline"], KILLED)  # nothing lost


def _listening(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state that one of the processes holds."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                address, port = fields[1].split(":")
                found.append((address[:width], int(port, 16)))
    return found


def _tree(roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(parts[1]), []).append(int(stat.parent.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


# 127.0.0.1, ::1 and ::ffff:127.0.0.1 (gRPC's IPv6 socket for 127.0.0.1) as /proc/net/tcp{,6} write them
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def test_nothing_listens_beyond_loopback_and_postgres_wants_its_password(setup):
    import psycopg2

    deployment = setup["deployment"]
    state = json.loads((deployment.root / "state.json").read_text())
    postmaster = int((serve_module.Layout(deployment.root).pgdata / "postmaster.pid").read_text().split()[0])
    grpc = json.loads(subprocess.run(["docker", "inspect", state["containers"]["grpc"]], capture_output=True).stdout)
    roots = {*state["pids"].values(), postmaster, grpc[0]["State"]["Pid"]}
    sockets = _listening(_tree(roots))
    ports = {port for _, port in sockets}
    assert {state["port"], state["pg_port"], state["grpc_port"]} <= ports, sockets
    assert all(address in LOOPBACK for address, _ in sockets), sockets
    # Postgres: no connection without the password, none with a wrong one; the runs used the right one
    for password in (None, "wrong"):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(
                host="127.0.0.1", port=state["pg_port"], user="dagster", dbname="dagster", password=password
            ).close()
    probe = (
        "import psycopg2, sys\ntry:\n    psycopg2.connect(host='127.0.0.1', port=int(sys.argv[1]), user='dagster', "
        "dbname='dagster', connect_timeout=10).close()\nexcept psycopg2.OperationalError as e:\n    print('refused:', e)"
    )
    from_container = subprocess.run(
        ["docker", "run", "--rm", "--network", "host", setup["image"], "python", "-c", probe, str(state["pg_port"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "refused:" in from_container.stdout and "password" in from_container.stdout, from_container
    # a webserver for other machines only behind an authenticating proxy
    refused = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "serve.py"),
            "start",
            "--dir",
            str(deployment.root / "other"),
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "--behind-auth-proxy" in refused.stderr, refused.stderr
    assert not (deployment.root / "other").exists()


def test_the_image_runs_the_installed_package_not_a_source_copy(setup):
    probe = (
        "import os, xcoder_assets; print(xcoder_assets.__file__); print(os.getcwd()); "
        "print(sorted(os.listdir('/opt/xcoder')))"
    )
    shown = subprocess.run(
        ["docker", "run", "--rm", setup["image"], "python", "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    where, cwd, listing = shown.stdout.splitlines()
    assert where.startswith("/opt/xcoder/.venv/lib/") and "site-packages/xcoder_assets/" in where, where
    assert cwd == "/opt/xcoder" and listing == "['.venv']", (cwd, listing)
