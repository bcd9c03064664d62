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


def dagster_home(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def cli_env(home: Path, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "XCODER_DEBUG"}
    return {**env, "DAGSTER_HOME": str(home), "XCODER_DATA_DIR": str(data), **extra}


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


def materialize_demo(root: Path) -> Demo:
    """The demo under `root`, built by the first caller. Under pytest-xdist every worker asks for the same
    `root`: the first to take the lock materializes, the others wait and read what it recorded."""
    root.mkdir(parents=True, exist_ok=True)
    home, data, recorded = root / "home", root / "data", root / "runs.json"
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if recorded.exists():
            runs = [subprocess.CompletedProcess(**run) for run in json.loads(recorded.read_text())]
        else:
            runs = _materialize_twice(root, dagster_home(home), data)
            saved = [
                {"args": [str(a) for a in r.args], "returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr}
                for r in runs
            ]
            write_text(json.dumps(saved), recorded)
    from dagster._core.instance.ref import InstanceRef

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    first, second = (RecordedRun(instance, run_id_of(done), done) for done in runs)
    return Demo(home, data, instance, first, second)


def _materialize_twice(root: Path, home: Path, data: Path) -> list[subprocess.CompletedProcess]:
    config = root / "demo.yaml"
    config.write_text(json.dumps(DEMO_CONFIG))  # JSON is YAML
    runs = []
    for _ in range(2):
        done = cli_materialize(home, data, "--select", DEMO_SELECT, "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append(done)
    return runs
