"""How the assets run: the concurrency pools they declare and their automation conditions. The asset
modules read these; the schedule, the sensors and the trace job that act on the assets are in
defs/operations.py. No Dagster definition lives here (dg.load_defs finds nothing to load).
"""

import dagster as dg

# ---- concurrency pools ---------------------------------------------------------------------------
# An asset declares `pool=...`; the instance (deploy/dagster.yaml) limits how many steps of one pool
# run at once across every run, so a scheduled batch and a UI launch share the machine.
LLM_POOL = "llm"  # steps that hold many LLM requests in flight through the gateway
SANDBOX_POOL = "sandbox"  # steps that fill every CPU with sandboxed programs
GPU_POOL = "gpu"  # training and serving on the accelerator
POOL_LIMITS: dict[str, int] = {LLM_POOL: 2, SANDBOX_POOL: 1, GPU_POOL: 1}

# ---- automation ---------------------------------------------------------------------------------
NIGHTLY_CRON = "0 2 * * *"  # the nightly batch (UTC)
GPU_CRON = "0 5 * * *"  # after the nightly batch: the GPU assets' only chance to start


def eager_downstream() -> dg.AutomationCondition:
    """For cheap downstream assets (views, shards, reports): materialize as soon as an upstream updates."""
    return dg.AutomationCondition.eager().with_label("eager (cheap downstream)")


def gpu_cron_gate(cron: str = GPU_CRON) -> dg.AutomationCondition:
    """For GPU assets: never eagerly; once per cron tick, when every upstream has updated since the
    tick before, and not while a run of it is in progress."""
    return (dg.AutomationCondition.on_cron(cron, "UTC") & ~dg.AutomationCondition.in_progress()).with_label(
        f"GPU cron gate ({cron} UTC)"
    )
