"""Running many programs on many inputs in the sandbox, with every finished run cached.

The cache (SQLite, `<data_dir>/sandbox_cache.sqlite`; or the Postgres database XCODER_CACHE_URL names,
for runs on several hosts: store/sqlstore.py) is keyed by the program, the input, the profile, the
function name and the limits: a materialization that stops and starts again redoes no finished run,
and a program that did not change is not run again on an input it has seen. A run being run now is
claimed in the cache, so two processes (or hosts) given the same work run each pair once: the second
waits for the first one's result.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from xcoder_assets.sandbox.backends import Limits
from xcoder_assets.sandbox.judge import run_program
from xcoder_assets.sandbox.outcome import ABANDONED, RunOutcome
from xcoder_assets.store.ids import content_hash
from xcoder_assets.store.sqlstore import Claimed, SqlStore, cache_location
from xcoder_assets.store.tables import RUN_CACHE_FILE

log = logging.getLogger(__name__)

CLAIM_SPACE = "run"  # the claims table's space for sandbox runs


class RunCache:
    def __init__(self, path: Path | str | None, owner: str | None = None):
        """`path`: the SQLite file, a postgresql:// URL, or None (no cache: every run is run). `owner`: whose
        claims (default this process)."""
        self._store = SqlStore(path, "schema_runs", owner=owner) if path is not None else None

    @classmethod
    def at(cls, data_dir: Path | str) -> "RunCache":
        """The run cache of a data directory: XCODER_CACHE_URL's database when set, else its SQLite file."""
        return cls(cache_location(data_dir, RUN_CACHE_FILE))

    def get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if self._store is None:
            return {}
        return {key: json.loads(result) for key, result in self._store.in_chunks("runs_get", list(keys))}

    def put(self, key: str, result: dict[str, Any]) -> None:
        """Store a result; this process's claim on the run (if any) ends in the same transaction."""
        if self._store is None:
            return
        with self._store.transaction() as store:
            store.execute("run_put", (key, json.dumps(result), time.time()))
            store.execute("claim_done", (CLAIM_SPACE, key, store.owner))
        self._store.forget(CLAIM_SPACE, key)

    def claim(self, keys: Sequence[str]) -> Claimed:
        """Claim the runs no other process is running (`mine`); results stored meanwhile (`found`); the rest
        (`elsewhere`) another process runs now. Without a cache every key is this process's."""
        if self._store is None:
            return Claimed(frozenset(keys), {}, frozenset())
        return self._store.claim(CLAIM_SPACE, keys, self.get_many)

    def wait_for(self, keys: Sequence[str]) -> Claimed:
        """Until each run another process holds has its result (`found`) or is claimed here (`mine`)."""
        if self._store is None or not keys:
            return Claimed(frozenset(keys), {}, frozenset())
        return self._store.wait_for(CLAIM_SPACE, keys, self.get_many)

    def release(self, keys: Sequence[str]) -> None:
        if self._store is not None:
            self._store.release(CLAIM_SPACE, keys)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@dataclass
class RunStats:
    runs: int = 0  # program x input pairs asked for
    executed: int = 0  # actually run in a sandbox now
    cached: int = 0
    seconds: float = 0.0

    @property
    def runs_per_s(self) -> float:
        return self.executed / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Program:
    code: str
    func_name: str | None = None


def run_key(program: Program, test_input: str, limits: Limits, profile: str, earlier: Sequence[str] = ()) -> str:
    """`earlier`: for profile lcb, the inputs run before this one in the same process (their state carries)."""
    key: dict[str, Any] = {
        "code": program.code,
        "func": program.func_name,
        "input": test_input,
        "limits": asdict(limits),
        "profile": profile,
    }
    if profile == "lcb":
        key["earlier"] = content_hash(list(earlier), 32)
    return content_hash(key, 32)


