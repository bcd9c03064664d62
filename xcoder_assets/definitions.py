"""The xcoder_assets code location: everything under defs/, merged. Nothing else lives here."""

from pathlib import Path

import dagster as dg

import xcoder_assets  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)


@dg.definitions
def defs() -> dg.Definitions:
    # In-process: every stage parallelises inside itself (async LLM calls, sandbox workers), and a
    # process per step would pay litellm's import for nothing.
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs"),
        dg.Definitions(executor=dg.in_process_executor),
    )
