"""The training job: SFT (TRL SFTTrainer) on the `messages` shards, then GRPO (TRL GRPOTrainer) on the RL
set with the sandbox pass-rate reward; reports to Dagster through Pipes, or prints when run by hand.

    python -m xcoder_assets.launched.train --shards DATA/training_shards/V --output-root DATA/trained_model \
        [--smoke] [--settings '{"stages": "sft", "sft": {"max_steps": 100}}']

Before any training: the manifest is verified (sha256 and rows of every file), the base model's config
and tokenizer load, the sandbox starts (for RL). Any failure there is one TrainInputError naming the input.
Output: OUTPUT_ROOT/<run key>/ (the key hashes the settings and the shards version) holding
sft/checkpoint-N, sft/final, rl/checkpoint-N, rl/final and summary.json. A run with the same settings
resumes from the last checkpoint; a finished stage is not trained again. SIGINT (a cancelled Dagster run)
saves a checkpoint at the end of the current step and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from xcoder_assets.launched.config import SMOKE_MODEL, TrainSettings, smoke_settings
from xcoder_assets.launched.shards import ShardError, Shards, load_shards, require
from xcoder_assets.store.ids import named_files_sha256

INTERRUPTED_EXIT = 130
CHECK_FINITE = "finite_loss"  # an asset check of trained_model
StageName = Literal["sft", "rl"]


class TrainInputError(ValueError):
    """An input the job cannot train on (shards, base model, sandbox, settings): raised before training."""


class TrainingInterrupted(RuntimeError):
    """SIGINT arrived: a checkpoint was saved and the job stops; the same settings resume from it."""


# ---- reporting ------------------------------------------------------------------------------------


class Reporter:
    """Where the job's messages go: Dagster through Pipes, or stderr and a JSON line when run by hand."""

    def __init__(self, pipes: Any = None):
        self.pipes = pipes

    def log(self, message: str) -> None:
        if self.pipes is not None:
            self.pipes.log.info(message)
        print(message, file=sys.stderr, flush=True)

    def materialization(self, metadata: dict[str, Any], data_version: str) -> None:
        if self.pipes is not None:
            self.pipes.report_asset_materialization(metadata=pipes_metadata(metadata), data_version=data_version)
        else:
            print(json.dumps({"materialization": metadata, "data_version": data_version}, default=str), flush=True)

    def check(self, name: str, passed: bool, metadata: dict[str, Any]) -> None:
        if self.pipes is not None:
            self.pipes.report_asset_check(check_name=name, passed=passed, metadata=metadata)
        else:
            print(json.dumps({"check": name, "passed": passed, "metadata": metadata}), flush=True)


def pipes_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Pipes takes scalars as they are; mappings and lists must say their type (json), paths theirs."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, (dict, list, tuple)):
            out[key] = {"raw_value": value, "type": "json"}
        elif key.endswith("_path") or key == "run_dir":
            out[key] = {"raw_value": str(value), "type": "path"}
        else:
            out[key] = value
    return out


# ---- stopping on SIGINT ---------------------------------------------------------------------------


