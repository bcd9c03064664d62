"""What was actually spent on LLM calls, from the usage log: per run, asset, role and model.

For `xcoder status` (and anything else that reports spending): it reads only the rows sent to a model
(cache hits cost nothing), grouped in the cache's database (the SQLite file, or Postgres when
XCODER_CACHE_URL is set), through a read-only connection that never creates the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from xcoder_assets.llm.cache import ResponseCache


@dataclass(frozen=True)
class Spent:
    run_id: str | None
    asset: str | None
    role: str | None
    model: str | None
    requests: int  # sent to the model (errors included: a failed request may still be billed)
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def spent(data_dir: Path | str, run_ids: Iterable[str] | None = None) -> list[Spent]:
    """Spending per (run, asset, role, model), largest first; only the given runs when `run_ids` is given.
    No cache file: nothing was spent."""
    values: list[str] = []
    if run_ids is not None:
        values = list(dict.fromkeys(run_ids))
        if not values:
            return []
    cache = ResponseCache.existing(data_dir)
    if cache is None:
        return []
    try:
        if run_ids is None:
            rows = cache.store.rows("spent")
        else:
            rows = cache.store.rows("spent_runs", values, marks=cache.store.marks(len(values)))
    finally:
        cache.close()
    return [Spent(*row[:6], int(row[6]), int(row[7]), float(row[8])) for row in rows]


def spent_total(data_dir: Path | str, run_ids: Iterable[str] | None = None) -> float:
    return sum(row.cost_usd for row in spent(data_dir, run_ids))
