"""The deployment: the instance config and the Helm values mean what they say; `make serve` brings up
Postgres, the code server, the webserver and the daemon, whose schedule and sensor really run; `make
stop` brings it all down. The serve tests are slow (marked `slow`): pytest -m slow xcoder_assets_tests/test_deploy.py
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import polars as pl
import pytest
import yaml

from xcoder_assets.defs.partitions import BATCH_ASSET_KEYS
from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.definitions import defs as project_defs
from xcoder_assets.store import warehouse
from xcoder_assets.store.tables import FEATURE_CONFIGS, VERIFIED_SOLUTIONS, batch_dir
from xcoder_assets_tests.batches import materialize
from xcoder_assets_tests.conftest import PROJECT_ROOT, free_port, graphql

DEPLOY = PROJECT_ROOT / "deploy"
VALUES = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
INSTANCE = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
SAMPLE = PROJECT_ROOT / "xcoder_assets_tests" / "data" / "lcb_code_generation_lite_sample.jsonl"


def _camel_to_snake(value):
    if isinstance(value, dict):
        return {
            re.sub(r"(?<!^)([A-Z])", r"_\1", k).lower() if k != "applyLimitPerUniqueValue" else k: _camel_to_snake(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_camel_to_snake(v) for v in value]
    return value


# ---- configuration that is only read ----------------------------------------------------------------


def test_instance_config_is_valid_dagster_config(monkeypatch, tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    for name in ["XCODER_PG_HOST", "XCODER_PG_USER", "XCODER_PG_PASSWORD", "XCODER_PG_DB"]:
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("XCODER_PG_PORT", "5432")
    monkeypatch.setenv("XCODER_SERVE_COMPUTE_LOGS", str(tmp_path))
    monkeypatch.setenv("XCODER_SERVE_ARTIFACTS", str(tmp_path))
    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")  # raises on any key Dagster does not know
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"  # the daemon dequeues under the limits


def test_helm_values_mean_what_they_say():
    from dagster._config import process_config
    from dagster._core.instance.config import get_concurrency_config

    version = PYPROJECT["project"]["version"]
    (location,) = VALUES["dagster-user-deployments"]["deployments"]
    image = location["image"]
    # one image, built by deploy/build-code-image.sh, for every Dagster process: nothing from Docker Hub
    for part in (VALUES["dagsterWebserver"], VALUES["dagsterDaemon"], location):
        assert part["image"]["repository"] == image["repository"] and part["image"]["tag"] == version
    assert "/" in image["repository"] and not image["repository"].startswith(("docker.io", "dagster/"))
    assert VALUES["postgresql"]["enabled"] is False  # the bundled database's image would come from Docker Hub
    script = subprocess.run(
        [
            "bash",
            "-c",
            f'awk \'/^ *repository: /{{r=$2}} /^ *tag: /{{if (r != "") '
            f"{{print r \":\" $2; exit}}}}' {DEPLOY / 'helm' / 'values.yaml'} | tr -d '\"'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert script == f"{image['repository']}:{version}"  # the build script's default image name
    # the code location is the one `dg` and workspace.yaml load
    assert location["dagsterApiGrpcArgs"] == ["-m", PYPROJECT["tool"]["dg"]["project"]["code_location_target_module"]]
    # every run in its own pod, with the location's data volume and LLM secret
    launcher = VALUES["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    env = {e["name"]: e.get("value") for e in location["env"]}
    mounts = {m["mountPath"] for m in k8s["volumeMounts"]}
    assert env["XCODER_DATA_DIR"] in mounts and env["XCODER_DATA_DIR"] in {
        m["mountPath"] for m in location["volumeMounts"]
    }
    assert {s["name"] for s in k8s["envSecrets"]} == {s["name"] for s in location["envSecrets"]}
    assert not any(k.endswith("API_KEY") for k in env)  # keys come from the secret only
    assert k8s["runK8sConfig"]["containerConfig"]["resources"]["requests"]["cpu"]
    # the same pools and run limits as the local instance, and valid Dagster concurrency config
    concurrency = _camel_to_snake(VALUES["concurrency"])
    assert concurrency["pools"] == INSTANCE["concurrency"]["pools"]
    assert concurrency["runs"]["tag_concurrency_limits"] == INSTANCE["concurrency"]["runs"]["tag_concurrency_limits"]
    assert process_config(get_concurrency_config().config_type, concurrency).success
    assert VALUES["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert VALUES["postgresql"]["postgresqlScheme"] == INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]


def test_scripts_parse_and_make_targets_call_them():
    for script in ["install-postgres.sh", "install-test-deps.sh", "build-code-image.sh"]:
        subprocess.run(["bash", "-n", str(DEPLOY / script)], check=True)
    dry = subprocess.run(
        ["make", "-n", "serve", "stop", "SERVE_DIR=/nonexistent/x", "SERVE_PORT=4321"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "deploy/serve.py start --dir /nonexistent/x --port 4321" in dry and "deploy/install-postgres.sh" in dry
    assert "deploy/serve.py stop --dir /nonexistent/x" in dry


# ---- a running deployment ------------------------------------------------------------------------------


def _postgres_or_skip():
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("initdb"):
        if os.environ.get("CI"):
            pytest.fail("postgresql missing in CI (make test-deps installs it)")
        pytest.skip("postgresql is not installed (deploy/install-postgres.sh)")


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    data = graphql(url, query, variables)
    assert "errors" not in data, data
    return data["data"]


def _wait(what: str, probe, timeout_s: float, every_s: float = 2.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def _prepare_pool(data: Path) -> None:
    """Seed problems to the evolved pool (3 rounds), in this process, into the deployment's data directory."""
    defs = project_defs()
    done = materialize(
        [*defs.assets, *defs.asset_checks],
        selection=["seed_problems", "features", "feature_tree", "evolved_pool"],
        resources={**defs.resources, "storage": StorageResource(data_dir=str(data))},
        run_config={"ops": {"evolved_pool": {"config": {"rounds": 3}}}},
    )
    assert done.success