class StopFlag:
    """The first SIGINT asks for a checkpoint at the end of the step; a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            print("SIGINT: saving a checkpoint at the end of this step, then stopping", file=sys.stderr, flush=True)

        signal.signal(signal.SIGINT, handler)


def make_callback(
    stage: StageName, stop: StopFlag, reporter: Reporter, curves: dict[str, list[list[float]]], timing: dict[str, Any]
):
    from transformers import TrainerCallback

    class PipesCallback(TrainerCallback):
        """Collects the curves, reports progress, and turns a SIGINT into save-then-stop."""

        def on_step_end(self, args, state, control, **kwargs):
            if stop.requested:
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            step = state.global_step
            now = time.perf_counter()
            tokens = logs.get("num_tokens")
            if tokens is not None:
                if timing.get("first") is None:
                    timing["first"] = (now, float(tokens), step)
                timing["last"] = (now, float(tokens), step)
            for name in (
                "loss",
                "learning_rate",
                "reward",
                "reward_std",
                "grad_norm",
                "entropy",
                "completions/mean_length",
                "rewards/sandbox_pass_rate/mean",
            ):
                if name in logs and isinstance(logs[name], (int, float)):
                    curves.setdefault(f"{stage}/{name}", []).append([step, float(logs[name])])
            shown = {
                k: round(v, 5)
                for k, v in logs.items()
                if isinstance(v, (int, float)) and k in ("loss", "learning_rate", "reward", "num_tokens")
            }
            if shown:
                reporter.log(f"{stage} step {step}/{state.max_steps}: {json.dumps(shown)}")

    return PipesCallback()


# ---- inputs ---------------------------------------------------------------------------------------


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_base_model(settings: TrainSettings, output_root: Path) -> Path | str:
    """The base model as a path or hub id that loads; TrainInputError naming it when it does not."""
    if settings.base_model == SMOKE_MODEL:
        from xcoder_assets.launched.tiny import build_model_dir

        return build_model_dir(output_root / "_base" / "qwen2-tiny", "tiny", seed=settings.seed)
    from transformers import AutoConfig, AutoTokenizer

    name = settings.base_model

    def load(local_only: bool) -> None:
        AutoConfig.from_pretrained(name, local_files_only=local_only)
        AutoTokenizer.from_pretrained(name, local_files_only=local_only)

    try:
        load(local_only=True)  # a local folder, or a hub id already in the cache: no network
        return name
    except Exception as exc:  # OSError (not there), ValueError (unknown architecture), JSON errors
        if Path(name).exists():
            raise TrainInputError(f"base model folder {name!r} cannot be loaded: {_first_line(exc)}") from None
    unreachable = _hub_unreachable()
    if unreachable:  # offline: one message now, instead of a minute of download retries
        raise TrainInputError(
            f"base model {name!r} is not a local folder and not in the Hugging Face cache, and the hub "
            f"cannot be reached ({unreachable}): set base_model to a local model folder, fill the cache where "
            f"the hub is reachable (`huggingface-cli download {name}`, then copy HF_HOME), or set smoke: true "
            f"for the tiny CPU model ({SMOKE_MODEL})"
        )
    try:
        load(local_only=False)
    except Exception as exc:
        raise TrainInputError(f"base model {name!r} cannot be loaded: {_first_line(exc)}") from None
    return name


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be reached from here (offline mode, no name, no route), or None."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout_s).close()
    except OSError as exc:
        return f"{endpoint.hostname}: {exc.strerror or exc}"
    return None


def preflight(settings: TrainSettings, shards_dir: Path) -> tuple[Shards, list[dict[str, Any]], list[dict[str, Any]]]:
    """Shards verified and the rows each stage needs; nothing heavy is loaded yet."""
    try:
        shards = load_shards(shards_dir, verify=True)
        sft_rows = require(shards, "messages") if "sft" in settings.stages else []
        rl_rows = require(shards, "rl") if "rl" in settings.stages else []
    except ShardError as exc:
        raise TrainInputError(f"training shards: {exc}") from None
    for row in rl_rows:
        if not row.get("tests"):
            raise TrainInputError(f"training shards: rl problem {row.get('problem_id')!r} has no verified tests")
    return shards, sft_rows, rl_rows


# ---- stages ---------------------------------------------------------------------------------------


@dataclass
class StageResult:
    stage: StageName
    status: Literal["trained", "already_done"]
    final_dir: str
    global_step: int
    resumed_from: str | None
    metrics: dict[str, Any]
    curves: dict[str, list[list[float]]] = field(default_factory=dict)
    tokens_per_s: float | None = None
    samples_per_s: float | None = None
    reward_outcomes: dict[str, int] = field(default_factory=dict)


def _precision(settings: TrainSettings) -> dict[str, bool]:
    if settings.precision == "fp32":
        return {"bf16": False}
    if settings.precision == "bf16":
        return {"bf16": True}
    import torch

    return {"bf16": bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())}


def _peft(settings: TrainSettings):
    if not settings.lora.enabled:
        return None
    from peft import LoraConfig

    lora = settings.lora
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        task_type="CAUSAL_LM",
        target_modules=lora.target_modules,
    )


def _common_args(settings: TrainSettings, stage_dir: Path, part: Any) -> dict[str, Any]:
    return dict(
        output_dir=str(stage_dir),
        learning_rate=part.learning_rate,
        num_train_epochs=part.epochs,
        max_steps=part.max_steps,
        per_device_train_batch_size=part.per_device_batch,
        gradient_accumulation_steps=part.grad_accum,
        save_strategy="steps",
        save_steps=part.save_steps,
        logging_steps=part.logging_steps,
        report_to="none",
        seed=settings.seed,
        disable_tqdm=True,
        use_cpu=not _cuda(),
        save_only_model=False,
        **_precision(settings),
        # passed only when on: transformers 5 warns about the name whenever it is given
        **({"gradient_checkpointing": True} if settings.gradient_checkpointing else {}),
    )


def _done_marker(stage_dir: Path) -> Path:
    return stage_dir / "final" / "stage_done.json"


def _finish(
    trainer: Any,
    stage: StageName,
    stage_dir: Path,
    resumed: str | None,
    stop: StopFlag,
    curves: dict[str, list[list[float]]],
    timing: dict[str, Any],
    output: Any,
    tokenizer: Any,
) -> StageResult:
    state = trainer.state
    if stop.requested:
        from transformers.trainer_utils import get_last_checkpoint

        raise TrainingInterrupted(
            f"{stage} interrupted at step {state.global_step}; checkpoint {get_last_checkpoint(str(stage_dir))}"
        )
    final = stage_dir / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    # the whole history, earlier processes' steps included (a resumed trainer restores its log history)
    full: dict[str, list[list[float]]] = {}
    for entry in state.log_history:
        for name in (
            "loss",
            "learning_rate",
            "reward",
            "reward_std",
            "grad_norm",
            "entropy",
            "completions/mean_length",
            "rewards/sandbox_pass_rate/mean",
        ):
            if name in entry and isinstance(entry[name], (int, float)):
                full.setdefault(f"{stage}/{name}", []).append([entry.get("step", 0), float(entry[name])])
    tokens_per_s = None
    if timing.get("first") and timing.get("last") and timing["last"][0] > timing["first"][0]:
        (t0, n0, _), (t1, n1, _) = timing["first"], timing["last"]
        tokens_per_s = (n1 - n0) / (t1 - t0)
    metrics = dict(output.metrics) if output is not None else {}
    result = StageResult(
        stage,
        "trained",
        str(final),
        state.global_step,
        resumed,
        metrics,
        full or curves,
        tokens_per_s,
        metrics.get("train_samples_per_second"),
    )
    return result


def _save_result(result: StageResult, stage_dir: Path) -> None:
    marker = _done_marker(stage_dir)
    marker.write_text(json.dumps(result.__dict__, indent=1, default=str), encoding="utf-8")


def _load_result(stage_dir: Path) -> StageResult | None:
    marker = _done_marker(stage_dir)
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text(encoding="utf-8"))
    data["status"] = "already_done"
    return StageResult(**data)


def run_sft(
    settings: TrainSettings,
    model_path: Path | str,
    rows: list[dict[str, Any]],
    stage_dir: Path,
    stop: StopFlag,
    reporter: Reporter,
) -> StageResult:
    done = _load_result(stage_dir)
    if done is not None:
        reporter.log(f"sft: finished before ({done.final_dir}, step {done.global_step}); not trained again")
        return done
    from datasets import Dataset
    from transformers import AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    part = settings.sft
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    args = SFTConfig(
        **_common_args(settings, stage_dir, part),
        lr_scheduler_type=part.lr_scheduler,
        # transformers 5 has no warmup_ratio: a float below 1 in warmup_steps is the ratio
        warmup_steps=part.warmup_ratio,
        weight_decay=part.weight_decay,
        max_length=part.max_length,
    )
    dataset = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    curves: dict[str, list[list[float]]] = {}
    timing: dict[str, Any] = {}
    trainer = SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft(settings),
        callbacks=[make_callback("sft", stop, reporter, curves, timing)],
    )
    resume = get_last_checkpoint(str(stage_dir)) if stage_dir.is_dir() else None
    reporter.log(f"sft: {len(rows)} examples, resuming from {resume}" if resume else f"sft: {len(rows)} examples")
    output = trainer.train(resume_from_checkpoint=resume)
    result = _finish(trainer, "sft", stage_dir, resume, stop, curves, timing, output, tokenizer)
    _save_result(result, stage_dir)
    return result


def run_rl(
    settings: TrainSettings,
    model_path: Path | str,
    rows: list[dict[str, Any]],
    stage_dir: Path,
    stop: StopFlag,
    reporter: Reporter,
    reward: Callable[..., list[float]],
) -> StageResult:
    done = _load_result(stage_dir)
    if done is not None:
        reporter.log(f"rl: finished before ({done.final_dir}, step {done.global_step}); not trained again")
        return done
    from datasets import Dataset
    from transformers import AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOConfig, GRPOTrainer

    part = settings.rl
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    args = GRPOConfig(
        **_common_args(settings, stage_dir, part),
        num_generations=part.num_generations,
        temperature=part.temperature,
        beta=part.beta,
        epsilon=part.epsilon,
        epsilon_high=part.epsilon_high,
        max_completion_length=part.max_completion_length,
        use_vllm=False,
    )
    dataset = Dataset.from_list(
        [
            {
                "prompt": r["prompt"],
                "problem_id": r["problem_id"],
                "tests": [{"input": str(t["input"]), "output": str(t["output"])} for t in r["tests"]],
                "func_name": r.get("func_name") or "",
                "reward": json.dumps(r.get("reward") or {}),
            }
            for r in rows
        ]
    )
    curves: dict[str, list[list[float]]] = {}
    timing: dict[str, Any] = {}
    trainer = GRPOTrainer(
        model=str(model_path),
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=_peft(settings),
        callbacks=[make_callback("rl", stop, reporter, curves, timing)],
    )
    resume = get_last_checkpoint(str(stage_dir)) if stage_dir.is_dir() else None
    reporter.log(f"rl: {len(rows)} problems, resuming from {resume}" if resume else f"rl: {len(rows)} problems")
    output = trainer.train(resume_from_checkpoint=resume)
    result = _finish(trainer, "rl", stage_dir, resume, stop, curves, timing, output, tokenizer)
    result.reward_outcomes = dict(getattr(reward, "counts", {}))
    _save_result(result, stage_dir)
    return result


# ---- the run --------------------------------------------------------------------------------------


def checkpoint_sha256(folder: str | Path) -> str:
    """One hash over a model folder: every file's relative name and bytes, in name order."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "stage_done.json")
    return named_files_sha256((str(path.relative_to(folder)), path) for path in files)


