"""The demo's data, materialized once per test run and shared read-only (issue 24 item 7).

`xcoder materialize` (a subprocess, as a user runs it) materializes the SynthSmith chain twice into one
data directory and one DAGSTER_HOME: the first run makes every LLM call and sandbox run, the second
proves they all come from the caches. The tests that read the demo take the `demo` fixture (conftest);
a test that writes copies the data (`Demo.copy`, caches included) and runs only what it tests.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from xcoder_assets.store.parquet import write_text

# The project root (the subprocess runs there, as `make demo` does).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The smallest setting every reader of the demo is content with: the default 48 problems (the
# problems, verification and check tests need that many), 10 evolution rounds (not 100: the rounds
# only grow the pool, and the pool tests assert against this figure).
DEMO_ROUNDS = 10
DEMO_CONFIG = {"ops": {"evolved_pool": {"config": {"rounds": DEMO_ROUNDS}}}}
# the SynthSmith chain (what the demo shows), not later stages that build on it
DEMO_SELECT = "*verified_solutions"
# One materialization's limit in the background build (conftest): 900 s ran out at load 20 on two cores.
BACKGROUND_BUILD_TIMEOUT_S = 1800


def dagster_home(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def cli_env(home: Path, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "XCODER_DEBUG"}
    return {**env, "DAGSTER_HOME": str(home), "XCODER_DATA_DIR": str(data), **extra}


def start_materialize(home: Path, data: Path, *args: str) -> subprocess.Popen:
    """`xcoder materialize` started in the background (its own DAGSTER_HOME and data directory), output piped."""
    return subprocess.Popen(
        [BIN / "xcoder", "materialize", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env=cli_env(home, data),
    )


def cli_materialize(home: Path, data: Path, *args: str, timeout: int = 900, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "xcoder", "materialize", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        env=cli_env(home, data, **env),
    )


def run_id_of(done: subprocess.CompletedProcess) -> str:
    return re.search(r"^run (\S+): \d+ asset\(s\) materialized$", done.stdout, re.MULTILINE).group(1)


@dataclass
class RecordedRun:
    """One `xcoder materialize` run read back from its DAGSTER_HOME: what the tests asked of
    dg.materialize's result (materializations per asset, check evaluations), from the stored events."""

    instance: dg.DagsterInstance
    run_id: str
    done: subprocess.CompletedProcess
    _events: list[Any] | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        return self.done.returncode == 0

    def _of_type(self, event_type: dg.DagsterEventType) -> list[Any]:
        if self._events is None:
            self._events = [e for e in self.instance.all_logs(self.run_id) if e.dagster_event is not None]
        return [e.dagster_event for e in self._events if e.dagster_event.event_type == event_type]

    def asset_materializations_for_node(self, node: str) -> list[dg.AssetMaterialization]:
        return [
            event.event_specific_data.materialization
            for event in self._of_type(dg.DagsterEventType.ASSET_MATERIALIZATION)
            if event.step_key == node
        ]

    def get_asset_check_evaluations(self) -> list[Any]:
        return [event.event_specific_data for event in self._of_type(dg.DagsterEventType.ASSET_CHECK_EVALUATION)]


@dataclass
class Demo:
    home: Path
    data: Path
    instance: dg.DagsterInstance
    first: RecordedRun
    second: RecordedRun

    @property
    def runs(self) -> list[subprocess.CompletedProcess]:
        return [self.first.done, self.second.done]

    def copy(self, dest: Path) -> Path:
        """A writable copy of the demo's data directory (its LLM and sandbox caches included)."""
        shutil.copytree(self.data, dest)
        return dest


class DemoBuild:
    """The demo's build started ahead of the tests that read it (conftest), in a thread of this process: the
    tests that do not need it run meanwhile instead of waiting on the lock with a core idle. `join` waits for
    it and raises what it raised; `stop` ends a build still running (the session ended first)."""

    def __init__(self, root: Path):
        self.root = root
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._process: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, name="demo-build", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            _build_under_lock(self.root, self._materialize)
        except BaseException as exc:  # handed to the first test that asks for the demo
            self.error = exc

    def _materialize(self, home: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
        if self._stopping.is_set():
            raise RuntimeError("the demo's build was stopped")
        self._process = start_materialize(home, data, *args)
        # twice cli_materialize's limit: the build now shares the machine with the tests that run meanwhile
        stdout, stderr = self._process.communicate(timeout=BACKGROUND_BUILD_TIMEOUT_S)
        return subprocess.CompletedProcess(self._process.args, self._process.returncode, stdout, stderr)

    def join(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"the session's demo did not build: {self.error}") from self.error

    def stop(self) -> None:
        """Kills a materialization still running; a thread only waiting on another process's build is left
        to end with this process (a daemon)."""
        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._thread.join(timeout=60)


def _build_under_lock(root: Path, materialize=cli_materialize) -> list[subprocess.CompletedProcess]:
    """The demo's two runs: built here by the first caller to take the lock, read back by the others."""
    root.mkdir(parents=True, exist_ok=True)
    home, data, recorded, failed = root / "home", root / "data", root / "runs.json", root / "failed.txt"
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if recorded.exists():
            return [subprocess.CompletedProcess(**run) for run in json.loads(recorded.read_text())]
        if failed.exists():  # one failed build per run, not one per worker or per reader
            raise RuntimeError(f"the session's demo failed to build: {failed.read_text()}")
        try:
            runs = _materialize_twice(root, dagster_home(home), data, materialize)
        except BaseException as exc:
            write_text(f"{type(exc).__name__}: {exc}", failed)
            raise
        saved = [
            {"args": [str(a) for a in r.args], "returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr}
            for r in runs
        ]
        write_text(json.dumps(saved), recorded)
        return runs


def materialize_demo(root: Path) -> Demo:
    """The demo under `root`, built by the first caller. Under pytest-xdist every worker asks for the same
    `root`: the first to take the lock materializes, the others wait and read what it recorded."""
    home, data = root / "home", root / "data"
    runs = _build_under_lock(root)
    from dagster._core.instance.ref import InstanceRef

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    first, second = (RecordedRun(instance, run_id_of(done), done) for done in runs)
    return Demo(home, data, instance, first, second)


def _materialize_twice(root: Path, home: Path, data: Path, materialize) -> list[subprocess.CompletedProcess]:
    config = root / "demo.yaml"
    config.write_text(json.dumps(DEMO_CONFIG))  # JSON is YAML
    runs = []
    for _ in range(2):
        done = materialize(home, data, "--select", DEMO_SELECT, "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append(done)
    return runs
