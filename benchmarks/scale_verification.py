"""Scale run of the verification stages on the offline provider: 10x the demo's problems.

    .venv/bin/python benchmarks/scale_verification.py [--factor 10] [--configs 48]

A fresh data directory; every stage materializes on the offline provider with 48 x factor
configurations; prints the problems, the sandbox runs of test_inputs and verified_solutions, their
seconds and runs per second, and the funnel.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dagster as dg  # noqa: E402

from xcoder_assets.definitions import defs as lazy_defs  # noqa: E402
from xcoder_assets.defs.partitions import add_batch  # noqa: E402
from xcoder_assets.recipe.batches import DEFAULT_BATCH  # noqa: E402
from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource  # noqa: E402
from xcoder_assets.store.tables import SYNTHESIS_ASSETS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--configs", type=int, default=48, help="configurations at 1x (the demo's 48)")
    args = parser.parse_args()
    defs = lazy_defs()
    assets = {a.key.to_user_string(): a for a in defs.assets}
    with tempfile.TemporaryDirectory(prefix="xcoder-scale-") as tmp:
        resources = {
            "storage": StorageResource(data_dir=str(Path(tmp) / "data")),
            "llm": LLMGatewayResource(),
            "sandbox": SandboxResource(),
        }
        instance = dg.DagsterInstance.ephemeral()
        add_batch(instance, DEFAULT_BATCH)  # the per-problem stages run per generation batch
        meta, seconds = {}, {}
        for name in SYNTHESIS_ASSETS:
            config = {"feature_configs": {"config": {"count": args.configs * args.factor}}}.get(name)
            started = time.perf_counter()
            result = dg.materialize(
                [assets[name]],
                resources=resources,
                instance=instance,
                run_config={"ops": {name: config}} if config else None,
                partition_key=DEFAULT_BATCH if assets[name].partitions_def is not None else None,
            )
            seconds[name] = time.perf_counter() - started
            meta[name] = {k: v.value for k, v in result.asset_materializations_for_node(name)[0].metadata.items()}
        for name in ("test_inputs", "verified_solutions"):
            m = meta[name]
            print(
                f"{name}: {m['sandbox_runs']} sandbox runs ({m['sandbox_runs_cached']} served from the run cache) in "
                f"{seconds[name]:.1f} s; {m['sandbox_runs_per_s']} runs/s while running"
            )
        v = meta["verified_solutions"]
        print(
            f"problems kept {meta['problems']['problems_kept']}, with enough tests "
            f"{meta['test_inputs']['problems_with_enough_inputs']}, with a golden solution {v['problems_verified']}, "
            f"verified solutions {v['dagster/row_count']} rows; candidate_solutions {seconds['candidate_solutions']:.1f} s"
        )


if __name__ == "__main__":
    main()
