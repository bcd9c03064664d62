"""Training settings: the paper's values as defaults, a CPU smoke preset, and the key a run resumes by.

SFT (the paper's train_sft.sh): full fine-tune of Qwen2.5-Coder-7B-Instruct, 8 epochs, lr 5e-5, cosine,
warmup 0.03, weight decay 0.1, max length 32768, per-device batch 1 x gradient accumulation 2.
RL (its verl recipe): GRPO, 8 rollouts per prompt at temperature 1.0, lr 4e-7, no KL term (beta 0),
clip-high 0.28, responses up to 30196 tokens, 3 epochs. On one box TRL generates with transformers
(no vLLM); a GRPO step here holds per_device_batch completions (a multiple of the rollouts).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

Stages = Literal["sft", "rl", "sft+rl"]
SMOKE_MODEL = "smoke:qwen2-tiny"  # a randomly initialised Qwen2 model built in code (launched/tiny.py): no download


@dataclass(frozen=True)
class SFTSettings:
    epochs: float = 8.0
    learning_rate: float = 5e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.1
    max_length: int = 32768
    per_device_batch: int = 1
    grad_accum: int = 2
    max_steps: int = -1  # > 0 stops there (smoke runs, benchmarks); -1: the epochs decide
    save_steps: int = 500
    logging_steps: int = 10


@dataclass(frozen=True)
class RLSettings:
    epochs: float = 3.0
    learning_rate: float = 4e-7
    num_generations: int = 8
    temperature: float = 1.0
    beta: float = 0.0
    epsilon: float = 0.2
    epsilon_high: float = 0.28
    max_completion_length: int = 30196
    per_device_batch: int = 8
    grad_accum: int = 16
    max_steps: int = -1
    save_steps: int = 50
    logging_steps: int = 1
    reward_workers: int = 8  # sandbox runs at once while scoring a step's completions
    # A new sandbox for every completion: programs optimised for reward may look for channels between
    # the programs of one warm sandbox (docs/sandbox.md, the channels that remain); about 130 ms a completion on bwrap.
    reward_fresh_sandbox: bool = True


@dataclass(frozen=True)
class LoraSettings:
    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str = "all-linear"


@dataclass(frozen=True)
class TrainSettings:
    stages: Stages = "sft+rl"
    base_model: str = "Qwen/Qwen2.5-Coder-7B-Instruct"
    sft: SFTSettings = field(default_factory=SFTSettings)
    rl: RLSettings = field(default_factory=RLSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 on a GPU that has it, else fp32
    gradient_checkpointing: bool = True
    sandbox: str = "bwrap"  # where the RL reward runs completions (sandbox/backends.py)
    seed: int = 42

    def __post_init__(self) -> None:
        if self.stages not in ("sft", "rl", "sft+rl"):
            raise ValueError(f"stages must be sft, rl or sft+rl, got {self.stages!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, got {self.precision!r}")
        rl = self.rl
        if rl.num_generations < 2:
            raise ValueError("rl.num_generations must be at least 2 (GRPO compares rollouts of one prompt)")
        if (rl.per_device_batch * rl.grad_accum) % rl.num_generations:
            raise ValueError(
                f"rl.per_device_batch x rl.grad_accum ({rl.per_device_batch} x {rl.grad_accum}) must be a "
                f"multiple of rl.num_generations ({rl.num_generations})"
            )

    @property
    def smoke(self) -> bool:
        return self.base_model == SMOKE_MODEL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TrainSettings":
        """Settings from a (possibly partial) dict; an unknown key is an error naming it."""
        data = dict(data or {})
        parts = {"sft": SFTSettings, "rl": RLSettings, "lora": LoraSettings}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}; known: {sorted(known)}")
        for name, part in parts.items():
            sub = data.get(name) or {}
            if isinstance(sub, part):
                continue
            sub_known = {f.name for f in fields(part)}
            bad = sorted(set(sub) - sub_known)
            if bad:
                raise ValueError(f"unknown {name} settings {bad}; known: {sorted(sub_known)}")
            data[name] = part(**sub)
        return cls(**data)

    def run_key(self, shards_version: str) -> str:
        """Same settings on the same shards -> the same key -> the same output folder, so a run resumes.

        The checkpoint interval and the logging cadence do not change what is learnt; they are left out so a
        resumed run may change them.
        """
        record = self.to_dict()
        for stage in ("sft", "rl"):
            record[stage].pop("save_steps")
            record[stage].pop("logging_steps")
            record["rl"].pop("reward_workers", None)
            record["rl"].pop("reward_fresh_sandbox", None)
        text = json.dumps({"settings": record, "shards": shards_version}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def smoke_settings(**overrides: Any) -> TrainSettings:
    """A few SFT and GRPO steps of the tiny random Qwen2 model on CPU: the whole path, in seconds."""
    base = TrainSettings(
        base_model=SMOKE_MODEL,
        sft=SFTSettings(
            epochs=1,
            learning_rate=1e-3,
            warmup_ratio=0.1,
            max_length=256,
            per_device_batch=2,
            grad_accum=1,
            max_steps=6,
            save_steps=3,
            logging_steps=1,
        ),
        rl=RLSettings(
            epochs=1,
            learning_rate=1e-4,
            num_generations=4,
            max_completion_length=24,
            per_device_batch=4,
            grad_accum=1,
            max_steps=3,
            save_steps=2,
            logging_steps=1,
            reward_workers=2,
        ),
        precision="fp32",
        gradient_checkpointing=False,
    )
    return replace(base, **overrides) if overrides else base
