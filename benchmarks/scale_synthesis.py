"""Scale run of the synthesis stages on the offline provider: the demo's size and 10x, in one run.

    .venv/bin/python benchmarks/scale_synthesis.py [--factor 10] [--configs 48] [--rounds 100]

Each size runs in a fresh data directory (no cache): seeds, features and the merged tree once,
then evolved_pool (rounds x factor), feature_configs and problems (configurations x factor). It
prints the seconds of each stage, the seconds per configuration of the per-problem stages
(feature_configs + problems), the seconds per round of evolution, and the ratios 10x / 1x.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dagster as dg  # noqa: E402

from xcoder_assets.definitions import defs as lazy_defs  # noqa: E402
from xcoder_assets.defs.partitions import add_batch  # noqa: E402
from xcoder_assets.defs.resources import LLMGatewayResource, StorageResource  # noqa: E402
from xcoder_assets.recipe.batches import DEFAULT_BATCH  # noqa: E402

DEMO_CONFIGS, DEMO_ROUNDS = 48, 100


def run_size(factor: int, configs: int = DEMO_CONFIGS, rounds: int = DEMO_ROUNDS) -> dict[str, float]:
    defs = lazy_defs()
    assets = {a.key.to_user_string(): a for a in defs.assets}
    with tempfile.TemporaryDirectory(prefix="xcoder-scale-") as tmp:
        resources = {"storage": StorageResource(data_dir=str(Path(tmp) / "data")), "llm": LLMGatewayResource()}
        instance = dg.DagsterInstance.ephemeral()
        add_batch(instance, DEFAULT_BATCH)  # feature_configs and problems are per generation batch
        timings: dict[str, float] = {}
        config = {
            "evolved_pool": {"config": {"rounds": rounds * factor}},
            "feature_configs": {"config": {"count": configs * factor}},
        }
        for name in ("seed_problems", "features", "feature_tree", "evolved_pool", "feature_configs", "problems"):
            started = time.perf_counter()
            result = dg.materialize(
                [assets[name]],
                resources=resources,
                instance=instance,
                run_config={"ops": {k: v for k, v in config.items() if k == name}},
                partition_key=DEFAULT_BATCH if assets[name].partitions_def is not None else None,
            )
            timings[name] = time.perf_counter() - started
            assert result.success, name
            if name == "problems":
                event = result.asset_materializations_for_node("problems")[0]
                timings["problems_kept"] = event.metadata["problems_kept"].value
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--configs", type=int, default=DEMO_CONFIGS, help="configurations at 1x (the demo's 48)")
    parser.add_argument("--rounds", type=int, default=DEMO_ROUNDS, help="evolution rounds at 1x (the demo's 100)")
    args = parser.parse_args()
    configs, rounds = args.configs, args.rounds
    sizes = {factor: run_size(factor, configs, rounds) for factor in (1, args.factor)}
    per_config, per_round = {}, {}
    for factor, t in sizes.items():
        per_config[factor] = (t["feature_configs"] + t["problems"]) / (configs * factor)
        per_round[factor] = t["evolved_pool"] / (rounds * factor)
        print(
            f"{factor:>3}x: {configs * factor} configurations, {int(t['problems_kept'])} problems kept; "
            f"evolved_pool {t['evolved_pool']:.2f} s ({rounds * factor} rounds), feature_configs "
            f"{t['feature_configs']:.2f} s, problems {t['problems']:.2f} s; "
            f"{per_config[factor] * 1000:.1f} ms per configuration, {per_round[factor] * 1000:.1f} ms per round"
        )
    big = args.factor
    print(
        f"ratio {big}x/1x: time per configuration {per_config[big] / per_config[1]:.2f}, "
        f"time per evolution round {per_round[big] / per_round[1]:.2f}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
