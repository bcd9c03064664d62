"""Two cache writers in separate containers of the code image, on one Postgres (issue 22's acceptance
point): no row lost, no request sent twice, no sandbox run run twice.

A private Postgres cluster (postgres_cluster.py: a temp folder, a free loopback port, a generated password)
and the fake OpenAI-compatible server (counts the requests it answers) run on this machine; two containers
of the code image run as the deployment's run containers do (deploy/serve.py's docker_launcher: the host's
network, so both reach 127.0.0.1 only; its unprivileged run user; seccomp, AppArmor and the /proc masks
lifted so bubblewrap works inside; an init process), each with the same XCODER_CACHE_URL. The writer is
container_cache_writer.py, mounted read-only (the image holds only the package). They start together (a go
file in a shared folder) and race on the same work, as test_shared_caches.py races two OS processes:
  - the same 40 requests (0.3 s latency, so they overlap for seconds): the server answers each once, both
    writers get all 40 answers, the cache holds 40, the usage log 80 rows (40 sent, 40 hits);
  - the same 8 programs on 4 inputs through run_matrix in bubblewrap: 32 runs executed in all, 32 cached.

Marked `slow` and `image` (make test-image), skipped without a Docker daemon or PostgreSQL. The image is the
checkout's (`deploy/serve.py image-name`, built when missing, as test_deploy_docker.py does), or the one
XCODER_TEST_CODE_IMAGE names (an image built earlier: then the containers run that image's code):
    pytest -m image -s xcoder_assets_tests/test_deploy_docker_caches.py      (-s prints the figures)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.sandbox.backends import Limits
from xcoder_assets.sandbox.runs import Program, RunCache, run_key
from xcoder_assets.simulator import fake_server
from xcoder_assets.store import warehouse
from xcoder_assets.store.sqlstore import count_responses
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.postgres_cluster import fresh_database, postgres_cluster
from xcoder_assets_tests.test_deploy_docker import _code_image, _docker_or_skip, serve_module

pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.timeout(1800)]

WRITERS = ("writer-a", "writer-b")
WORKER = PROJECT_ROOT / "xcoder_assets_tests" / "container_cache_writer.py"
IN_CONTAINER = "/xcoder-test/container_cache_writer.py"
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module")
def image() -> str:
    _docker_or_skip()
    named = os.environ.get("XCODER_TEST_CODE_IMAGE", "").strip()
    if named:
        if subprocess.run(["docker", "image", "inspect", named], capture_output=True).returncode != 0:
            pytest.fail(f"XCODER_TEST_CODE_IMAGE={named!r}: no such image (docker images)")
        FIGURES["image"] = f"{named} (XCODER_TEST_CODE_IMAGE)"
        return named
    built = _code_image()
    FIGURES["image"] = built
    return built


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as url:
        yield url
    print("\nfigures:", json.dumps(FIGURES, indent=2))


@pytest.fixture
def shared():
    """The folder the writers share with the test (params, ready/go files, reports), writable by the run user."""
    folder = Path(tempfile.mkdtemp(prefix="xcoder-cache-race-"))
    uid, gid = (int(part) for part in serve_module.run_user().split(":"))
    os.chown(folder, uid, gid)  # as root: the containers' unprivileged user; else this user already
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def race(image: str, kind: str, url: str, shared: Path, params: dict) -> list[dict]:
    """Both writers in their own containers, started together; their reports (their failures shown in full)."""
    (shared / "params.json").write_text(json.dumps(params))
    env = {**os.environ, "XCODER_CACHE_URL": url}
    names = []
    for writer in WRITERS:
        name = f"xcoder-cache-race-{writer}-{os.getpid()}-{time.time_ns()}"
        args = ["docker", "run", "-d", "--name", name, "--network", "host", "--init", "--user", serve_module.run_user()]
        for option in [*serve_module.SANDBOX_SECURITY_OPT, "systempaths=unconfined"]:  # as the run containers
            args += ["--security-opt", option]
        args += ["-e", "XCODER_CACHE_URL", "-e", "HOME=/tmp", "-e", "LITELLM_LOCAL_MODEL_COST_MAP=True"]
        args += ["-v", f"{WORKER}:{IN_CONTAINER}:ro", "-v", f"{shared}:{shared}"]
        args += [image, "python", IN_CONTAINER, kind, str(shared), writer]
        started = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)  # the URL by name only
        assert started.returncode == 0, started.stderr
        names.append(name)
    try:
        deadline = time.monotonic() + 300
        while not all((shared / f"{w}.ready").exists() for w in WRITERS):
            for writer, name in zip(WRITERS, names):
                state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name], capture_output=True)
                ready = (shared / f"{writer}.ready").exists()
                assert ready or state.stdout.strip() == b"true", f"{name} ended before it was ready:\n{_logs(name)}"
            assert time.monotonic() < deadline, "the writers were not ready in 300 s"
            time.sleep(0.2)
        (shared / "go").write_text("")
        started_at = time.monotonic()
        codes = [
            subprocess.run(["docker", "wait", name], capture_output=True, text=True, timeout=600).stdout.strip()
            for name in names
        ]
        FIGURES[f"{kind}_race_s"] = round(time.monotonic() - started_at, 1)
        assert codes == ["0", "0"], "\n".join(f"{n}: exit {c}\n{_logs(n)}" for n, c in zip(names, codes))
        inspected = [json.loads(subprocess.run(["docker", "inspect", n], capture_output=True).stdout)[0] for n in names]
        assert len({i["Id"] for i in inspected}) == 2 and all(
            i["HostConfig"]["NetworkMode"] == "host" for i in inspected
        )
        return [json.loads((shared / f"{w}.json").read_text()) for w in WRITERS]
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)


def _logs(name: str) -> str:
    shown = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60)
    return (shown.stdout + shown.stderr)[-4000:]


def _stats(url: str) -> dict:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
        return json.loads(response.read())


def test_two_llm_writers_in_containers_send_each_request_once_and_lose_no_row(image, cluster, shared, monkeypatch):
    url = fresh_database(cluster, f"c{time.time_ns()}")
    n = 40
    prompts = [f"container race {time.time_ns()} prompt {i}" for i in range(n)]
    with fake_server.running(latency_s=0.3) as server:  # slow answers: the writers overlap for seconds
        reports = race(image, "llm", url, shared, {"server_url": server, "prompts": prompts})
        served = _stats(server)
    FIGURES["llm"] = {r["name"]: {k: r[k] for k in ("sent", "hits", "ok", "owner")} for r in reports}
    assert len({r["owner"] for r in reports}) == len(WRITERS)
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)  # they really ran at once
    assert served["requests"] == n and served["distinct_prompts"] == n  # each request reached the server once
    assert all(r["ok"] == n and not r["errors"] for r in reports), [r["errors"] for r in reports]
    assert sum(r["sent"] for r in reports) == n and sum(r["hits"] for r in reports) == n * (len(WRITERS) - 1)
    assert reports[0]["contents"] == reports[1]["contents"]  # the waiting writer got the sender's answers
    monkeypatch.setenv("XCODER_CACHE_URL", url)  # the readers below read the writers' database
    assert count_responses(url) == n
    data_dir = shared / "data"  # empty: with XCODER_CACHE_URL the usage log is read from Postgres
    data_dir.mkdir()
    log = warehouse.read_usage_log(data_dir)
    assert log.height == n * len(WRITERS) and log["cache_hit"].sum() == n
    assert set(log["run_id"]) == {f"container-{w}" for w in WRITERS}
    cache = ResponseCache(url)
    try:
        assert cache.cached_keys(log["cache_key"].to_list()) == set(log["cache_key"])  # every logged key answered
        assert cache.totals()["llm_calls"] == n and cache.totals()["cache_hits"] == n
    finally:
        cache.close()


def test_two_sandbox_writers_in_containers_run_each_pair_once(image, cluster, shared, monkeypatch):
    url = fresh_database(cluster, f"s{time.time_ns()}")
    programs = [f"import time\ntime.sleep(0.05)\nprint(int(input()) * {k})\n" for k in range(1, 9)]
    inputs = ["1\n", "2\n", "3\n", "4\n"]
    reports = race(image, "runs", url, shared, {"programs": programs, "inputs": inputs})
    pairs = len(programs) * len(inputs)
    FIGURES["runs"] = {r["name"]: {k: r[k] for k in ("executed", "cached")} for r in reports}
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)
    assert sum(r["executed"] for r in reports) == pairs  # every pair run once, in one of the two containers
    assert sum(r["cached"] for r in reports) == pairs * (len(WRITERS) - 1)
    expected = [[f"{int(i) * k}\n" for i in inputs] for k in range(1, 9)]
    assert all(r["stdout"] == expected for r in reports)
    monkeypatch.setenv("XCODER_CACHE_URL", url)
    cache = RunCache.at(shared / "data")
    try:
        keys = [run_key(Program(p), i, Limits(), "strict") for p in programs for i in inputs]
        assert len(cache.get_many(keys)) == pairs
    finally:
        cache.close()
