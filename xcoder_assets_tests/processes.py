"""Separate OS processes for the tests that race on a cache (claims, budget reservations, leases).

They are forked from a server process that imported litellm and the caches once (multiprocessing's
forkserver), not started as fresh interpreters (spawn) that each import litellm again: about 8 s of CPU per
process, most of a race's cost. They are still processes of their own, sharing nothing but what they are
given. Each starts with the environment of the moment it is started, as a spawned one does, not the
server's (which holds the environment of whenever the server started).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable, Sequence

import xcoder_assets  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before the server imports litellm)

PRELOAD = ["litellm", "xcoder_assets.llm.gateway", "xcoder_assets.llm.cache", "xcoder_assets.sandbox.runs"]


def _in_environment(environment: dict[str, str], target: Callable[..., Any], args: Sequence[Any]) -> None:
    os.environ.clear()
    os.environ.update(environment)
    target(*args)


class Workers:
    """multiprocessing's forkserver context with the heavy imports preloaded; `process` as Context.Process."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)  # takes effect when this process's server first starts

    def process(self, target: Callable[..., Any], args: Sequence[Any] = ()) -> Any:
        return self.context.Process(target=_in_environment, args=(dict(os.environ), target, tuple(args)))

    def __getattr__(self, name: str) -> Any:  # Queue, Barrier, Event...
        return getattr(self.context, name)
