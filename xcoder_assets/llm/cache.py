"""Persistent response cache and usage log: `<data_dir>/llm_cache.sqlite`, or Postgres for many hosts.

By default one SQLite file in WAL mode (the CLI reads while a materialization writes, and several
processes of one host share it). With XCODER_CACHE_URL=postgresql://... every process on every host
shares the same tables in Postgres (store/sqlstore.py: one code path, the SQL in sql/caches/).
Only successful responses are cached (truncated ones included: they are what the model said);
errors are logged but re-tried on the next run. The same database holds the budgets' reservations
(budget.py), the provider batches submitted and not yet collected (batches.py), and the claims on
requests being sent (`Claims`): a request another process is sending is waited for, never sent twice.
Tables and indexes are only ever added, with IF NOT EXISTS, so older files keep working.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Iterable

from xcoder_assets.store.sqlstore import POLL_S, Claimed, SqlStore, cache_location, is_url
from xcoder_assets.store.tables import LLM_CACHE_FILE

CACHE_FILE = LLM_CACHE_FILE  # in the data directory
CLAIM_SPACE = "llm"  # the claims table's space for requests (the sandbox's runs have their own)


class ResponseCache:
    def __init__(self, path: Path | str, owner: str | None = None):
        """`path`: the SQLite file, or a postgresql:// URL. `owner`: whose claims (default this process)."""
        self.path = path if isinstance(path, str) and "://" in path else Path(path)
        self._store = SqlStore(self.path, "schema_llm", owner=owner)

    @classmethod
    def at(cls, data_dir: Path | str) -> "ResponseCache":
        """The cache of a data directory: XCODER_CACHE_URL's database when set, else its SQLite file."""
        return cls(cache_location(data_dir, CACHE_FILE))

    @classmethod
    def read_only(cls, path: Path | str) -> "ResponseCache":
        """For readers that must not change the database (an estimate): no schema created, no writes."""
        cache = cls.__new__(cls)
        cache.path = path if isinstance(path, str) and "://" in path else Path(path)
        cache._store = SqlStore(cache.path, None, read_only=True)
        return cache

    @classmethod
    def existing(cls, data_dir: Path | str) -> "ResponseCache | None":
        """A data directory's cache opened read-only (XCODER_CACHE_URL's database when set), or None when it has
        none yet: for readers (the estimate, spending, pending batches) that must create nothing."""
        location = cache_location(data_dir, CACHE_FILE)
        if not is_url(location) and not Path(location).exists():
            return None
        return cls.read_only(location)

    @property
    def store(self) -> SqlStore:
        return self._store

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        return {key: json.loads(response) for key, response in self._store.in_chunks("responses_get", keys)}

    def put(self, key: str, model: str, template: str | None, request: dict, response: dict) -> None:
        """Store an answer; this process's claim on the request (if any) ends in the same transaction, so
        a process that finds the claim gone finds the answer."""
        row = (key, model, template, json.dumps(request, sort_keys=True), json.dumps(response), time.time())
        with self._store.transaction() as store:
            store.execute("response_put", row)
            store.execute("claim_done", (CLAIM_SPACE, key, store.owner))
        self._store.forget(CLAIM_SPACE, key)

    def log_usage(self, rows: list[tuple]) -> None:
        if rows:
            self._store.execute_many("usage_insert", rows)

    def totals(self) -> dict[str, Any]:
        row = self._store.rows("totals")[0]
        return {
            "llm_calls": int(row[0]),
            "cache_hits": int(row[1]),
            "errors": int(row[2]),
            "prompt_tokens": int(row[3]),  # Postgres sums integers as numeric
            "completion_tokens": int(row[4]),
            "cost_usd": round(float(row[5]), 6),
            "cached_responses": int(row[6]),
        }

    # -- claims --------------------------------------------------------------------------------
    def claims(self, keys: Iterable[str]) -> "Claims":
        """Claim the cache misses of one gateway batch (see Claims); close it when the batch ends."""
        return Claims(self, keys)

    # -- budgets -----------------------------------------------------------------------------
    def reserve(self, reservation_id: str, amount: float, limits: dict[str, float]) -> tuple[bool, dict[str, float]]:
        """Set `amount` aside in every scope of `limits` ({scope: USD}) at once, or in none: (False, committed
        per scope) when one scope's settled spending plus open reservations plus `amount` would pass its
        limit. One write transaction that excludes every other reserver (sql/caches/*/begin_reserve.sql),
        across processes and, on Postgres, hosts."""
        with self._store.transaction("begin_reserve") as store:
            committed = {scope: float(store.rows("reservation_committed", (scope,))[0][0]) for scope in limits}
            if any(committed[scope] + amount > limit + 1e-12 for scope, limit in limits.items()):
                return False, committed
            now = time.time()
            for scope in limits:
                store.execute("reservation_insert", (reservation_id, scope, amount, now))
            return True, committed

    def settle(self, reservation_id: str, spent: float) -> None:
        """What a reserved request really cost (0 when it failed); its reservation ends."""
        self._store.execute("reservation_settle", (spent, reservation_id))

    def committed(self, scope: str) -> tuple[float, float]:
        """(spent, still reserved) in one scope."""
        row = self._store.rows("reservation_split", (scope,))[0]
        return float(row[0]), float(row[1])

    # -- provider batches ----------------------------------------------------------------------
    BATCH_COLUMNS = (
        "batch_id",
        "provider_batch_id",
        "input_file_id",
        "run_id",
        "asset",
        "role",
        "model",
        "cache_keys_json",
        "status",
        "reason",
        "submitted_at",
        "finished_at",
    )

    def add_batch(self, record: dict[str, Any], release: Iterable[str] = ()) -> None:
        """Record a submitted batch; this process's claims on `release` (the keys it was submitted for) end in
        the same transaction, so a process that finds a claim gone finds the batch that holds its request."""
        with self._store.transaction() as store:
            store.execute("batch_add", [record[c] for c in self.BATCH_COLUMNS])
            store.release(CLAIM_SPACE, release)

    def open_batches(self, role: str, model: str) -> list[dict[str, Any]]:
        """Submitted batches of this role and model not collected yet, oldest first."""
        return self._store.named_rows("batches_open", (role, model))

    def unfinished_batches(self) -> list[dict[str, Any]]:
        return self._store.named_rows("batches_unfinished")

    def finish_batch(self, batch_id: str, status: str, reason: str | None) -> None:
        self._store.execute("batch_finish", (status, reason, time.time(), batch_id))

    def update_batch_status(self, batch_id: str, status: str) -> None:
        self._store.execute("batch_status", (status, batch_id))

    # -- history, for estimates ------------------------------------------------------------------
    def token_history(self) -> list[tuple[str, str, int, float, float]]:
        """(template, model, answers, mean prompt tokens, mean completion tokens) of the answered requests
        sent to a model (cache hits repeat them; errors have no tokens)."""
        return [(t, m, int(n), float(p), float(c)) for t, m, n, p, c in self._store.rows("token_history")]

    def cached_keys(self, keys: Iterable[str]) -> set[str]:
        keys = list(dict.fromkeys(keys))
        return {key for (key,) in self._store.in_chunks("responses_keys", keys)}

    def close(self) -> None:
        self._store.close()


