"""trained_model: SFT then GRPO on the training shards, run as a program of its own through Dagster Pipes.

The training program is xcoder_assets/launched/train.py (no Dagster import but dagster-pipes); this module
checks its inputs, launches it where the `trainer` resource says (a local process, a Docker container
with GPUs, a Kubernetes pod with nvidia.com/gpu limits) in the `gpu` pool, and turns the curves it
reports into charts. Nothing here imports torch: the trainer's packages are the optional `train` extra.
"""

import json
import os
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from xcoder_assets.defs.automation import GPU_POOL, gpu_cron_gate
from xcoder_assets.defs.resources import OWNERS, StorageResource, in_stage, refused
from xcoder_assets.launched.config import SMOKE_MODEL, LoraSettings, RLSettings, SFTSettings, TrainSettings
from xcoder_assets.launched.shards import MANIFEST, ShardError, Shards, load_shards
from xcoder_assets.launched.train import CHECK_FINITE, settings_from
from xcoder_assets.store.tables import SHARDS_DIR
from xcoder_assets.present.ui import markdown_image

TRAIN_MODULE = "xcoder_assets.launched.train"
OUTPUT_FOLDER = "trained_model"
DEFAULT_TRAIN_IMAGE = "xcoder-train:latest"
# what the launcher's interpreter must import for the job to start (the `train` extra)
TRAIN_IMPORTS = ("torch", "transformers", "trl", "accelerate", "datasets", "dagster_pipes")

_SFT, _RL, _LORA, _TOP = SFTSettings(), RLSettings(), LoraSettings(), TrainSettings()


class SFTRunConfig(dg.Config):
    epochs: float = Field(_SFT.epochs, description="Passes over the messages shards (paper: 8).")
    learning_rate: float = Field(_SFT.learning_rate, description="Peak learning rate (paper: 5e-5).")
    lr_scheduler: str = Field(_SFT.lr_scheduler, description="Schedule (paper: cosine).")
    warmup_ratio: float = Field(_SFT.warmup_ratio, description="Share of steps warming up (paper: 0.03).")
    weight_decay: float = Field(_SFT.weight_decay, description="Weight decay (paper: 0.1).")
    max_length: int = Field(_SFT.max_length, description="Longest example in tokens (paper: 32768).")
    per_device_batch: int = Field(_SFT.per_device_batch, description="Examples per device per step (paper: 1).")
    grad_accum: int = Field(_SFT.grad_accum, description="Gradient accumulation (paper: 2).")
    max_steps: int = Field(_SFT.max_steps, description="Stop after this many steps; -1: the epochs decide.")
    save_steps: int = Field(_SFT.save_steps, description="A checkpoint every this many steps.")
    logging_steps: int = Field(_SFT.logging_steps, description="A curve point every this many steps.")


class RLRunConfig(dg.Config):
    epochs: float = Field(_RL.epochs, description="Passes over the RL problems (paper: 3).")
    learning_rate: float = Field(_RL.learning_rate, description="Learning rate (paper: 4e-7).")
    num_generations: int = Field(_RL.num_generations, description="Rollouts per prompt (paper: 8).")
    temperature: float = Field(_RL.temperature, description="Rollout temperature (paper: 1.0).")
    beta: float = Field(_RL.beta, description="KL coefficient (paper: none, 0).")
    epsilon: float = Field(_RL.epsilon, description="Lower clip range.")
    epsilon_high: float = Field(_RL.epsilon_high, description="Upper clip range, clip-higher (paper: 0.28).")
    max_completion_length: int = Field(_RL.max_completion_length, description="Longest rollout (paper: 30196).")
    per_device_batch: int = Field(
        _RL.per_device_batch,
        description="Completions per device per step (a multiple of num_generations with grad_accum).",
    )
    grad_accum: int = Field(_RL.grad_accum, description="Gradient accumulation.")
    max_steps: int = Field(_RL.max_steps, description="Stop after this many steps; -1: the epochs decide.")
    save_steps: int = Field(_RL.save_steps, description="A checkpoint every this many steps.")
    logging_steps: int = Field(_RL.logging_steps, description="A curve point every this many steps.")
    reward_workers: int = Field(_RL.reward_workers, description="Sandbox runs at once while scoring completions.")
    reward_fresh_sandbox: bool = Field(
        _RL.reward_fresh_sandbox,
        description="A new sandbox for every completion (closes the channels between programs of a warm one).",
    )


