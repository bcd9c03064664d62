"""Persistent response cache and usage log in one SQLite file (`<data_dir>/llm_cache.sqlite`).

SQLite in WAL mode lets the CLI read while a materialization writes, and several processes share it.
Only successful responses are cached (truncated ones included: they are what the model said);
errors are logged but re-tried on the next run. The same file holds the budgets' reservations
(budget.py) and the provider batches submitted and not yet collected (batches.py); tables and
indexes are only ever added, with IF NOT EXISTS, so older files keep working.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

CACHE_FILE = "llm_cache.sqlite"  # in the data directory (defs/resources.py names it too)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    cache_key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    template TEXT,
    request_json TEXT NOT NULL,
    response_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    ts REAL NOT NULL,
    run_id TEXT,
    asset TEXT,
    role TEXT,
    model TEXT,
    cache_key TEXT,
    cache_hit INTEGER NOT NULL,
    error TEXT,
    attempts INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost_usd REAL
);
-- Money set aside for requests in flight, per budget scope (run:<id>, day:<date>, batch:<key>): a Dagster
-- run's assets run in several processes, so a run's budget is shared through this table.
CREATE TABLE IF NOT EXISTS budget_reservations (
    reservation_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    reserved_usd REAL NOT NULL,
    spent_usd REAL,
    settled INTEGER NOT NULL DEFAULT 0,
    ts REAL NOT NULL,
    PRIMARY KEY (reservation_id, scope)
);
CREATE INDEX IF NOT EXISTS budget_reservations_scope ON budget_reservations (scope);
-- Provider batches (batch API): submitted, then collected; a pending one is resumed, never resubmitted.
CREATE TABLE IF NOT EXISTS llm_batches (
    batch_id TEXT PRIMARY KEY,
    provider_batch_id TEXT NOT NULL,
    input_file_id TEXT NOT NULL,
    run_id TEXT,
    asset TEXT,
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    cache_keys_json TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    submitted_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS usage_run_asset ON usage (run_id, asset);
"""


class ResponseCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.executescript(_SCHEMA)

    @classmethod
    def read_only(cls, path: Path) -> "ResponseCache":
        """For readers that must not change the file (an estimate): no schema created, no writes."""
        cache = cls.__new__(cls)
        cache.path = Path(path)
        cache._lock = threading.Lock()
        cache._con = sqlite3.connect(
            f"file:{cache.path}?mode=ro", uri=True, timeout=60, check_same_thread=False, isolation_level=None
        )
        return cache

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, response in self._con.execute(
                    f"SELECT cache_key, response_json FROM responses WHERE cache_key IN ({marks})", chunk
                ):
                    found[key] = json.loads(response)
        return found

    def put(self, key: str, model: str, template: str | None, request: dict, response: dict) -> None:
        with self._lock:
            self._con.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, template, json.dumps(request, sort_keys=True), json.dumps(response), time.time()),
            )

    def log_usage(self, rows: list[tuple]) -> None:
        if not rows:
            return
        with self._lock:
            self._con.execute("BEGIN")
            self._con.executemany("INSERT INTO usage VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            self._con.execute("COMMIT")

    def totals(self) -> dict[str, Any]:
        with self._lock:
            row = self._con.execute(
                "SELECT count(*) FILTER (WHERE cache_hit = 0 AND error IS NULL),"
                " count(*) FILTER (WHERE cache_hit = 1),"
                " count(*) FILTER (WHERE error IS NOT NULL),"
                " coalesce(sum(prompt_tokens) FILTER (WHERE cache_hit = 0), 0),"
                " coalesce(sum(completion_tokens) FILTER (WHERE cache_hit = 0), 0),"
                " coalesce(sum(cost_usd) FILTER (WHERE cache_hit = 0), 0),"
                " (SELECT count(*) FROM responses) FROM usage"
            ).fetchone()
        return {
            "llm_calls": row[0],
            "cache_hits": row[1],
            "errors": row[2],
            "prompt_tokens": row[3],
            "completion_tokens": row[4],
            "cost_usd": round(row[5], 6),
            "cached_responses": row[6],
        }

    # -- budgets -----------------------------------------------------------------------------
    def reserve(self, reservation_id: str, amount: float, limits: dict[str, float]) -> tuple[bool, dict[str, float]]:
        """Set `amount` aside in every scope of `limits` ({scope: USD}) at once, or in none: (False, committed
        per scope) when one scope's settled spending plus open reservations plus `amount` would pass its
        limit. One write transaction (BEGIN IMMEDIATE) across processes."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                committed = {scope: self._committed(scope) for scope in limits}
                if any(committed[scope] + amount > limit + 1e-12 for scope, limit in limits.items()):
                    self._con.execute("ROLLBACK")
                    return False, committed
                now = time.time()
                self._con.executemany(
                    "INSERT OR REPLACE INTO budget_reservations VALUES (?, ?, ?, NULL, 0, ?)",
                    [(reservation_id, scope, amount, now) for scope in limits],
                )
                self._con.execute("COMMIT")
                return True, committed
            except BaseException:
                self._con.execute("ROLLBACK")
                raise

    def settle(self, reservation_id: str, spent: float) -> None:
        """What a reserved request really cost (0 when it failed); its reservation ends."""
        with self._lock:
            self._con.execute(
                "UPDATE budget_reservations SET spent_usd = ?, settled = 1 WHERE reservation_id = ?",
                (spent, reservation_id),
            )

    def _committed(self, scope: str) -> float:
        # A reservation left open by a process that died counts in full: the request may have been
        # answered and billed, so the budget never under-counts.
        row = self._con.execute(
            "SELECT coalesce(sum(CASE WHEN settled = 1 THEN spent_usd ELSE reserved_usd END), 0)"
            " FROM budget_reservations WHERE scope = ?",
            (scope,),
        ).fetchone()
        return float(row[0])

    def committed(self, scope: str) -> tuple[float, float]:
        """(spent, still reserved) in one scope."""
        with self._lock:
            row = self._con.execute(
                "SELECT coalesce(sum(spent_usd) FILTER (WHERE settled = 1), 0),"
                " coalesce(sum(reserved_usd) FILTER (WHERE settled = 0), 0) FROM budget_reservations WHERE scope = ?",
                (scope,),
            ).fetchone()
        return float(row[0]), float(row[1])

    # -- provider batches ----------------------------------------------------------------------
    def add_batch(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._con.execute(
                "INSERT INTO llm_batches VALUES (:batch_id, :provider_batch_id, :input_file_id, :run_id, :asset,"
                " :role, :model, :cache_keys_json, :status, :reason, :submitted_at, :finished_at)",
                record,
            )

    def open_batches(self, role: str, model: str) -> list[dict[str, Any]]:
        """Submitted batches of this role and model not collected yet, oldest first."""
        with self._lock:
            cursor = self._con.execute(
                "SELECT * FROM llm_batches WHERE role = ? AND model = ? AND finished_at IS NULL ORDER BY submitted_at",
                (role, model),
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def unfinished_batches(self) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._con.execute(
                "SELECT batch_id, provider_batch_id, run_id, asset, role, model, status, submitted_at"
                " FROM llm_batches WHERE finished_at IS NULL ORDER BY submitted_at"
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def finish_batch(self, batch_id: str, status: str, reason: str | None) -> None:
        with self._lock:
            self._con.execute(
                "UPDATE llm_batches SET status = ?, reason = ?, finished_at = ? WHERE batch_id = ?",
                (status, reason, time.time(), batch_id),
            )

    def update_batch_status(self, batch_id: str, status: str) -> None:
        with self._lock:
            self._con.execute("UPDATE llm_batches SET status = ? WHERE batch_id = ?", (status, batch_id))

    # -- history, for estimates ------------------------------------------------------------------
    def token_history(self) -> list[tuple[str, str, int, float, float]]:
        """(template, model, answers, mean prompt tokens, mean completion tokens) of the answered requests
        sent to a model (cache hits repeat them; errors have no tokens)."""
        with self._lock:
            return self._con.execute(
                "SELECT r.template, u.model, count(*), avg(u.prompt_tokens), avg(u.completion_tokens)"
                " FROM usage u JOIN responses r ON r.cache_key = u.cache_key"
                " WHERE u.cache_hit = 0 AND u.error IS NULL AND u.prompt_tokens > 0"
                " GROUP BY r.template, u.model"
            ).fetchall()

    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    k
                    for (k,) in self._con.execute(
                        f"SELECT cache_key FROM responses WHERE cache_key IN ({marks})", chunk
                    )
                )
        return found

    def close(self) -> None:
        with self._lock:
            self._con.close()