class Claims:
    """The cache misses of one gateway batch, claimed so that no other process (on any host sharing the
    database) sends them too. `acquire(key)` before sending: None when this process holds the claim (send
    it; `put` ends the claim), or the answer another process stored meanwhile (use it as a cache hit). A
    key another process holds is waited for by one poller per batch; when its claim goes away without an
    answer (that process failed or died), the key is claimed here and sent. `close()` gives back what is
    left (requests not sent: a budget stop, errors), so waiting processes take them over."""

    poll_s = POLL_S  # how often the poller looks at the keys other processes hold

    def __init__(self, cache: ResponseCache, keys: Iterable[str]):
        self.cache = cache
        self.store = cache.store
        first = self.store.claim(CLAIM_SPACE, keys, cache.get_many)
        self.mine = set(first.mine)
        self.found: dict[str, dict[str, Any]] = dict(first.found)
        self.elsewhere = set(first.elsewhere)
        self._waiting: dict[str, asyncio.Future] = {}
        self._poller: asyncio.Task | None = None

    async def acquire(self, key: str) -> dict[str, Any] | None:
        if key in self.found:
            return self.found[key]
        if key not in self.elsewhere:
            return None  # claimed here (or no claim asked for it): send
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            if self._poller is None or self._poller.done():
                self._poller = asyncio.ensure_future(self._poll())
        return await future

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.poll_s)
            keys = [k for k, f in self._waiting.items() if not f.done()]
            looked: Claimed = await asyncio.to_thread(self.store.look, CLAIM_SPACE, keys, self.cache.get_many)
            for key, answer in looked.found.items():
                self.found[key] = answer
                self._resolve(key, answer)
            for key in looked.mine:
                self.mine.add(key)
                self.elsewhere.discard(key)
                self._resolve(key, None)

    def _resolve(self, key: str, value: dict[str, Any] | None) -> None:
        future = self._waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(value)

    def close(self) -> None:
        if self._poller is not None and not self._poller.done():
            self._poller.cancel()
        self.store.release(CLAIM_SPACE, self.mine)
