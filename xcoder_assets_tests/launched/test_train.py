"""The training program by hand: its help, its clear errors before training, its Pipes metadata."""

import json
import subprocess
import sys

import pytest

from xcoder_assets.launched.config import TrainSettings
from xcoder_assets.launched.train import TrainInputError, pipes_metadata, preflight, resolve_base_model
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.launched.shard_data import make_shards


def test_help_runs_without_the_trainer_packages_loaded():
    out = subprocess.run(
        [sys.executable, "-m", "xcoder_assets.launched.train", "--help"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert out.returncode == 0 and "--shards" in out.stdout and "--smoke" in out.stdout


def test_the_program_imports_no_dagster_but_dagster_pipes():
    code = (
        "import sys, xcoder_assets.launched.train, xcoder_assets.launched.reward, xcoder_assets.launched.tiny; "
        "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_a_mismatched_manifest_exits_with_one_message(tmp_path):
    root = make_shards(tmp_path)
    (root / "rl" / "train-00000.jsonl").write_text("{}\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "xcoder_assets.launched.train",
            "--smoke",
            "--shards",
            str(root),
            "--output-root",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: training shards: ")
    assert "rl/train-00000.jsonl: sha256" in out.stderr
    assert not (tmp_path / "out").exists()


def test_rl_problems_without_tests_are_refused(tmp_path):
    root = tmp_path / "s"
    from xcoder_assets.launched.shards import write_shards

    write_shards(root, {"rl/train-00000.jsonl": ("rl", "train", [{"problem_id": "p", "prompt": [], "tests": []}])})
    with pytest.raises(TrainInputError, match="'p' has no verified tests"):
        preflight(TrainSettings(stages="rl"), root)


def test_a_base_model_that_cannot_be_loaded(tmp_path):
    pytest.importorskip("transformers")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(TrainInputError, match=r"^base model folder '.*broken' cannot be loaded: "):
        resolve_base_model(TrainSettings(base_model=str(broken)), tmp_path)


def test_a_hub_model_offline_is_one_message_at_once(tmp_path, monkeypatch, capfd):
    """Offline, a hub id not in the cache: one error naming the model and how to provide it, with no
    download retries printed (issue 20 item 9)."""
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(TrainInputError) as raised:
        resolve_base_model(TrainSettings(base_model="someorg/not-cached-7b"), tmp_path)
    message = str(raised.value)
    assert "'someorg/not-cached-7b'" in message and "local model folder" in message and "smoke: true" in message
    assert "HF_HUB_OFFLINE" in message
    assert "Retrying" not in capfd.readouterr().err


def test_pipes_metadata_types_mappings_and_paths():
    meta = pipes_metadata({"a": 1, "curves": {"sft/loss": [[1, 2.0]]}, "checkpoint_path": "/x", "s": "t"})
    assert meta["a"] == 1 and meta["s"] == "t"
    assert meta["curves"] == {"raw_value": {"sft/loss": [[1, 2.0]]}, "type": "json"}
    assert meta["checkpoint_path"] == {"raw_value": "/x", "type": "path"}
    json.dumps(meta)