def _last(curve: list[list[float]] | None) -> float | None:
    return curve[-1][1] if curve else None


def summary_metadata(
    settings: TrainSettings, shards: Shards, run_dir: Path, results: list[StageResult], sha: str, seconds: float
) -> dict[str, Any]:
    curves: dict[str, list[list[float]]] = {}
    for result in results:
        curves.update(result.curves)
    final = results[-1]
    meta: dict[str, Any] = {
        "stages": settings.stages,
        "base_model": settings.base_model,
        "run_key": run_dir.name,
        "run_dir": str(run_dir),
        "checkpoint_path": final.final_dir,
        "checkpoint_sha256": sha,
        "shards_version": shards.version,
        "data_versions": shards.data_versions(),
        "settings": settings.to_dict(),
        "curves": curves,
        "wall_s": round(seconds, 2),
        "lora": settings.lora.enabled,
    }
    for result in results:
        s = result.stage
        meta[f"{s}_status"] = result.status
        meta[f"{s}_steps"] = result.global_step
        meta[f"{s}_resumed_from"] = result.resumed_from or ""
        meta[f"{s}_tokens_per_s"] = round(result.tokens_per_s, 2) if result.tokens_per_s else None
        meta[f"{s}_samples_per_s"] = result.samples_per_s
        meta[f"{s}_final_loss"] = _last(result.curves.get(f"{s}/loss"))
        meta[f"{s}_final_learning_rate"] = _last(result.curves.get(f"{s}/learning_rate"))
        if s == "rl":
            meta["rl_final_reward"] = _last(result.curves.get("rl/reward"))
            meta["rl_reward_outcomes"] = result.reward_outcomes
    return {k: v for k, v in meta.items() if v is not None}


