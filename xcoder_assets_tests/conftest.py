import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Tests must never reach a configured real model: drop the user's model settings.
for _name in [n for n in os.environ if n.startswith("XCODER_MODEL") or n.startswith("XCODER_API")]:
    del os.environ[_name]

import xcoder_assets  # noqa: E402,F401
from xcoder_assets.simulator.provider import register_offline_provider  # noqa: E402

# Whoever builds a gateway registers the offline simulator with litellm (the gateway knows nothing of it):
# the resources, score_model and `xcoder eval` do; tests that build gateways by hand get it here.
register_offline_provider()

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    """POST a query to a webserver's /graphql; the whole JSON answer (its "data", maybe its "errors")."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:  # GraphQL errors come as 400 with the reason in the body
        raise AssertionError(f"{query[:80]}: HTTP {exc.code}: {exc.read()[:2000]!r}") from None
    with response:
        return json.loads(response.read())


def start_server(args: list[str], pattern: str, timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return process, match.group(1)
    process.kill()
    raise RuntimeError(f"{args} did not start:\n{''.join(seen)[-3000:]}")


@pytest.fixture(scope="session")
def fake_llm_url():
    """A local OpenAI-compatible server (real HTTP on 127.0.0.1) with scripted failures."""
    process, url = start_server(
        [sys.executable, "-m", "xcoder_assets.simulator.fake_server", "--port", "0", "--hang", "30"],
        r"listening on (http://\S+)",
    )
    yield url
    process.kill()
    process.wait()


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


def _backend_or_skip(name: str):
    from xcoder_assets.sandbox.backends import SandboxUnavailable, make_backend

    try:
        return make_backend(name)
    except SandboxUnavailable as exc:
        if os.environ.get("CI"):  # CI installs both real backends: missing one is a failure there
            pytest.fail(f"sandbox backend {name} unavailable in CI: {exc}")
        pytest.skip(f"sandbox backend {name} unavailable: {exc}")


@pytest.fixture(scope="session")
def bwrap_backend():
    backend = _backend_or_skip("bwrap")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def docker_backend():
    backend = _backend_or_skip("docker")
    yield backend
    backend.close()


@pytest.fixture(params=["bwrap", "docker"])
def fresh_backend(request):
    """Each real backend in turn, a backend of the test's own: its programs share its warm sandboxes
    (one per worker), and no other test's programs ran there."""
    from xcoder_assets.sandbox.backends import make_backend

    request.getfixturevalue(f"{request.param}_backend")  # skips (or fails in CI) where unavailable
    backend = make_backend(request.param)
    yield backend
    backend.close()


@pytest.fixture(params=["bwrap", "docker"])
def sandbox(request):
    """Each real backend in turn."""
    return request.getfixturevalue(f"{request.param}_backend")


def _demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one build for the whole run: pytest-xdist's workers share the parent of their base temp folders
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    return shared / "demo"


_DEMO_BUILD = {}  # this process's background build of the demo (demo.DemoBuild), started after collection


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """The demo's data and its two `xcoder materialize` runs, once per test run (xcoder_assets_tests/demo.py).
    Read only: a test that writes copies it (`demo_data.copy(tmp_path / "data")`)."""
    from xcoder_assets_tests.demo import materialize_demo

    if "build" in _DEMO_BUILD:
        _DEMO_BUILD["build"].join()  # raises the build's own error, once per test that asks
    demo = materialize_demo(_demo_root(tmp_path_factory))
    yield demo
    demo.instance.dispose()


class _DemoAhead:
    """The demo's readers run last, and the demo builds in the background from the start: the other tests
    run while it builds (its two materializations took 90 s on a quiet machine, a worker idle meanwhile)."""

    @pytest.hookimpl(trylast=True)  # after -m and -k have deselected: only the tests that will run count
    def pytest_collection_modifyitems(self, config, items):
        readers = [item for item in items if "demo_data" in getattr(item, "fixturenames", ())]
        if not readers or config.option.collectonly:
            return
        others = [item for item in items if "demo_data" not in getattr(item, "fixturenames", ())]
        items[:] = others + readers  # stable: each module's readers keep their order
        from xcoder_assets_tests.demo import DemoBuild

        # pytest's own TempPathFactory (what the tmp_path_factory fixture returns), before any fixture runs
        _DEMO_BUILD["build"] = DemoBuild(_demo_root(config._tmp_path_factory))

    def pytest_sessionfinish(self):
        if "build" in _DEMO_BUILD:
            _DEMO_BUILD.pop("build").stop()


def pytest_configure(config):
    config.pluginmanager.register(_DemoAhead(), "xcoder-demo-ahead")


SANDBOX_TESTS = PROJECT_ROOT / "xcoder_assets_tests" / "sandbox"


def pytest_collection_modifyitems(items):
    # The judge's own tests hold wall-time limits (a program's verdict within its time limit): make test runs
    # them alone, after the rest has run on every core (the `serial` marker).
    for item in items:
        if SANDBOX_TESTS in Path(item.path).parents:
            item.add_marker(pytest.mark.serial)
    # The first test to ask for the session's demo waits for its two materializations (minutes on a
    # loaded 2-core machine), whichever module it is in: those tests get the demo's time limit.
    for item in items:
        if "demo_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(1200))
