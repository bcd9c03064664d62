"""Training settings: the paper's defaults, strict parsing, and the key a run resumes by."""

import pytest

from xcoder_assets.launched.config import SMOKE_MODEL, TrainSettings, smoke_settings
from xcoder_assets.launched.train import settings_from


def test_the_papers_values_are_the_defaults():
    s = TrainSettings()
    assert s.base_model == "Qwen/Qwen2.5-Coder-7B-Instruct" and s.stages == "sft+rl" and not s.lora.enabled
    assert (
        s.sft.epochs,
        s.sft.learning_rate,
        s.sft.lr_scheduler,
        s.sft.warmup_ratio,
        s.sft.weight_decay,
        s.sft.max_length,
    ) == (8, 5e-5, "cosine", 0.03, 0.1, 32768)
    assert (s.rl.num_generations, s.rl.temperature, s.rl.learning_rate, s.rl.beta, s.rl.epsilon_high) == (
        8,
        1.0,
        4e-7,
        0.0,
        0.28,
    )


def test_unknown_settings_are_named():
    with pytest.raises(ValueError, match=r"unknown training settings \['epochs'\]"):
        TrainSettings.from_dict({"epochs": 3})
    with pytest.raises(ValueError, match=r"unknown sft settings \['lr'\]"):
        TrainSettings.from_dict({"sft": {"lr": 1e-5}})
    with pytest.raises(ValueError, match="stages"):
        TrainSettings.from_dict({"stages": "dpo"})
    with pytest.raises(ValueError, match="multiple of rl.num_generations"):
        settings_from(True, {"rl": {"num_generations": 3}})


def test_overrides_merge_into_the_preset():
    s = settings_from(True, {"sft": {"max_steps": 12}, "lora": {"enabled": True}})
    assert s.base_model == SMOKE_MODEL and s.sft.max_steps == 12 and s.sft.max_length == 256 and s.lora.enabled
    assert TrainSettings.from_dict(s.to_dict()) == s


def test_run_key_follows_what_is_learnt_not_how_often_it_is_saved():
    s = smoke_settings()
    key = s.run_key("v1")
    assert settings_from(True, {"sft": {"save_steps": 1, "logging_steps": 5}}).run_key("v1") == key
    assert settings_from(True, {"sft": {"learning_rate": 0.5}}).run_key("v1") != key
    assert s.run_key("v2") != key