def train(
    settings: TrainSettings, shards_dir: Path, output_root: Path, reporter: Reporter, stop: StopFlag | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    stop = stop or StopFlag()
    shards, sft_rows, rl_rows = preflight(settings, shards_dir)
    run_dir = output_root / settings.run_key(shards.version)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "settings.json").write_text(
        json.dumps({"settings": settings.to_dict(), "shards": shards.data_versions()}, indent=1), encoding="utf-8"
    )
    # a stage finished before is not trained again, and needs neither the base model nor the sandbox
    pending = {
        stage
        for stage, rows in (("sft", sft_rows), ("rl", rl_rows))
        if rows and not _done_marker(run_dir / stage).is_file()
    }
    model_path = resolve_base_model(settings, output_root) if pending else settings.base_model
    reward = None
    if "rl" in pending:
        from xcoder_assets.launched.reward import SandboxReward
        from xcoder_assets.sandbox.backends import SandboxUnavailable

        try:
            reward = SandboxReward(
                settings.sandbox, workers=settings.rl.reward_workers, fresh_sandbox=settings.rl.reward_fresh_sandbox
            )
        except (SandboxUnavailable, ValueError) as exc:
            raise TrainInputError(f"sandbox {settings.sandbox!r} for the RL reward: {exc}") from None
    reporter.log(f"training {settings.stages} of {settings.base_model} on shards {shards.version} in {run_dir}")
    results: list[StageResult] = []
    try:
        if sft_rows:
            if stop.requested:
                raise TrainingInterrupted("interrupted before SFT started")
            results.append(run_sft(settings, model_path, sft_rows, run_dir / "sft", stop, reporter))
            model_path = results[-1].final_dir
        if rl_rows:
            if stop.requested:
                raise TrainingInterrupted("interrupted before RL started")
            results.append(run_rl(settings, model_path, rl_rows, run_dir / "rl", stop, reporter, reward))
    finally:
        if reward is not None:
            reward.close()
    sha = checkpoint_sha256(results[-1].final_dir)
    metadata = summary_metadata(settings, shards, run_dir, results, sha, time.perf_counter() - started)
    (run_dir / "summary.json").write_text(json.dumps(metadata, indent=1, default=str), encoding="utf-8")
    losses = [v for r in results for name, curve in r.curves.items() if name.endswith("/loss") for _, v in curve]
    finite = bool(losses) and all(math.isfinite(v) for v in losses)
    reporter.check(CHECK_FINITE, finite, {"losses_logged": len(losses)})
    reporter.materialization(metadata, data_version=sha[:16])
    return metadata


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m xcoder_assets.launched.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--shards", help="a training_shards/<version> folder (holds manifest.json)")
    parser.add_argument("--output-root", help="where run folders go (a run resumes from its own)")
    parser.add_argument(
        "--smoke", action="store_true", help="the CPU smoke preset: a tiny random Qwen2 model, a few steps"
    )
    parser.add_argument(
        "--settings", help="settings as JSON (partial: the rest are the paper's defaults, or the smoke preset)"
    )
    return parser.parse_args(argv)