class Deployment:
    """`deploy/serve.py` on a private folder inside the project (Debian's postgres user must reach it)
    and a free port; stopped and removed afterwards."""

    def __init__(self, module: str, extra_env: dict[str, str] | None = None):
        self.root = Path(tempfile.mkdtemp(prefix=".serve-test-", dir=PROJECT_ROOT))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.module = module
        self.env = {**os.environ, **(extra_env or {})}

    def serve(self, command: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                str(DEPLOY / "serve.py"),
                command,
                "--dir",
                str(self.root),
                "--port",
                str(self.port),
                "--module",
                self.module,
                "--data-dir",
                str(self.data),
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted((self.root / "logs").glob("*.log"))
        )

    def pids(self) -> dict[str, int]:
        return json.loads((self.root / "state.json").read_text())["pids"]

    def close(self) -> None:
        self.serve("stop", timeout_s=120)
        shutil.rmtree(self.root, ignore_errors=True)


REPO = {"repositoryLocationName": "xcoder_assets", "repositoryName": "__repository__"}

RUNS = """query Runs($filter: RunsFilter) { runsOrError(filter: $filter) { ... on Runs { results {
  runId status tags { key value } } } } }"""


def _runs(url: str, key: str, value: str) -> list[dict]:
    return _graphql(url, RUNS, {"filter": {"tags": [{"key": key, "value": value}]}})["runsOrError"]["results"]