def run_matrix(
    backend: Any,
    programs: Sequence[Program],
    inputs: Sequence[Sequence[str]],
    limits: Limits,
    cache: RunCache,
    *,
    profile: str = "strict",
    workers: int = 2,
    abandon_after_timeouts: int | None = None,
    on_progress: Callable[[int, int, int, int], None] | None = None,
) -> tuple[list[list[RunOutcome]], RunStats]:
    """outcomes[p][i]: program p's run on its inputs[p][i] (each program has its own input list).

    With `abandon_after_timeouts`, a program that hits the time limit that many times is not run on
    its remaining inputs (they get {"abandoned": reason}): a too-slow program costs seconds per input.
    Profile lcb runs a program's inputs in one process, in order, and stops at its first error (the
    rest are abandoned), so there a run is cached with the inputs before it.

    `on_progress(done, total, cached, not_run)` is called after each finished program, from the worker
    threads but one call at a time, in runs (program x input pairs): runs finished so far, all runs
    asked for, how many of the finished ones came from the cache, and how many were not run (skipped
    after the program's time limits, not compiled, or a sandbox failure); the rest were executed. It
    should be cheap (a caller throttles); an exception it raises is logged, never the end of the batch.
    """
    started = time.perf_counter()
    stats = RunStats()
    lock = threading.Lock()
    results: list[list[dict[str, Any] | None]] = [[None] * len(inputs[p]) for p in range(len(programs))]
    total_runs = sum(len(row) for row in inputs)
    progress = {"done": 0, "cached": 0, "executed": 0, "warned": False}

    def report(p: int, cached: int, executed: int) -> None:
        if on_progress is None:
            return
        with lock:
            progress["done"] += len(inputs[p])
            progress["cached"] += cached
            progress["executed"] += executed
            not_run = progress["done"] - progress["cached"] - progress["executed"]
            try:
                on_progress(progress["done"], total_runs, progress["cached"], not_run)
            except Exception as exc:  # progress is for people: it never costs the batch
                if not progress["warned"]:
                    progress["warned"] = True
                    log.warning(
                        "run_matrix: on_progress raised %s: %s (further errors not logged)", type(exc).__name__, exc
                    )

    def one(p: int) -> None:
        cached, executed = [0], [0]
        try:
            _one(p, cached, executed)
        finally:
            report(p, cached[0], executed[0])

    def _one(p: int, cached_count: list[int], executed_count: list[int]) -> None:
        program = programs[p]
        keys = [run_key(program, i, limits, profile, inputs[p][:position]) for position, i in enumerate(inputs[p])]
        known = cache.get_many(keys)
        ran: set[int] = set()  # indices run here (their results set by _run)
        todo = sorted({key for key in keys if key not in known})
        while todo:
            claimed = cache.claim(todo)  # what another process runs now is waited for, not run twice
            known.update(claimed.found)
            mine = set(claimed.mine)
            if profile == "lcb" and mine and claimed.elsewhere:
                cache.release(sorted(mine))  # lcb runs a program's inputs in one process, in order: all or none
                mine = set()
            if mine:
                missing = [i for i, key in enumerate(keys) if key in mine]
                if profile == "lcb":
                    missing = list(range(len(keys)))  # one process runs them in order: a later run needs the earlier
                try:
                    _run(p, keys, known, missing, executed_count)
                finally:
                    cache.release(sorted(mine))  # runs not stored (abandoned, sandbox errors): others may take them
                ran.update(missing)
            rest = [key for key in todo if key not in known and key not in mine]  # held elsewhere (lcb: or given back)
            if not rest:
                break
            waited = cache.wait_for(rest)
            known.update(waited.found)
            todo = [key for key in rest if key not in known]  # released without a result: claimed here, run next
        from_cache = [i for i in range(len(keys)) if i not in ran]
        for i in from_cache:
            results[p][i] = known[keys[i]]
        cached_count[0] = len(from_cache)
        with lock:
            stats.runs += len(keys)
            stats.cached += len(from_cache)

    def _run(
        p: int, keys: list[str], known: dict[str, dict[str, Any]], missing: list[int], executed_count: list[int]
    ) -> None:
        program = programs[p]
        timeouts = [sum(1 for r in known.values() if _timed_out(r, limits))]
        if abandon_after_timeouts is not None and timeouts[0] >= abandon_after_timeouts:
            for index in missing:
                results[p][index] = {ABANDONED: f"not run: {timeouts[0]} time limits already"}
            return

        def store(position: int, raw: dict[str, Any]) -> bool:
            index = missing[position]
            results[p][index] = raw
            if "sandbox_error" not in raw:  # a broken sandbox is not the program's result: run it again next time
                cache.put(keys[index], raw)
            timeouts[0] += _timed_out(raw, limits)
            return abandon_after_timeouts is None or timeouts[0] < abandon_after_timeouts

        compile_error, raws = run_program(
            backend,
            program.code,
            [inputs[p][i] for i in missing],
            limits,
            profile=profile,
            func_name=program.func_name,
            on_result=store,
        )
        for position, index in enumerate(missing):
            if results[p][index] is None:
                if raws and "sandbox_error" not in raws[-1] and not compile_error:
                    stopped = (
                        f"not run: {timeouts[0]} time limits already"
                        if profile != "lcb" or timeouts[0]
                        else "not run: the solution's process stopped at an earlier failure"
                    )
                    results[p][index] = {ABANDONED: stopped}
                    continue
                raw = (
                    {"compile_error": compile_error}
                    if compile_error
                    else (raws[-1] if raws else {"sandbox_error": "no result"})
                )
                results[p][index] = raw
                if compile_error:
                    cache.put(keys[index], raw)
        executed = sum(1 for raw in raws if "sandbox_error" not in raw)
        executed_count[0] += executed
        with lock:
            stats.executed += executed

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, range(len(programs))))
    stats.seconds = time.perf_counter() - started
    return [[RunOutcome.of(raw, limits) for raw in row] for row in results], stats  # type: ignore[arg-type]


def _timed_out(raw: dict[str, Any], limits: Limits) -> bool:
    return RunOutcome.of(raw, limits).timed_out