class LoraRunConfig(dg.Config):
    enabled: bool = Field(_LORA.enabled, description="Train LoRA adapters instead of every weight (paper: full).")
    r: int = Field(_LORA.r, description="LoRA rank.")
    alpha: int = Field(_LORA.alpha, description="LoRA alpha.")
    dropout: float = Field(_LORA.dropout, description="LoRA dropout.")
    target_modules: str = Field(_LORA.target_modules, description="Modules adapted (all-linear, or a name).")


class TrainedModelConfig(dg.Config):
    smoke: bool = Field(
        False,
        description=f"The CPU smoke preset: {SMOKE_MODEL} (a tiny random Qwen2 model built in "
        "code, no download) and a few steps; settings given here still override it.",
    )
    stages: str = Field(_TOP.stages, description="SFT, RL (GRPO), or SFT then RL.")
    base_model: str = Field(
        _TOP.base_model,
        description="A Hugging Face model id or a local model folder "
        f"(paper: Qwen2.5-Coder-7B-Instruct); {SMOKE_MODEL}: the tiny random model.",
    )
    sft: SFTRunConfig = Field(default_factory=SFTRunConfig, description="SFT (TRL SFTTrainer on the messages shards).")
    rl: RLRunConfig = Field(default_factory=RLRunConfig, description="RL (TRL GRPOTrainer, sandbox pass-rate reward).")
    lora: LoraRunConfig = Field(default_factory=LoraRunConfig, description="LoRA adapters instead of a full fine-tune.")
    precision: str = Field(_TOP.precision, description="auto: bf16 on a GPU with it.")
    gradient_checkpointing: bool = Field(
        _TOP.gradient_checkpointing, description="Recompute activations (saves memory)."
    )
    sandbox: str = Field(
        _TOP.sandbox, description="The sandbox the RL reward runs completions in, on the training machine."
    )
    seed: int = Field(_TOP.seed, description="Seed of data order, initialisation and sampling.")
    shards_dir: str | None = Field(
        None,
        description="A training_shards/<version> folder; empty: the one the latest "
        "training_shards materialization wrote.",
    )

    def overrides(self) -> dict[str, Any]:
        """Only what was set explicitly: the smoke preset keeps its own values for the rest."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set - {"smoke", "shards_dir"}:
            value = getattr(self, name)
            out[name] = (
                {k: getattr(value, k) for k in value.model_fields_set} if isinstance(value, dg.Config) else value
            )
        return out

    def settings(self) -> TrainSettings:
        return settings_from(self.smoke, self.overrides())


class TrainingLauncher(dg.ConfigurableResource):
    """Where the training job runs: `subprocess` (this machine, e.g. a local GPU box), `docker` (a container
    with every GPU of the Docker host), or `k8s` (a pod with nvidia.com/gpu limits)."""

    launcher: str = Field("subprocess", description="subprocess, docker or k8s.")
    python: str = Field(
        default_factory=lambda: sys.executable,
        description="subprocess: the interpreter with the train extra (pip install -e '.[train]').",
    )
    image: str = Field(
        DEFAULT_TRAIN_IMAGE, description="docker / k8s: the image holding the project with its train extra."
    )
    gpus: int = Field(-1, description="GPUs asked for: docker -1 = all; k8s the nvidia.com/gpu limit (-1 means 1).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment for the job (e.g. HF_HOME).")
    docker_volumes: list[str] = Field(
        default_factory=list,
        description="docker: extra binds host:container[:mode]; the data directory is always bound at its own path.",
    )
    docker_shm_gb: int = Field(16, description="docker: /dev/shm size (dataloaders, NCCL).")
    k8s_namespace: str | None = Field(None, description="k8s: the namespace (unset: the client's).")
    k8s_pod_spec: dict[str, Any] = Field(
        default_factory=dict,
        description="k8s: a base pod spec merged under the "
        "job's container (volumes holding the data directory, node selectors, "
        "tolerations); nvidia.com/gpu limits are added to its first container.",
    )
    kubeconfig_file: str | None = Field(
        None, description="k8s: a kubeconfig file (unset: in-cluster, else ~/.kube/config)."
    )
    load_incluster_config: bool | None = Field(None, description="k8s: use the in-cluster service account config.")

    def settings_record(self) -> dict[str, Any]:
        return {
            "launcher": self.launcher,
            "image": self.image if self.launcher != "subprocess" else None,
            "python": self.python if self.launcher == "subprocess" else None,
            "gpus": self.gpus,
        }

    # -- availability, before anything is launched ---------------------------------------------------
    def check_available(self) -> None:
        """One clear dg.Failure when this launcher cannot start a job here."""
        if self.launcher not in ("subprocess", "docker", "k8s"):
            self._fail("unknown launcher: choose subprocess, docker or k8s")
        getattr(self, f"_check_{self.launcher}")()

    def _fail(self, why: str) -> None:
        raise refused(f"trainer launcher {self.launcher!r}: {why}")

    def _check_subprocess(self) -> None:
        if not Path(self.python).exists():
            self._fail(f"interpreter {self.python} does not exist")
        probe = "import importlib.util,sys; m=[n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]; print(' '.join(m))"
        try:
            out = subprocess.run([self.python, "-c", probe, *TRAIN_IMPORTS], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._fail(f"interpreter {self.python} does not run: {exc}")
        missing = out.stdout.strip()
        if out.returncode or missing:
            self._fail(
                f"{self.python} lacks {missing or out.stderr.strip()[-200:]}: install the train extra "
                "(pip install -e '.[train]')"
            )

    def _check_docker(self) -> None:
        try:
            import docker
        except ImportError:
            self._fail("the docker package is not installed")
        try:
            client = docker.from_env()
            client.ping()
        except Exception as exc:  # DockerException: no socket, no permission, no engine
            self._fail(f"no Docker engine reachable ({str(exc).splitlines()[0][:200]})")
        try:
            client.images.get(self.image)
        except Exception:
            self._fail(f"image {self.image!r} is not on the Docker host (build or pull it first)")

    def _check_k8s(self) -> None:
        try:
            from kubernetes import config as kube_config
        except ImportError:
            self._fail("the kubernetes package is not installed (dagster-k8s)")
        try:
            if self.load_incluster_config:
                kube_config.load_incluster_config()
            elif self.kubeconfig_file or not os.environ.get("KUBERNETES_SERVICE_HOST"):
                kube_config.load_kube_config(config_file=self.kubeconfig_file)
            else:
                kube_config.load_incluster_config()
        except Exception as exc:  # ConfigException: no kubeconfig, no in-cluster service account
            self._fail(f"no cluster configuration ({str(exc).splitlines()[0][:200]})")

    # -- launching ------------------------------------------------------------------------------------
    def run(
        self, context: dg.AssetExecutionContext, extras: dict[str, Any], data_dir: Path
    ) -> dg.PipesClientCompletedInvocation:
        command = ["-m", TRAIN_MODULE]
        if self.launcher == "subprocess":
            client = dg.PipesSubprocessClient(env=self.env)
            return client.run(context=context, command=[self.python, *command], extras=extras)
        if self.launcher == "docker":
            import docker
            from dagster_docker import PipesDockerClient

            volumes = [f"{data_dir}:{data_dir}:rw", *self.docker_volumes]
            kwargs = {
                "device_requests": [docker.types.DeviceRequest(count=self.gpus, capabilities=[["gpu"]])],
                "volumes": volumes,
                "shm_size": f"{self.docker_shm_gb}g",
            }
            return PipesDockerClient(env=self.env).run(
                context=context, image=self.image, command=["python", *command], extras=extras, container_kwargs=kwargs
            )
        from dagster_k8s import PipesK8sClient

        return PipesK8sClient(
            env=self.env, load_incluster_config=self.load_incluster_config, kubeconfig_file=self.kubeconfig_file
        ).run(
            context=context,
            image=self.image,
            command=["python", *command],
            extras=extras,
            namespace=self.k8s_namespace,
            base_pod_spec=self.pod_spec(),
        )

    def pod_spec(self) -> dict[str, Any]:
        """The configured pod spec with the GPU limit on its first container."""
        spec = json.loads(json.dumps(self.k8s_pod_spec))  # a deep copy of plain data
        containers = spec.setdefault("containers", [{}])
        if not containers:
            containers.append({})
        limits = containers[0].setdefault("resources", {}).setdefault("limits", {})
        limits["nvidia.com/gpu"] = str(self.gpus if self.gpus > 0 else 1)
        return spec


def find_shards_dir(context: dg.AssetExecutionContext, config: TrainedModelConfig, root: Path) -> Path:
    """The shards to train on: run config, else the latest training_shards materialization's folder, else
    the newest folder under <data>/training_shards holding a manifest."""
    if config.shards_dir:
        return Path(config.shards_dir)
    event = context.instance.get_latest_materialization_event(dg.AssetKey(SHARDS_DIR))
    materialization = event.asset_materialization if event is not None else None
    if materialization is not None:
        meta = materialization.metadata
        for key in ("folder", "shards_dir"):
            value = meta.get(key)
            text = getattr(value, "value", None) or getattr(value, "path", None)
            if text:
                path = Path(str(text))
                path = path if path.is_dir() else path.parent
                if (path / MANIFEST).is_file():
                    return path
        version = meta.get("shards_version")
        if version is not None and (root / SHARDS_DIR / str(version.value) / MANIFEST).is_file():
            return root / SHARDS_DIR / str(version.value)
    manifests = sorted((root / SHARDS_DIR).glob(f"*/{MANIFEST}"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        raise refused(
            f"trained_model: no training shards under {root / SHARDS_DIR} "
            "(materialize training_shards first, or set shards_dir)"
        )
    return manifests[-1].parent


def check_base_model(name: str) -> None:
    """What can be told here without loading the model: a local folder must hold a config; a hub id must be
    in the local cache when the hub is offline. The job loads config and tokenizer before training too."""
    if name == SMOKE_MODEL:
        return
    path = Path(name).expanduser()
    looks_local = name.startswith(("/", ".", "~")) or path.exists()
    if looks_local:
        if not (path / "config.json").is_file():
            raise refused(f"trained_model: base model {name!r} is not a model folder (no config.json)")
        return
    if name.count("/") != 1:
        raise refused(f"trained_model: base model {name!r} is neither a local folder nor a hub id (owner/name)")
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(name, "config.json"), str):
            raise refused(
                f"trained_model: base model {name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
            )


UI_INLINE_MARKDOWN = 1000  # Dagster's UI shows markdown metadata inline below this length, else behind a link
CHART_POINTS = 24


def _short(value: float) -> str:
    return f"{value:.3g}"


def compact_chart(title: str, points: list[tuple[float, float]], width: int = 360, height: int = 150) -> str:
    """A line chart small enough to stay under the UI's inline limit: at most CHART_POINTS points (evenly
    picked, first and last kept), integer coordinates, the y range and the step range as labels."""
    if len(points) > CHART_POINTS:
        last = len(points) - 1
        points = [points[round(i * last / (CHART_POINTS - 1))] for i in range(CHART_POINTS)]
    left, top, right, bottom = 52, 20, width - 6, height - 20
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx, sy = (right - left) / ((x1 - x0) or 1), (bottom - top) / ((y1 - y0) or 1)
    coords = " ".join(f"{left + (x - x0) * sx:.0f},{bottom - (y - y0) * sy:.0f}" for x, y in points)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11' "
        f"font-family='sans-serif'><text x='4' y='12'>{escape(title)}</text>"
        f"<path d='M{left} {top}V{bottom}H{right}' fill='none' stroke='#888'/>"
        f"<polyline points='{coords}' fill='none' stroke='#4f6bed' stroke-width='2'/>"
        f"<text x='{left - 3}' y='{top + 4}' text-anchor='end'>{_short(y1)}</text>"
        f"<text x='{left - 3}' y='{bottom}' text-anchor='end'>{_short(y0)}</text>"
        f"<text x='{left}' y='{height - 6}'>step {x0:.0f}</text>"
        f"<text x='{right}' y='{height - 6}' text-anchor='end'>{x1:.0f}</text></svg>"
    )


def curve_charts(curves: dict[str, list[list[float]]]) -> dict[str, Any]:
    """The curves the job reported, as charts the UI shows inline (markdown SVG images)."""
    charts: dict[str, Any] = {}
    wanted = [
        ("sft/loss", "SFT loss"),
        ("rl/reward", "GRPO reward (5 x pass rate; -2 no code)"),
        ("rl/loss", "GRPO loss"),
        ("sft/learning_rate", "SFT learning rate"),
        ("rl/learning_rate", "GRPO learning rate"),
    ]
    for name, title in wanted:
        points = [(float(x), float(y)) for x, y in curves.get(name) or []]
        if points:
            key = name.replace("/", "_") + "_chart"
            charts[key] = dg.MetadataValue.md(markdown_image(compact_chart(title, points), title))
    return charts


def shards_to_train_on(
    context: dg.AssetExecutionContext, config: TrainedModelConfig, root: Path
) -> tuple[Path, Shards]:
    """The folder to train on (find_shards_dir: a shards folder or a mixture's) and its shards, verified
    against their manifest before any GPU is asked for; a refusal that names what is wrong."""
    shards_dir = find_shards_dir(context, config, root)
    try:
        return shards_dir, load_shards(shards_dir, verify=True)
    except ShardError as exc:
        raise refused(f"trained_model: training shards: {exc}") from None


def trained_metadata(reported: dict[str, Any], trainer: TrainingLauncher) -> dict[str, Any]:
    """The job's reported metadata for the UI, which lists it in order: the curves as charts and the figures
    first, the launcher, then the long JSON records (settings, data versions, curves)."""
    curves = reported.get("curves")
    curves = getattr(curves, "value", curves) or {}
    bulky = ("settings", "data_versions", "curves")
    metadata = {
        **curve_charts(curves),
        **{k: v for k, v in reported.items() if k not in bulky},
        "launcher": dg.MetadataValue.json(trainer.settings_record()),
        **{k: reported[k] for k in bulky if k in reported},
    }
    if "checkpoint_path" in metadata:
        path = metadata["checkpoint_path"]
        metadata["checkpoint_path"] = dg.MetadataValue.path(str(getattr(path, "value", path)))
    return metadata


@dg.asset(
    **in_stage("training"),
    automation_condition=gpu_cron_gate(),
    deps=[SHARDS_DIR],
    pool=GPU_POOL,
    kinds={"pytorch", "trl"},
    owners=OWNERS,
    description="A checkpoint trained on the training shards: SFT (TRL SFTTrainer on the messages shards), "
    "then GRPO (TRL GRPOTrainer, reward: 5 x the share of up to 10 verified tests the completion's code passes "
    "in the sandbox, -2 without code). Metadata: the checkpoint's path and sha256, the loss / reward / "
    "learning-rate curves, tokens/s and samples/s, the shards version it trained on. Same settings again: resumes.",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_FINITE, asset=OUTPUT_FOLDER, description="Every logged training loss is a finite number."
        )
    ],
)
def trained_model(
    context: dg.AssetExecutionContext, config: TrainedModelConfig, storage: StorageResource, trainer: TrainingLauncher
) -> dg.MaterializeResult:
    try:
        settings = config.settings()
    except (ValueError, TypeError) as exc:
        raise refused(f"trained_model settings: {exc}") from None
    shards_dir, shards = shards_to_train_on(context, config, storage.root)
    check_base_model(settings.base_model)
    trainer.check_available()
    output_root = storage.root / OUTPUT_FOLDER
    output_root.mkdir(parents=True, exist_ok=True)
    context.log.info(
        f"training {settings.stages} of {settings.base_model} on {shards_dir} "
        f"(run key {settings.run_key(shards.version)}) with the {trainer.launcher} launcher"
    )
    extras = {
        "settings": settings.to_dict(),
        "shards_dir": str(shards_dir.resolve()),
        "output_root": str(output_root),
        "smoke": False,
    }
    result = trainer.run(context, extras, storage.root).get_materialize_result()
    return dg.MaterializeResult(
        asset_key=result.asset_key,
        metadata=trained_metadata(dict(result.metadata or {}), trainer),
        data_version=result.data_version,
        check_results=result.check_results,
        tags=result.tags,
    )


@dg.definitions
def defs() -> dg.Definitions:
    # a defs module with a definitions function is loaded through it alone: the asset is listed here
    return dg.Definitions(assets=[trained_model], resources={"trainer": TrainingLauncher()})
