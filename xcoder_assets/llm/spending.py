"""What was actually spent on LLM calls, from the usage log: per run, asset, role and model.

For `xcoder status` (and anything else that reports spending): it reads only the rows sent to a model
(cache hits cost nothing), grouped in SQLite, through a read-only connection that never creates the
file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from xcoder_assets.llm.cache import CACHE_FILE


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
    path = Path(data_dir) / CACHE_FILE
    if not path.exists():
        return []
    where, values = "cache_hit = 0", []
    if run_ids is not None:
        values = list(dict.fromkeys(run_ids))
        if not values:
            return []
        where += f" AND run_id IN ({','.join('?' * len(values))})"
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        rows = con.execute(
            "SELECT run_id, asset, role, model, count(*), count(error), coalesce(sum(prompt_tokens), 0),"
            f" coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0) FROM usage WHERE {where}"
            " GROUP BY run_id, asset, role, model ORDER BY 9 DESC",
            values,
        ).fetchall()
    finally:
        con.close()
    return [Spent(*row) for row in rows]


def spent_total(data_dir: Path | str, run_ids: Iterable[str] | None = None) -> float:
    return sum(row.cost_usd for row in spent(data_dir, run_ids))
