"""trained_model through real Dagster Pipes: the CPU smoke run, an interrupt and its resume, and bad input."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.defs.training import TrainingLauncher, trained_model
from xcoder_assets.launched.shards import MANIFEST
from xcoder_assets_tests.launched.shard_data import make_shards

SMOKE_SFT_STEPS = 12  # the smoke preset's 6, doubled so an interrupt lands mid-SFT with steps to spare


def _materialize(data_dir: Path, config: dict, launcher: TrainingLauncher | None = None, raise_on_error: bool = True):
    return dg.materialize(
        [trained_model],
        resources={"storage": StorageResource(data_dir=str(data_dir)), "trainer": launcher or TrainingLauncher()},
        run_config={"ops": {"trained_model": {"config": config}}},
        raise_on_error=raise_on_error,
    )


def _failure_message(data_dir: Path, config: dict, launcher: TrainingLauncher | None = None) -> str:
    with pytest.raises(dg.Failure) as failure:
        _materialize(data_dir, config, launcher)
    return failure.value.description or ""


def _train_processes():
    import psutil

    def command(process: psutil.Process) -> str:
        try:
            return " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):  # it ended between the listing and this read
            return ""

    return [p for p in psutil.Process().children(recursive=True) if "xcoder_assets.launched.train" in command(p)]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke run trained once for the module: interrupted by SIGINT once it has a checkpoint, then resumed to
    the end. (data_dir, config, run_dir, the SFT step it was interrupted at, the resumed run's result)."""
    if not os.environ.get("CI"):  # make test installs the train extra: missing there is a failure
        pytest.importorskip("trl")
    data_dir = tmp_path_factory.mktemp("smoke") / "data"
    data_dir.mkdir()
    shards = make_shards(data_dir)
    config = {"smoke": True, "shards_dir": str(shards), "sft": {"max_steps": SMOKE_SFT_STEPS}}
    run_root = data_dir / "trained_model"

    # 1. a run interrupted as Dagster interrupts a cancelled one: SIGINT to the job once it has a checkpoint
    outcome = {}
    runner = threading.Thread(
        target=lambda: outcome.update(result=_materialize(data_dir, config, raise_on_error=False))
    )
    runner.start()
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not list(run_root.glob("*/sft/checkpoint-*")):
        time.sleep(0.05)
    processes = _train_processes()
    assert processes, "the training job was not running when its first checkpoint appeared"
    for process in processes:
        os.kill(process.pid, signal.SIGINT)
    runner.join(120)
    assert not outcome["result"].success  # interrupted: no materialization
    (run_dir,) = [p for p in run_root.iterdir() if not p.name.startswith("_")]
    checkpoints = sorted(int(p.name.split("-")[1]) for p in (run_dir / "sft").glob("checkpoint-*"))
    assert checkpoints and checkpoints[-1] < SMOKE_SFT_STEPS, checkpoints
    assert not (run_dir / "sft" / "final").exists()
    interrupted_at = checkpoints[-1]

    # 2. the same settings again: resumes from that checkpoint and finishes SFT and GRPO
    return data_dir, config, run_dir, interrupted_at, _materialize(data_dir, config)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_smoke_training_interrupt_and_resume_through_pipes(smoke_run):
    data_dir, config, run_dir, interrupted_at, result = smoke_run
    (event,) = result.get_asset_materialization_events()
    meta = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    assert meta["run_key"] == run_dir.name
    assert meta["sft_resumed_from"].endswith(f"checkpoint-{interrupted_at}")
    assert meta["sft_steps"] == SMOKE_SFT_STEPS and meta["rl_steps"] == 3
    curves = meta["curves"]
    # the loss curve spans both processes: the resumed trainer carries the earlier steps' history
    assert [step for step, _ in curves["sft/loss"]] == list(range(1, SMOKE_SFT_STEPS + 1))
    assert all(value > 0 for _, value in curves["sft/loss"])
    assert curves["sft/loss"][-1][1] < curves["sft/loss"][0][1]  # it learnt something
    assert len(curves["rl/reward"]) == 3 and all(-2.0 <= v <= 5.0 for _, v in curves["rl/reward"])
    assert sum(meta["rl_reward_outcomes"].values()) == 3 * 4  # 3 steps x 4 completions, each scored
    for chart in ("sft_loss_chart", "rl_reward_chart", "sft_learning_rate_chart"):
        assert meta[chart].startswith("![") and "data:image/svg+xml;base64," in meta[chart]
    assert meta["sft_tokens_per_s"] > 0 and meta["sft_samples_per_s"] > 0
    assert meta["shards_version"] == "v-test"
    assert meta["data_versions"]["created_from"] == {"verified_solutions": "dv-test"}

    from xcoder_assets.launched.train import checkpoint_sha256

    checkpoint = Path(meta["checkpoint_path"])
    assert checkpoint == run_dir / "rl" / "final" and (checkpoint / "model.safetensors").is_file()
    assert meta["checkpoint_sha256"] == checkpoint_sha256(checkpoint)
    assert event.materialization.tags["dagster/data_version"] == meta["checkpoint_sha256"][:16]
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "finite_loss" and check.passed

    # 3. once more: nothing is trained again, the same checkpoint is reported
    again = _materialize(data_dir, config)
    meta2 = {
        k: getattr(v, "value", v)
        for k, v in again.get_asset_materialization_events()[0].materialization.metadata.items()
    }
    assert meta2["sft_status"] == "already_done" and meta2["rl_status"] == "already_done"
    assert meta2["checkpoint_sha256"] == meta["checkpoint_sha256"]