def _run_messages(url: str, run_id: str) -> str:
    """A failed run's event messages: why it failed, for the assertion message."""
    events = _graphql(
        url,
        """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
        ... on MessageEvent { message } } } } }""",
        {"id": run_id},
    )["logsForRun"]["events"]
    return "\n".join(e.get("message") or "" for e in events)[-4000:]


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_serve_runs_the_schedule_and_the_sensor_against_postgres():
    """The daemon against Postgres: a schedule tick adds a batch and materializes the five batched assets
    for it while a UI launch runs another batch (both finish, each in its own folder, drawn apart, the
    shared caches intact); the sensor fires on a planted release; its next ticks, with nothing new,
    request nothing; stop ends every process."""
    _postgres_or_skip()
    release_dir = Path(tempfile.mkdtemp(prefix="lcb-release-"))
    deployment = Deployment("xcoder_assets_tests.ops_location", {"XCODER_LCB_RELEASE_DIR": str(release_dir)})
    _prepare_pool(deployment.data)  # the batches' one unpartitioned input
    try:
        started = deployment.serve("start")
        assert started.returncode == 0, started.stderr + deployment.logs()
        url = deployment.url
        assert "xcoder_assets" in json.dumps(
            _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
        )
        limits = _graphql(url, "{ instance { concurrencyLimits { concurrencyKey slotCount } } }")
        assert {(c["concurrencyKey"], c["slotCount"]) for c in limits["instance"]["concurrencyLimits"]} >= {
            ("llm", 2),
            ("sandbox", 1),
            ("gpu", 1),
        }
        for kind, name in [("Schedule", "nightly_batch"), ("Sensor", "lcb_release_sensor")]:
            field = kind[0].lower() + kind[1:]
            result = _graphql(
                url,
                f"mutation($s: {kind}Selector!) {{ start{kind}({field}Selector: $s) {{ __typename "
                "... on PythonError { message } } }",
                {"s": {**REPO, f"{field}Name": name}},
            )
            assert "Error" not in json.dumps(result), result
        # a UI launch of another batch at the same time as the schedule's
        _graphql(
            url,
            "mutation($r: RepositorySelector!) { addDynamicPartition(repositorySelector: $r, "
            'partitionsDefName: "generation_batches", partitionKey: "campaign-ui") { __typename } }',
            {"r": REPO},
        )
        launched = _graphql(
            url,
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
            ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            {
                "p": {
                    "selector": {
                        **REPO,
                        "jobName": "__ASSET_JOB",
                        "assetSelection": [{"path": [key]} for key in BATCH_ASSET_KEYS],
                    },
                    "runConfigData": {"ops": {"feature_configs": {"config": {"count": 12}}}},
                    "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "campaign-ui"}]},
                }
            },
        )
        assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched

        def finished(key: str, value: str):
            runs = _runs(url, key, value)
            failed = [r for r in runs if r["status"] in ("FAILURE", "CANCELED")]
            assert not failed, (_run_messages(url, failed[0]["runId"]) if failed else "", deployment.logs())
            return [r for r in runs if r["status"] == "SUCCESS"]

        scheduled = _wait("the schedule's run", lambda: finished("dagster/schedule_name", "nightly_batch"), 480)
        nightly = _tag(scheduled[0], "dagster/partition")
        assert nightly.startswith("nightly-")  # the tick's day (UTC)
        _wait("the UI's run", lambda: finished("dagster/partition", "campaign-ui"), 480)
        configs = {
            key: pl.read_parquet(FEATURE_CONFIGS.path(batch_dir(deployment.data, key)))
            for key in (nightly, "campaign-ui")
        }
        assert configs["campaign-ui"].height == 12 and configs[nightly].height == 48  # each run its own config
        assert configs["campaign-ui"]["seed"][0] != configs[nightly]["seed"][0]  # batches never share a seed
        assert not set(configs["campaign-ui"]["config_id"]) & set(configs[nightly]["config_id"])
        for key in (nightly, "campaign-ui"):  # every file of both batches whole, the shared caches readable
            verified = pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(deployment.data, key)))
            assert verified.filter(pl.col("status") == "verified").height > 0, key
        con = warehouse.connect(deployment.data)
        assert warehouse.cached_responses(deployment.data) > 0
        assert dict(con.execute("SELECT batch, count(*) FROM feature_configs GROUP BY batch").fetchall()) == {
            nightly: 48,
            "campaign-ui": 12,
        }

        assert not _runs(url, "dagster/sensor_name", "lcb_release_sensor")  # nothing planted yet
        shutil.copyfile(SAMPLE, release_dir / "test.jsonl")
        (run,) = _wait("the sensor's run", lambda: finished("dagster/sensor_name", "lcb_release_sensor"), 240)
        assert _tag(run, "xcoder/lcb_release") == "release_v1"
        assert (deployment.data / "lcb_problems.parquet").exists()
        ticks_query = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
            sensorState { ticks(limit: 20) { status skipReason timestamp } } } } }"""

        def ticks():
            return _graphql(url, ticks_query, {"s": {**REPO, "sensorName": "lcb_release_sensor"}})["sensorOrError"][
                "sensorState"
            ]["ticks"]

        fired = max(t["timestamp"] for t in ticks() if t["status"] == "SUCCESS")

        def later_ticks():
            done = [t for t in ticks() if t["timestamp"] > fired and t["status"] != "STARTED"]
            return done if len(done) >= 2 else None

        later = _wait("two more sensor ticks", later_ticks, 120)
        assert all(t["status"] == "SKIPPED" and "already seen" in t["skipReason"] for t in later), later
        assert len(_runs(url, "dagster/sensor_name", "lcb_release_sensor")) == 1
        # the schedule ticked every minute meanwhile: its batch had run, so no tick launched it again
        assert len(_runs(url, "dagster/schedule_name", "nightly_batch")) == 1
        pids = deployment.pids()
    finally:
        stopped = deployment.serve("stop", timeout_s=120)
        postgres_left = (deployment.root / "postgres" / "postmaster.pid").exists()
        shutil.rmtree(release_dir, ignore_errors=True)
        shutil.rmtree(deployment.root, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert not postgres_left


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_serve_twice_is_idempotent_and_stop_frees_the_port():
    _postgres_or_skip()
    deployment = Deployment("xcoder_assets.definitions")
    try:
        first = deployment.serve("start")
        assert first.returncode == 0, first.stderr + deployment.logs()
        again = deployment.serve("start")
        assert again.returncode == 0 and "already running" in again.stdout
        assert deployment.serve("status").returncode == 0
        names = {
            a["assetKey"]["path"][-1]
            for a in _graphql(deployment.url, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        }
        assert {"seed_problems", "verified_solutions", "lcb_problems"} <= names
        # the dagster CLI pointed at the deployment by `make serve-env`'s exports (issue 20 item 13)
        exports = deployment.serve("env")
        assert exports.returncode == 0 and "export XCODER_PG_PORT=" in exports.stdout, exports.stderr
        listed = subprocess.run(
            ["bash", "-c", f'{exports.stdout}\n"{Path(sys.executable).parent}/dagster" run list --limit 1'],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0 and "XCODER_PG_PORT" not in listed.stderr, listed.stderr[-2000:]
        assert deployment.serve("stop").returncode == 0
        assert deployment.serve("status").returncode == 1
        with pytest.raises(ConnectionRefusedError):  # nothing listens on the webserver's port any more
            socket.create_connection(("127.0.0.1", deployment.port), timeout=5).close()
        cleaned = deployment.serve("clean")  # what `make clean` runs: the folder and its Postgres cluster go
        assert cleaned.returncode == 0 and not deployment.root.exists(), cleaned.stdout + cleaned.stderr
    finally:
        deployment.close()


def test_a_port_left_in_time_wait_is_free_for_the_next_server():
    """`make serve` right after `make ui` (issue 20 item 13): the UI's closed connections in TIME_WAIT
    do not make the port look taken."""
    sys.path.insert(0, str(DEPLOY))
    try:
        from serve import port_free
    finally:
        sys.path.remove(str(DEPLOY))
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not port_free(port)  # listening: taken
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    assert port_free(port)


# ---- runs in containers of their own (--runs docker); the running deployment: test_deploy_docker.py ------------


def _serve_module():
    sys.path.insert(0, str(DEPLOY))
    try:
        import serve
    finally:
        sys.path.remove(str(DEPLOY))
    return serve


def test_the_docker_instance_launches_each_run_in_a_container_with_the_shared_volume(monkeypatch, tmp_path):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_docker import DockerRunLauncher

    serve = _serve_module()
    layout = serve.Layout(tmp_path / "serve")
    state = {"runs": "docker", "image": "xcoder-assets-code:abc", "data_dir": str(tmp_path / "data"), "run_user": "7:7"}
    env = {
        "XCODER_PG_HOST": "127.0.0.1",
        "XCODER_PG_PORT": "5432",
        "XCODER_PG_USER": "dagster",
        "XCODER_PG_PASSWORD": "s3cret-value",
        "XCODER_PG_DB": "dagster",
        "XCODER_SERVE_COMPUTE_LOGS": str(tmp_path),
        "XCODER_SERVE_ARTIFACTS": str(tmp_path),
        "XCODER_DATA_DIR": str(tmp_path / "data"),
        "XCODER_API_KEY_SOLVE": "sk-secret-key",
        "XCODER_MODEL": "",  # unset in effect: not passed (the launcher refuses names without a value)
        "UNRELATED": "x",
    }
    text = serve.instance_yaml(layout, state, env)
    assert "s3cret-value" not in text and "sk-secret-key" not in text  # names only, values from the daemon's env
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config, _ = dagster_instance_config(str(home), "dagster.yaml")  # raises on anything Dagster does not know
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("xcoder_docker_launcher", "SandboxDockerRunLauncher")
    sys.path.insert(0, str(DEPLOY))  # where serve.py's daemon and webserver find it (PYTHONPATH)
    try:
        from xcoder_docker_launcher import SandboxDockerRunLauncher
    finally:
        sys.path.remove(str(DEPLOY))
    assert issubclass(SandboxDockerRunLauncher, DockerRunLauncher)
    settings = launcher["config"]
    assert process_config(SandboxDockerRunLauncher.config_type(), settings).success  # the launcher's own schema
    assert settings["image"] == "xcoder-assets-code:abc"
    assert "XCODER_PG_PASSWORD" in settings["env_vars"] and "XCODER_API_KEY_SOLVE" in settings["env_vars"]
    assert "XCODER_MODEL" not in settings["env_vars"] and "UNRELATED" not in settings["env_vars"]
    kwargs = settings["container_kwargs"]
    assert kwargs["volumes"][str(tmp_path / "data")] == {"bind": str(tmp_path / "data"), "mode": "rw"}
    assert kwargs["network_mode"] == "host" and kwargs["user"] == "7:7"
    assert "seccomp=unconfined" in kwargs["security_opt"] and "privileged" not in kwargs and "cap_add" not in kwargs
    assert config["run_monitoring"]["enabled"] is True
    # the rest is deploy/dagster.yaml's: the same storage, queue and limits as `make serve`
    for key in ("storage", "run_coordinator", "concurrency"):
        assert config[key] == INSTANCE[key], key
    assert serve.instance_yaml(layout, {**state, "runs": "local"}, env) == (DEPLOY / "dagster.yaml").read_text()


def test_the_code_image_is_named_after_what_it_installs():
    serve = _serve_module()
    name = serve.image_name()
    assert name.startswith("xcoder-assets-code:") and len(name.split(":")[1]) == 12
    assert serve.image_name() == name  # stable for the same content
    made = subprocess.run(
        ["make", "-n", "serve", "RUNS=docker", "SERVE_DIR=/nonexistent/x", "SERVE_PORT=4321"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "deploy/serve.py image-name" in made and "deploy/build-code-image.sh" in made
    assert "deploy/serve.py start --dir /nonexistent/x --port 4321 --runs docker" in made


def test_the_webserver_serves_other_machines_only_behind_an_authenticating_proxy(tmp_path):
    refused = subprocess.run(
        [sys.executable, str(DEPLOY / "serve.py"), "start", "--dir", str(tmp_path / "s"), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "--behind-auth-proxy" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1 and not (tmp_path / "s").exists()  # one line, nothing started
    serve = _serve_module()
    assert serve.is_loopback("127.0.0.1") and serve.is_loopback("::1") and serve.is_loopback("localhost")
    assert not serve.is_loopback("0.0.0.0") and not serve.is_loopback("10.0.0.5")


def test_helm_run_pods_can_sandbox_without_privileges():
    from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict
    from kubernetes import client

    k8s = VALUES["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    pod, container = k8s["podSpecConfig"], k8s["containerConfig"]
    # what the launcher builds the run pod from: every key a field of Kubernetes' own models
    spec = k8s_model_from_dict(client.V1PodSpec, k8s_snake_case_dict(client.V1PodSpec, {**pod, "containers": []}))
    made = k8s_model_from_dict(client.V1Container, k8s_snake_case_dict(client.V1Container, {**container, "name": "r"}))
    assert spec.host_users is False and spec.security_context.run_as_user == 10001
    assert made.security_context.proc_mount == "Unmasked"
    # one node for every run pod (the SQLite caches), found by the label dagster-k8s gives run pods
    (term,) = spec.affinity.pod_affinity.required_during_scheduling_ignored_during_execution
    assert term.label_selector.match_labels == {"app.kubernetes.io/component": "run_worker"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "Unconfined"}
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["procMount"] == "Unmasked" and pod["hostUsers"] is False
    assert "privileged" not in container["securityContext"]
    location_env = {e["name"]: e.get("value") for e in VALUES["dagster-user-deployments"]["deployments"][0]["env"]}
    assert location_env["XCODER_SANDBOX"] == "bwrap"
    assert VALUES["dagsterDaemon"]["runMonitoring"]["enabled"] is True


def test_the_launcher_unmasks_proc_in_the_request_that_creates_a_run_container():
    """docker-py has no argument for Docker's /proc masks: the launcher empties them in the create request."""
    from unittest import mock

    sys.path.insert(0, str(DEPLOY))
    try:
        from xcoder_docker_launcher import SandboxDockerRunLauncher
    finally:
        sys.path.remove(str(DEPLOY))
    sent = []
    client = mock.MagicMock()
    client.api.create_container_from_config = lambda config, name=None, platform=None: sent.append(config)
    with mock.patch("dagster_docker.docker_run_launcher.docker.client.from_env", return_value=client):
        wrapped = SandboxDockerRunLauncher(image="x")._get_client(mock.MagicMock(registry=None))
    wrapped.api.create_container_from_config({"Image": "x", "HostConfig": {"NetworkMode": "host"}}, "run")
    assert sent == [{"Image": "x", "HostConfig": {"NetworkMode": "host", "MaskedPaths": [], "ReadonlyPaths": []}}]
