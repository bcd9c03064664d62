"""Keep litellm's warnings off the terminal, narrowly: only these, by module and category.

- pydantic, building the schemas of litellm's TypedDicts on first use, warns once per class that
  their `ReadOnly` items are not protected (litellm's types, nothing the pipeline can act on);
- pydantic's "serializer warnings" when litellm dumps a response whose fields it typed loosely;
- deprecations raised inside litellm itself (its own use of its dependencies).
Every other warning, ours and litellm's others included, still shows.
"""

from __future__ import annotations

import warnings

_LITELLM = r"litellm(\.|$)"
_FILTERS = (
    dict(
        message=r"Items? .* on TypedDict class .* (is|are) using the `ReadOnly` qualifier",
        category=UserWarning,
        module=r"pydantic\._internal\._generate_schema",
    ),
    dict(message=r"Pydantic serializer warnings", category=UserWarning, module=r"pydantic\.main"),
    dict(category=DeprecationWarning, module=_LITELLM),
    dict(category=PendingDeprecationWarning, module=_LITELLM),
)


def quiet_litellm_warnings() -> None:
    """Install the filters (idempotent: warnings.filterwarnings drops an identical earlier one)."""
    for spec in _FILTERS:
        warnings.filterwarnings("ignore", **spec)