def test_manifest_mismatch_fails_before_launch(data_dir):
    shards = make_shards(data_dir)
    shard = shards / "rl" / "train-00000.jsonl"
    shard.write_text(shard.read_text() + shard.read_text().splitlines()[0] + "\n")
    message = _failure_message(data_dir, {"smoke": True, "shards_dir": str(shards)})
    assert "train-00000.jsonl" in message and "sha256" in message
    assert not (data_dir / "trained_model").exists()  # nothing was launched


def test_row_count_mismatch_names_the_file(data_dir):
    from xcoder_assets.store.ids import file_sha256

    shards = make_shards(data_dir)
    manifest = json.loads((shards / MANIFEST).read_text())
    shard = shards / "sft" / "messages" / "train-00000.jsonl"
    shard.write_text(shard.read_text() + shard.read_text().splitlines()[0] + "\n")
    for entry in manifest["files"]:
        if entry["path"] == "sft/messages/train-00000.jsonl":
            entry["sha256"] = file_sha256(shard)  # the hash is right, the row count is not
    (shards / MANIFEST).write_text(json.dumps(manifest))
    message = _failure_message(data_dir, {"smoke": True, "shards_dir": str(shards)})
    assert "sft/messages/train-00000.jsonl" in message and "rows" in message


def test_no_docker_engine_is_one_clear_message(data_dir, monkeypatch):
    shards = make_shards(data_dir)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{data_dir}/no-docker.sock")
    message = _failure_message(
        data_dir, {"smoke": True, "shards_dir": str(shards)}, TrainingLauncher(launcher="docker")
    )
    assert message.startswith("trainer launcher 'docker': no Docker engine reachable")


def test_no_cluster_config_is_one_clear_message(data_dir, monkeypatch):
    shards = make_shards(data_dir)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    launcher = TrainingLauncher(launcher="k8s", kubeconfig_file=str(data_dir / "no-kubeconfig"))
    message = _failure_message(data_dir, {"smoke": True, "shards_dir": str(shards)}, launcher)
    assert message.startswith("trainer launcher 'k8s': no cluster configuration")


def test_interpreter_without_the_train_extra(data_dir, tmp_path):
    shards = make_shards(data_dir)
    launcher = TrainingLauncher(launcher="subprocess", python="/usr/bin/python3")  # the system one has no trl
    message = _failure_message(data_dir, {"smoke": True, "shards_dir": str(shards)}, launcher)
    assert "lacks" in message and "trl" in message and ".[train]" in message


def test_base_model_that_is_not_a_model_folder(data_dir, tmp_path):
    shards = make_shards(data_dir)
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    message = _failure_message(data_dir, {"shards_dir": str(shards), "base_model": str(empty)})
    assert message == f"trained_model: base model {str(empty)!r} is not a model folder (no config.json)"