def settings_from(smoke: bool, overrides: dict[str, Any] | None) -> TrainSettings:
    base = (smoke_settings() if smoke else TrainSettings()).to_dict()
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return TrainSettings.from_dict(base)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = StopFlag()
    stop.install()
    if os.environ.get("DAGSTER_PIPES_CONTEXT"):  # launched by Dagster
        from dagster_pipes import open_dagster_pipes

        try:
            # an exception inside is reported to Dagster (its message is the run's error) before the process exits
            with open_dagster_pipes() as pipes:
                extras = pipes.extras
                try:
                    settings = settings_from(
                        bool(extras.get("smoke", args.smoke)),
                        extras.get("settings") or (json.loads(args.settings) if args.settings else None),
                    )
                except (ValueError, TypeError) as exc:
                    raise TrainInputError(f"training settings: {exc}") from None
                train(
                    settings,
                    Path(extras.get("shards_dir") or args.shards),
                    Path(extras.get("output_root") or args.output_root),
                    Reporter(pipes),
                    stop,
                )
        except TrainingInterrupted:
            return INTERRUPTED_EXIT
        except TrainInputError:
            return 2
        return 0
    if not args.shards or not args.output_root:
        print("--shards and --output-root are required when run by hand", file=sys.stderr)
        return 2
    try:
        settings = settings_from(args.smoke, json.loads(args.settings) if args.settings else None)
        train(settings, Path(args.shards), Path(args.output_root), Reporter(), stop)
    except (TrainInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return INTERRUPTED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
