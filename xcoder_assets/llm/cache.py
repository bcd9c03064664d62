"""Persistent response cache and usage log in one SQLite file (`<data_dir>/llm_cache.sqlite`).

SQLite in WAL mode lets the CLI read while a materialization writes, and several processes share it.
Only successful responses are cached (truncated ones included: they are what the model said);
errors are logged but re-tried on the next run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

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

    def close(self) -> None:
        with self._lock:
            self._con.close()