def test_hub_model_missing_offline(data_dir, monkeypatch, tmp_path):
    shards = make_shards(data_dir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    message = _failure_message(data_dir, {"shards_dir": str(shards), "base_model": "nobody/no-such-model"})
    assert "not in the local Hugging Face cache" in message and "nobody/no-such-model" in message


def test_shards_found_from_the_data_dir(data_dir):
    """No shards_dir: the newest training_shards folder with a manifest; none at all is a clear failure."""
    message = _failure_message(data_dir, {"smoke": True})
    assert "no training shards under" in message


def test_settings_errors_name_the_setting(data_dir):
    shards = make_shards(data_dir)
    message = _failure_message(data_dir, {"smoke": True, "shards_dir": str(shards), "rl": {"num_generations": 3}})
    assert "rl.num_generations" in message


def test_pod_spec_carries_the_gpu_limit():
    launcher = TrainingLauncher(
        launcher="k8s",
        gpus=2,
        k8s_pod_spec={
            "containers": [{"volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "xcoder-data"}}],
        },
    )
    spec = launcher.pod_spec()
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert spec["containers"][0]["volumeMounts"][0]["mountPath"] == "/data"
    assert spec["volumes"][0]["name"] == "data"
    assert "resources" not in launcher.k8s_pod_spec["containers"][0]  # the setting itself is untouched


def test_curve_charts_stay_inline_in_the_ui():
    from xcoder_assets.defs.training import UI_INLINE_MARKDOWN, curve_charts

    long_run = {
        "sft/loss": [[i, 2.0 / (1 + i) + 0.123456789] for i in range(1, 5001)],
        "rl/reward": [[i, -2.0 + (i % 7) * 0.987654] for i in range(1, 301)],
        "sft/learning_rate": [[i, 5e-5 * i / 100] for i in range(1, 101)],
    }
    charts = curve_charts(long_run)
    assert set(charts) == {"sft_loss_chart", "rl_reward_chart", "sft_learning_rate_chart"}
    for value in charts.values():
        assert value.value.startswith("![") and len(value.value) < UI_INLINE_MARKDOWN, len(value.value)


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_checkpoint_is_served_and_scored_as_an_api_model_is(smoke_run, bwrap_backend):
    """trained_model_scores: the smoke checkpoint behind an OpenAI-compatible server over transformers,
    scored on the bundled LiveCodeBench rows; every score row names the checkpoint."""
    import polars as pl

    from xcoder_assets.defs.benchmark import lcb_problems, trained_model_scores
    from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource
    from xcoder_assets.store.tables import BENCHMARK_SUMMARY, TRAINED_MODEL_SAMPLES

    data_dir, *_, trained = smoke_run  # the module's smoke run: its checkpoint, its data directory's tables
    meta = trained.get_asset_materialization_events()[0].materialization.metadata
    checkpoint = str(meta["checkpoint_path"].value)
    result = dg.materialize(
        [lcb_problems, trained_model_scores],
        resources={
            "storage": StorageResource(data_dir=str(data_dir)),
            "llm": LLMGatewayResource(),
            "sandbox": SandboxResource(workers=2),
        },
        run_config={"ops": {"trained_model_scores": {"config": {"checkpoint": checkpoint, "n": 2, "max_tokens": 24}}}},
        selection=["lcb_problems", "trained_model_scores"],
    )
    assert result.success
    rows = pl.read_parquet(TRAINED_MODEL_SAMPLES.path(data_dir))
    assert rows.height == 3 * 2 and set(rows["model"]) == {checkpoint}
    assert all(i.startswith("tscore-") for i in rows["score_id"]) and rows["llm_call_id"].null_count() == 0
    assert set(rows["sample"]) == {0, 1}
    summary = pl.read_parquet(BENCHMARK_SUMMARY.path(data_dir))
    overall = summary.filter((pl.col("group") == "overall") & (pl.col("model") == checkpoint))
    assert overall.height == 1 and overall["problems"][0] == 3
    # a random tiny model writes no program: every sample is a failed generation or a wrong answer
    assert overall["pass_at_1"][0] == 0.0
