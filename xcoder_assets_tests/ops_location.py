"""A code location for the deployment tests: the project's assets, checks and resources, with the
project's schedule and sensor factories ticking every minute and polling every few seconds.

The schedule is the real nightly_batch (the five batched assets, seed to verified solutions, on the
offline simulator), only on a one-minute cron, so a test sees a tick add a batch and materialize it.
"""

import dagster as dg

from xcoder_assets.defs import operations as ops
from xcoder_assets import definitions as project_location


def _location() -> dg.Definitions:
    # The project's definitions only by their module: a second Definitions (or @dg.definitions
    # function) at module level would be the one Dagster loads, with the real nightly cron.
    project = project_location.defs()
    return dg.Definitions(
        assets=project.assets,
        asset_checks=project.asset_checks,
        schedules=[ops.build_batch_schedule(cron="* * * * *")],
        sensors=[ops.build_lcb_release_sensor(dg.AssetSelection.assets("lcb_problems"), minimum_interval_seconds=5)],
        jobs=[ops.trace_row],
        resources=project.resources,
        executor=dg.in_process_executor,
    )


defs = _location()
