"""litellm, imported on first use and configured once.

Importing litellm costs about 4 s of CPU (its provider and type tables). Every process that loads the
definitions imports the gateway (the UI's code server, each run's process, `dg` and `dagster` commands,
`xcoder materialize`), and most never send a request: a stage that only reads tables, a definitions
check, a run on the offline simulator's cache. So the gateway and the batches module reach litellm
through `litellm` below, which imports it the first time an attribute is read.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_module: ModuleType | None = None


def load() -> ModuleType:
    """The litellm module, imported and configured on the first call (thread-safe)."""
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                import litellm as module

                module.suppress_debug_info = True
                # a provider that lacks a parameter (top_k on OpenAI) drops it instead of failing
                module.drop_params = True
                _module = module
    return _module


class _LazyLitellm:
    """Stands for the litellm module: reading an attribute imports it (writes go to the module too)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(load(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(load(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(load(), name)


litellm: Any = _LazyLitellm()
