"""Every script in benchmarks/ runs at a tiny size, so that none can rot (the scale figures in docs/
come from them at full size). Each runs as a user runs it: `python benchmarks/<script>.py ...`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xcoder_assets_tests.conftest import PROJECT_ROOT

BENCHMARKS = PROJECT_ROOT / "benchmarks"
# script -> (tiny arguments, a line its output must hold)
TINY = {
    "cache_claims.py": (["--runs", "100", "--per-program", "10"], "ratio claims/store"),
    "dedup_scale.py": (["--examples", "300", "--scale", "1,2", "--benchmark", "40"], "ratio"),
    "judge_service.py": (["--servers", "2", "--programs", "8", "--tests", "2", "--rounds", "1"], "ratio pool/local"),
    "incremental_shards.py": (["--nights", "3", "--problems", "12"], "ratio night 3 / night 2"),
    "lineage_scale.py": (
        ["--batches", "1,2", "--copies", "1", "--usage-rows", "2000", "--configs", "6", "--repeat", "1"],
        "ratio 2/1 batches, trace ROW",
    ),
    "residual_channels.py": (["--backends", "bwrap", "--trials", "1", "--seconds", "0.1"], "| bwrap | warm |"),
    "scale_synthesis.py": (["--factor", "2", "--configs", "6", "--rounds", "5"], "ratio 2x/1x"),
    "scale.py": (["--problems", "6", "--candidates", "2", "--rounds", "3"], "paper-scale projection"),
    "simulator_distinct.py": (["--configs", "40", "--samples", "2"], "distinct problems:"),
    "synthesis_full.py": (
        [
            "--sizes",
            "6,12",
            "--stages",
            "evolved_pool_recipe,feature_configs,dedup,decontamination",
            "--chunk",
            "5",
            "--plant-every",
            "3",
        ],
        "ratios 12 / 6",
    ),
    "vote_accuracy.py": (["--problems", "12", "--spread-seeds", "1"], "| candidates |"),
}


def test_every_benchmark_has_a_tiny_run():
    assert {p.name for p in BENCHMARKS.glob("*.py")} == set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_benchmark_runs_at_a_tiny_size(script, tmp_path, bwrap_backend):
    arguments, expected = TINY[script]
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DAGSTER_HOME": str(tmp_path),
        "XCODER_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]


# A child of run_child that burns CPU in a grandchild it never waits for (SIGCHLD ignored: the kernel reaps it, and
# no rusage of the child counts it), as a sandbox's programs are.
BURNER = """
import os, signal, subprocess, sys, time
sys.path.insert(0, sys.argv[2])
from lib.stage_runner import finish, timed

def work():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    burn = subprocess.Popen([sys.executable, "-c", "import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() < end: pass"])
    while os.path.exists(f"/proc/{burn.pid}"):
        time.sleep(0.02)

_, seconds, cpu = timed(work)
finish(__import__("pathlib").Path(sys.argv[1]), {"cpu": cpu})
"""


def test_a_stages_cpu_seconds_count_what_its_children_run_unwaited(tmp_path):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from lib.stage_runner import CpuGroup, run_child
    finally:
        sys.path.remove(str(BENCHMARKS))
    group = CpuGroup()
    if group.usage_file is None:
        pytest.skip("no cgroup v1 cpuacct group can be made here (needs root)")
    group.close()
    out = tmp_path / "out.json"
    child = run_child([sys.executable, "-c", BURNER, str(out), str(BENCHMARKS)], os.environ, out, "burner")
    assert child.result["cpu"] >= 0.5, child.result  # the grandchild's 0.6 s, which os.times() never sees
    assert not list(Path("/sys/fs/cgroup/cpuacct").glob(f"xcoder-bench-{os.getpid()}-*"))  # removed after each child
