"""Throughput of the training job on a GPU: a fixed number of SFT and GRPO steps of a small random Qwen2
model in bf16, through the same stage functions the trainer runs; prints tokens/s and MFU.

    python -m xcoder_assets.launched.gpu_check --work DIR [--size small] [--sft-steps 30] [--rl-steps 4]

MFU here is 6 x parameters x trained tokens per second over the GPU's dense bf16 peak (attention FLOPs
left out, so it is a lower bound). For GRPO the step time includes generating the rollouts with
transformers (no vLLM), so its MFU says how much of the step the GPU spends learning.
The data are the bundled seed problems (statement -> solution as chat messages; as RL problems with
their example tests). The reward runs completions in the bwrap sandbox where it starts; on a machine
without one it is the completion's length, which says nothing of quality and is printed as such.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from xcoder_assets.launched.config import LoraSettings, RLSettings, SFTSettings, TrainSettings
from xcoder_assets.launched.shards import load_shards, require, write_shards
from xcoder_assets.launched.tiny import SEED_FILE, build_model_dir
from xcoder_assets.launched.train import Reporter, StopFlag, run_rl, run_sft

# dense bf16 peak per GPU, FLOP/s (vendor figures, without sparsity)
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12}


def seed_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sft, rl = [], []
    for i, line in enumerate(l for l in SEED_FILE.read_text(encoding="utf-8").splitlines() if l.strip()):
        record = json.loads(line)
        solutions = record.get("solutions")
        solutions = json.loads(solutions) if isinstance(solutions, str) else solutions
        question = str(record["question"])
        if solutions:
            answer = f"<think>\nSolve it directly.\n</think>\n\n```python\n{solutions[0]}\n```"
            sft.append(
                {
                    "example_id": f"s{i}",
                    "problem_id": f"seed-{i}",
                    "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                }
            )
        io = record.get("input_output")
        io = json.loads(io) if isinstance(io, str) else (io or {})
        tests = [{"input": a, "output": b} for a, b in zip(io.get("inputs") or [], io.get("outputs") or [])]
        if tests:
            rl.append(
                {
                    "example_id": f"r{i}",
                    "problem_id": f"seed-{i}",
                    "prompt": [{"role": "user", "content": question}],
                    "mode": "stdin",
                    "func_name": None,
                    "tests": tests,
                    "reward": {"kind": "sandbox_pass_rate", "scale": 5.0, "no_code": -2.0, "max_tests": 10},
                }
            )
    return sft, rl


class LengthReward:
    """Only where no sandbox starts: a reward that needs none, so GRPO's step still runs end to end."""

    __name__ = "completion_length_no_sandbox"

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, completions: list[Any], **_: Any) -> list[float]:
        from xcoder_assets.launched.reward import completion_text

        return [len(completion_text(c)) / 1000.0 for c in completions]


def peak_flops() -> tuple[str, float | None]:
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return name, next((v for k, v in PEAK_BF16.items() if k in name), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="a scratch folder (model, shards, checkpoints)")
    parser.add_argument("--size", default="small", help="tiny or small (about 136M parameters)")
    parser.add_argument("--sft-steps", type=int, default=30)
    parser.add_argument("--rl-steps", type=int, default=4)
    parser.add_argument("--sft-batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--rl-completion", type=int, default=256)
    args = parser.parse_args(argv)

    import torch

    work = Path(args.work)
    gpu, peak = peak_flops()
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    print(f"device: {gpu}; torch {torch.__version__}; bf16 {bf16}", flush=True)
    model_dir = build_model_dir(work / f"model-{args.size}", args.size)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    sft_rows, rl_rows = seed_rows()
    shards_dir = write_shards(
        work / "shards",
        {
            "sft/messages/train-00000.jsonl": ("messages", "train", sft_rows * 8),
            "rl/train-00000.jsonl": ("rl", "train", rl_rows),
        },
        version="gpu-check",
    )
    shards = load_shards(shards_dir)
    settings = TrainSettings(
        base_model=str(model_dir),
        precision="bf16" if bf16 else "fp32",
        gradient_checkpointing=False,
        sft=SFTSettings(
            epochs=1,
            learning_rate=1e-4,
            max_length=args.max_length,
            per_device_batch=args.sft_batch,
            grad_accum=1,
            max_steps=args.sft_steps,
            save_steps=10**6,
            logging_steps=1,
        ),
        rl=RLSettings(
            epochs=1,
            learning_rate=1e-6,
            num_generations=8,
            per_device_batch=16,
            grad_accum=1,
            max_completion_length=args.rl_completion,
            max_steps=args.rl_steps,
            save_steps=10**6,
            logging_steps=1,
        ),
        lora=LoraSettings(enabled=False),
    )
    reporter, stop = Reporter(), StopFlag()
    stop.install()
    run_dir = work / "run"
    with torch.device("meta"):
        from transformers import AutoModelForCausalLM

        params = sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())
    print(
        f"model: {params / 1e6:.1f}M parameters ({config.num_hidden_layers} layers, hidden {config.hidden_size})",
        flush=True,
    )

    started = time.perf_counter()
    sft = run_sft(settings, model_dir, require(shards, "messages"), run_dir / "sft", stop, reporter)
    sft_s = time.perf_counter() - started
    try:
        from xcoder_assets.launched.reward import SandboxReward

        reward: Any = SandboxReward("bwrap", workers=8)
        reward_note = "sandbox pass rate (bwrap)"
    except Exception as exc:  # SandboxUnavailable: no bubblewrap on this machine
        reward, reward_note = LengthReward(), f"completion length: no sandbox here ({str(exc)[:120]})"
    started = time.perf_counter()
    rl = run_rl(settings, sft.final_dir, require(shards, "rl"), run_dir / "rl", stop, reporter, reward)
    rl_s = time.perf_counter() - started

    def mfu(tokens_per_s: float | None) -> str:
        if not tokens_per_s or not peak:
            return "n/a (unknown peak)" if tokens_per_s else "n/a"
        return f"{6 * params * tokens_per_s / peak:.1%}"

    lines = [
        f"GPU check on {gpu} ({'bf16' if bf16 else 'fp32'}), {params / 1e6:.1f}M-parameter random Qwen2",
        f"SFT  {sft.global_step} steps x {args.sft_batch} examples (max length {args.max_length}): "
        f"{(sft.tokens_per_s or 0):,.0f} tokens/s, {sft.samples_per_s} samples/s, MFU {mfu(sft.tokens_per_s)}, "
        f"{sft_s:.1f} s with model load; final loss {sft.curves.get('sft/loss', [[0, float('nan')]])[-1][1]:.3f}",
        f"GRPO {rl.global_step} steps x 16 completions (8 rollouts, up to {args.rl_completion} tokens): "
        f"{(rl.tokens_per_s or 0):,.0f} tokens/s (prompt + completion), {rl.samples_per_s} samples/s, "
        f"MFU {mfu(rl.tokens_per_s)} (generation included), {rl_s:.1f} s; reward: {reward_note}",
    ]
    print("\n".join(lines), flush=True)
    (work / "gpu_check.json").write_text(
        json.dumps(
            {"gpu": gpu, "params": params, "sft": sft.__dict__, "rl": rl.__dict__, "summary": lines},
            default=str,
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
