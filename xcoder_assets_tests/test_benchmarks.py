"""Every script in benchmarks/ runs at a tiny size, so that none can rot (the scale figures in docs/
come from them at full size). Each runs as a user runs it: `python benchmarks/<script>.py ...`."""

import os
import subprocess
import sys

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
