"""The shared caches' database: a SQLite file (the default, one machine) or Postgres (many hosts).

The LLM response cache, usage log, budget reservations and provider batches (llm/cache.py) and the
sandbox run cache (sandbox/runs.py) each open one `SqlStore`. Which database is one setting:
`XCODER_CACHE_URL=postgresql://user:password@host:port/db` puts every cache in that database; unset,
each cache is its SQLite file in the data directory, in WAL mode, as before. WAL needs every process
on one host, so runs spread over containers or pods on several hosts need Postgres.

One code path, a thin dialect layer: every statement is a file under sql/caches/ (with `?`
placeholders, turned into psycopg2's `%s` for Postgres); a statement whose dialects differ (the schema,
the clock, the budget lock) has a file per dialect in sql/caches/sqlite/ and sql/caches/postgres/.

Claims are what keeps two processes from computing one thing twice: before a process sends a request
(or runs a program on an input) that is not cached, it claims the key in the `claims` table, in one
transaction whose conflict rule lets one claimant win. A key held by another process is waited for
(its answer appears in the cache, or its claim goes away and this process takes it). A claim is a
lease renewed by a heartbeat thread while its process lives: one killed mid-request loses its claims
after the lease (XCODER_CACHE_CLAIM_LEASE_S, default 120 s), and another process takes the work over.

A dropped Postgres connection (a server restart, a failover, `pg_terminate_backend`, a proxy's idle
timeout) is reopened once and the statement retried when that is safe: a read; a write that is
idempotent (every upsert, claim, release and update here); any statement of a transaction the drop cut
short before its COMMIT (the server rolled it back: the transaction is replayed, and its reads must
return what they returned the first time, else it is not). What is not retried: a COMMIT whose outcome
is unknown in a transaction that appends rows (the usage log): it fails with one message
(CacheConnectionLost) rather than risk writing the rows twice.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence

# Inside the package (xcoder_assets/sql links to the top-level sql/ in a checkout), as store/warehouse.py.
SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "caches"
CACHE_URL_ENV = "XCODER_CACHE_URL"
LEASE_ENV = "XCODER_CACHE_CLAIM_LEASE_S"
DEFAULT_LEASE_S = 120.0
POLL_S = 0.25  # how often a process waiting on another's claim looks again
CHUNK = 500  # keys per IN (...) list and per claim transaction
# Statements that add a row each time they run: never run again when a drop leaves their outcome unknown.
APPENDS = frozenset({"usage_insert"})

Dialect = Literal["sqlite", "postgres"]


class MissingTable(Exception):
    """A cache table that is not there: a database (or an old file) no writer has created it in."""


class CacheConfigError(ValueError):
    """XCODER_CACHE_URL (or a cache location) that cannot be used: one message naming it and why."""


class CacheConnectionLost(RuntimeError):
    """The Postgres connection dropped and the statement could not be retried safely (or reopening it
    failed): one message naming the database (no password), what was cut short and why it is not retried."""


def cache_url() -> str | None:
    """The shared database for every cache when XCODER_CACHE_URL is set; None: the SQLite files."""
    url = os.environ.get(CACHE_URL_ENV, "").strip()
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise CacheConfigError(
            f"{CACHE_URL_ENV}={url.split('@')[-1]!r}: not a postgresql:// URL (unset it to keep the SQLite files "
            "in the data directory)"
        )
    return url


def cache_location(data_dir: Path | str, file_name: str) -> str | Path:
    """Where a cache lives: the Postgres URL when one is set, else `<data_dir>/<file_name>`."""
    return cache_url() or Path(data_dir) / file_name


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def describe(location: str | Path) -> str:
    """A location for messages: a URL without its password."""
    if is_url(location):
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", str(location))
    return str(location)


def lease_s() -> float:
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise CacheConfigError(f"{LEASE_ENV}={raw!r}: must be a positive number of seconds")
    return value


_OWNER: dict[int, str] = {}


def process_owner() -> str:
    """This process's name in the claims table (host, pid and a random tag, new after a fork): a key one of
    its caches claimed is this process's in all of them, so a cache opened again after an interruption in
    the same process never waits for its own earlier claims."""
    pid = os.getpid()
    if pid not in _OWNER:
        _OWNER[pid] = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
    return _OWNER[pid]


_TEXTS: dict[tuple[str, str], str] = {}
_TEXTS_LOCK = threading.Lock()


def sql_file(name: str, dialect: Dialect) -> str:
    """sql/caches/<dialect>/<name>.sql, else sql/caches/<name>.sql (the same in both dialects)."""
    with _TEXTS_LOCK:
        text = _TEXTS.get((name, dialect))
        if text is None:
            for path in (SQL_DIR / dialect / f"{name}.sql", SQL_DIR / f"{name}.sql"):
                if path.exists():
                    text = path.read_text(encoding="utf-8")
                    break
            else:
                raise FileNotFoundError(f"SQL file {SQL_DIR / (name + '.sql')} is missing from the package")
            _TEXTS[(name, dialect)] = text
        return text


@dataclass(frozen=True)
class _Result:
    """A statement's column names (None: it returns no rows) and every row, fetched at once."""

    names: list[str] | None
    rows: list[tuple]


@dataclass(frozen=True)
class _Step:
    """One statement of an open transaction, kept so that a transaction cut short by a drop can be replayed."""

    name: str
    text: str
    params: Any  # a tuple, or a list of tuples (many)
    many: bool
    rows: list[tuple] | None  # what a read returned: a replay must read the same


@dataclass(frozen=True)
class Claimed:
    """What a claim found: the keys this process now holds (it computes them), the answers that appeared
    in the cache meanwhile, and the keys another live process holds (to be waited for)."""

    mine: frozenset[str]
    found: dict[str, Any]
    elsewhere: frozenset[str]


class SqlStore:
    """One connection to a cache database, used by one object's threads under one lock."""

    def __init__(self, location: str | Path, schema: str | None, read_only: bool = False, owner: str | None = None):
        """`owner`: whose claims these are (default this process: process_owner; a test stands in for
        another process with another name)."""
        self.location = location
        self.read_only = read_only
        self.dialect: Dialect = "postgres" if is_url(location) else "sqlite"
        self.owner = owner or process_owner()
        self.lease_s = lease_s()
        self._lock = threading.RLock()
        self._held: dict[str, set[str]] = {}  # space -> keys this store holds claims on (for the heartbeat)
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self._journal: list[_Step] | None = None  # the open transaction's statements (Postgres)
        self.reconnects = 0  # connections reopened after a drop (Postgres)
        if self.dialect == "postgres":
            self._con = self._connect_postgres()
        else:
            path = Path(location)
            if read_only:
                self._con = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, timeout=60, check_same_thread=False, isolation_level=None
                )
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._con = sqlite3.connect(path, timeout=60, check_same_thread=False, isolation_level=None)
                self._con.execute("PRAGMA journal_mode=WAL")
                self._con.execute("PRAGMA synchronous=NORMAL")
        if schema and not read_only:
            self.script(schema)

    def _connect_postgres(self) -> Any:
        try:
            import psycopg2  # dagster-postgres's dependency (the code image and `make serve` install it)
        except ImportError:
            raise CacheConfigError(
                f"{CACHE_URL_ENV} names Postgres but psycopg2 is not installed: pip install dagster-postgres "
                "(or psycopg2-binary)"
            ) from None
        try:
            con = psycopg2.connect(str(self.location), connect_timeout=30)
        except psycopg2.Error as exc:
            raise CacheConfigError(
                f"{CACHE_URL_ENV}: cannot connect to {describe(self.location)}: {str(exc).strip()}"
            ) from None
        con.autocommit = True  # transactions are explicit BEGIN ... COMMIT, as on SQLite
        with con.cursor() as cur:
            # As SQLite's synchronous=NORMAL: a commit does not wait for its WAL flush. A database crash may
            # lose the last moments' answers (they are redone), never leave answers and claims inconsistent.
            cur.execute(sql_file("session", "postgres"))
            if self.read_only:
                cur.execute("SET default_transaction_read_only = on")
        return con

    # -- statements ---------------------------------------------------------------------------
    def text(self, name: str, **parts: str) -> str:
        """A statement of sql/caches/ in this dialect; `{now}` is the database's clock (seconds since the
        epoch, so every host agrees), other `{part}`s are filled from `parts` (an IN list's marks)."""
        now = sql_file("now", self.dialect).strip().rstrip(";")
        text = sql_file(name, self.dialect).replace("{now}", now)
        if parts:
            text = text.format(**parts).replace("{now}", now)  # a part may use the clock too (claim_row)
        if self.dialect == "postgres":
            text = text.replace("%", "%%").replace("?", "%s")
        return text

    @staticmethod
    def marks(n: int) -> str:
        return ",".join("?" * n)

    def rows(self, name: str, params: Sequence[Any] = (), **parts: str) -> list[tuple]:
        with self._lock:
            return self._run(name, self.text(name, **parts), tuple(params)).rows

    def named_rows(self, name: str, params: Sequence[Any] = (), **parts: str) -> list[dict[str, Any]]:
        with self._lock:
            result = self._run(name, self.text(name, **parts), tuple(params))
            return [dict(zip(result.names or [], row)) for row in result.rows]

    def execute(self, name: str, params: Sequence[Any] = (), **parts: str) -> None:
        with self._lock:
            self._run(name, self.text(name, **parts), tuple(params))

    def execute_many(self, name: str, rows: Iterable[Sequence[Any]]) -> None:
        """One statement for many rows, in one transaction."""
        text = self.text(name)
        with self._lock, self.transaction():
            self._run(name, text, [tuple(row) for row in rows], many=True)

    def script(self, name: str) -> None:
        """A file of several statements (a schema: idempotent, so retried after a drop)."""
        text = self.text(name)
        with self._lock:
            if self.dialect == "postgres":
                self._run(name, text, ())
            else:
                self._con.executescript(text)

    def transaction(self, begin: str = "begin") -> "_Transaction":
        """`with store.transaction():` BEGIN ... COMMIT (ROLLBACK on an exception); `begin` names the
        statement that opens it (begin_reserve: one writer at a time on the budget table)."""
        return _Transaction(self, begin)

    def in_chunks(self, name: str, keys: Sequence[str], params_before: Sequence[Any] = ()) -> Iterator[tuple]:
        """A statement with an `IN ({marks})` list, run a chunk of keys at a time."""
        for start in range(0, len(keys), CHUNK):
            chunk = list(keys[start : start + CHUNK])
            yield from self.rows(name, [*params_before, *chunk], marks=self.marks(len(chunk)))

    # -- running a statement; a dropped Postgres connection -----------------------------------------
    def _run(self, name: str, text: str, params: Any, many: bool = False) -> _Result:
        """Run one statement (under the lock) and fetch its rows. On Postgres a dropped connection is reopened
        and the statement retried once where that is safe (the module's docstring); else CacheConnectionLost."""
        if self.dialect == "sqlite":
            if many:
                self._con.executemany(text, params)
                return _Result(None, [])
            cursor = self._con.execute(text, params)
            try:
                names = [d[0] for d in cursor.description] if cursor.description else None
                return _Result(names, [tuple(row) for row in cursor.fetchall()] if names else [])
            finally:
                cursor.close()
        if self._con.closed:  # dropped, and seen by an earlier statement: nothing of this one was sent
            self._reconnect(f"before {name}")
            self._replay(name)  # an open transaction's statements so far (none outside one)
        try:
            result = self._pg_once(text, params, many)
        except Exception as exc:
            if not self._lost(exc):
                raise
            if self._journal is None and name in APPENDS:
                raise self._lost_error(
                    exc, f"during {name}", "it appends rows and may have run: not run twice"
                ) from None
            # Safe: a read, an idempotent write, or a statement of a transaction the server rolled back.
            self._reconnect(f"during {name}", exc)
            self._replay(name)
            result = self._pg_retry(name, text, params, many)
        if self._journal is not None:
            self._journal.append(_Step(name, text, params, many, result.rows if result.names is not None else None))
        return result

    def _pg_once(self, text: str, params: Any, many: bool) -> _Result:
        with self._con.cursor() as cur:
            if many:
                cur.executemany(text, params)
                return _Result(None, [])
            cur.execute(text, params)
            if cur.description is None:
                return _Result(None, [])
            return _Result([d[0] for d in cur.description], [tuple(row) for row in cur.fetchall()])

    def _pg_retry(self, name: str, text: str, params: Any, many: bool) -> _Result:
        try:
            return self._pg_once(text, params, many)
        except Exception as exc:
            if self._lost(exc):
                raise self._lost_error(exc, f"during {name}", "it dropped again right after being reopened") from None
            raise

    def _replay(self, cut_short: str) -> None:
        """Run again the statements of the transaction a drop cut short (the server rolled it back); a read
        that returns something else now means the transaction decided on what is gone: not replayed."""
        for step in list(self._journal or []):
            result = self._pg_retry(step.name, step.text, step.params, step.many)
            if step.rows is not None and result.rows != step.rows:
                self._abandon()
                raise CacheConnectionLost(
                    f"{CACHE_URL_ENV}: the connection to {describe(self.location)} dropped during {cut_short}; "
                    f"replaying its transaction, {step.name} read something else than before, so the transaction "
                    "is not replayed (nothing of it was stored; rerun)"
                )

    def _commit(self) -> None:
        """COMMIT the open transaction. A drop during COMMIT leaves its outcome unknown: the transaction is
        replayed and committed again when all its statements are idempotent, else CacheConnectionLost."""
        if self.dialect == "sqlite":
            self._con.execute("COMMIT").close()
            return
        steps = self._journal or []
        try:
            self._pg_once("COMMIT", (), False)
            return
        except Exception as exc:
            if not self._lost(exc):
                raise
            appends = sorted({s.name for s in steps if s.name in APPENDS})
            if appends:
                raise self._lost_error(
                    exc,
                    f"while committing {', '.join(appends)}",
                    "whether it was stored is unknown and it appends rows: not written twice",
                ) from None
            self._reconnect("during COMMIT", exc)
        self._replay("COMMIT")
        self._pg_retry("COMMIT", "COMMIT", (), False)

    def _rollback(self) -> None:
        if self.dialect == "sqlite":
            self._con.execute("ROLLBACK").close()
        elif not self._con.closed:  # a dropped connection's transaction was rolled back by the server
            try:
                self._pg_once("ROLLBACK", (), False)
            except Exception as exc:
                if not self._lost(exc):
                    raise

    def _abandon(self) -> None:
        try:
            self._rollback()
        except Exception:  # the transaction is failing already: its own error is the one to report
            pass

    def _lost(self, exc: BaseException) -> bool:
        """A dropped connection (psycopg2 marks the connection closed), not an error of the statement."""
        import psycopg2

        return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)) and bool(self._con.closed)

    def _lost_error(self, exc: BaseException, where: str, why: str) -> CacheConnectionLost:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CacheConnectionLost(
            f"{CACHE_URL_ENV}: the connection to {describe(self.location)} dropped {where} ({cause}); {why}. "
            "What the cache holds is consistent: rerun to continue from it"
        )

    def _reconnect(self, where: str, exc: BaseException | None = None) -> None:
        """Open the connection again (once per drop); CacheConnectionLost naming the database when it cannot."""
        if self._closed:
            raise CacheConnectionLost(f"{CACHE_URL_ENV}: the cache at {describe(self.location)} is closed")
        try:
            self._con.close()
        except Exception:  # already closed by the drop
            pass
        try:
            self._con = self._connect_postgres()
        except CacheConfigError as err:
            cause = f" ({str(exc).strip().splitlines()[0]})" if exc is not None and str(exc).strip() else ""
            raise CacheConnectionLost(
                f"the connection dropped {where}{cause} and could not be reopened: {err}"
            ) from None
        self.reconnects += 1

    def stream(self, name: str, batch_size: int, **parts: str) -> Iterator[list[tuple]]:
        """A query's rows a batch at a time, so memory holds one batch (Postgres: a server-side cursor).
        MissingTable when the table is not there (a database no writer has created yet). The lock is held
        per step, never across a yield: a consumer (polars) may resume the generator on another thread."""
        text = self.text(name, **parts)
        with self._lock:
            if self.dialect == "sqlite":
                cursor, close = self._open_sqlite_stream(text), self._close_cursor
            else:
                cursor, close = self._open_postgres_stream(name, text, batch_size), self._end_stream
        try:
            while True:
                with self._lock:
                    try:
                        rows = cursor.fetchmany(batch_size)
                    except Exception as exc:
                        # rows already handed out cannot be read again in the same order: not retried
                        if self.dialect == "postgres" and self._lost(exc):
                            raise self._lost_error(exc, f"while streaming {name}", "a stream is not resumed") from None
                        raise
                if not rows:
                    return
                yield rows
        finally:
            with self._lock:
                close(cursor)

    def _open_sqlite_stream(self, text: str) -> Any:
        try:
            return self._con.execute(text)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise MissingTable(str(exc)) from None
            raise

    @staticmethod
    def _close_cursor(cursor: Any) -> None:
        cursor.close()

    def _open_postgres_stream(self, name: str, text: str, batch_size: int, retry: bool = True) -> Any:
        import psycopg2

        if self._con.closed:  # a read: reopening before it is safe
            self._reconnect(f"before {name}")
        self._con.autocommit = False  # a server-side cursor lives in a transaction
        cursor = self._con.cursor(name=f"stream_{secrets.token_hex(4)}")
        cursor.itersize = batch_size
        try:
            cursor.execute(text)
        except psycopg2.errors.UndefinedTable as exc:
            self._end_stream(cursor)
            raise MissingTable(str(exc).strip()) from None
        except BaseException as exc:
            self._end_stream(cursor)
            if retry and self._lost(exc):  # nothing read yet: a read is safe to run again
                self._reconnect(f"during {name}", exc)
                return self._open_postgres_stream(name, text, batch_size, retry=False)
            if self._lost(exc):
                raise self._lost_error(exc, f"during {name}", "it dropped again right after being reopened") from None
            raise
        return cursor

    def _end_stream(self, cursor: Any) -> None:
        try:
            cursor.close()
        except Exception:  # a cursor of a failed transaction: the rollback ends it
            pass
        if self._con.closed:  # dropped mid-stream: the next statement reopens it
            return
        self._con.rollback()
        self._con.autocommit = True

    # -- claims -------------------------------------------------------------------------------
    def claim(self, space: str, keys: Iterable[str], lookup: Callable[[list[str]], dict[str, Any]]) -> Claimed:
        """Claim every key of `keys` that no live claim holds. Keys are claimed in sorted order, a chunk
        per transaction, so two claimants never wait on each other in a cycle. `lookup(keys)` reads the
        answers already stored: a key answered between the caller's first look and its claim is not
        computed again (the answer is returned, the claim given back)."""
        keys = sorted(set(keys))
        if not keys:
            return Claimed(frozenset(), {}, frozenset())
        mine: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                rows = ", ".join([sql_file("claim_row", self.dialect).strip()] * len(chunk))
                params = [value for key in chunk for value in (space, key, self.owner, self.lease_s)]
                with self.transaction():
                    self._run("claim", self.text("claim", rows=rows), tuple(params))
                    owned = self.text("claims_owned", marks=self.marks(len(chunk)))
                    mine.update(k for (k,) in self._run("claims_owned", owned, (space, self.owner, *chunk)).rows)
            self._held.setdefault(space, set()).update(mine)
        self._start_heartbeat()
        found = lookup(sorted(mine)) if mine else {}
        if found:
            self.release(space, found)
        return Claimed(frozenset(mine - set(found)), found, frozenset(set(keys) - mine))

    def release(self, space: str, keys: Iterable[str]) -> None:
        """Give back this process's claims on `keys` (done, failed, or not needed after all)."""
        keys = sorted(set(keys))
        if not keys or self._closed:
            return
        with self._lock:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                text = self.text("claims_release", marks=self.marks(len(chunk)))
                self._run("claims_release", text, (space, self.owner, *chunk))
            self._held.get(space, set()).difference_update(keys)

    def forget(self, space: str, key: str) -> None:
        """A claim ended by the statement that stored its answer (in that statement's transaction)."""
        with self._lock:
            self._held.get(space, set()).discard(key)

    def wait_for(
        self,
        space: str,
        keys: Iterable[str],
        lookup: Callable[[list[str]], dict[str, Any]],
        poll_s: float = POLL_S,
    ) -> Claimed:
        """Block until every key held by another process is answered (in `found`) or its claim is gone
        (released without an answer, or its lease ran out): then it is claimed here (in `mine`)."""
        waiting = set(keys)
        found: dict[str, Any] = {}
        mine: set[str] = set()
        while waiting:
            time.sleep(poll_s)
            claimed = self.look(space, waiting, lookup)
            found.update(claimed.found)
            mine.update(claimed.mine)
            waiting = set(claimed.elsewhere)
        return Claimed(frozenset(mine), found, frozenset())

    def look(self, space: str, keys: Iterable[str], lookup: Callable[[list[str]], dict[str, Any]]) -> Claimed:
        """One look at keys another process held: the answered ones, the ones now claimed here, the rest."""
        keys = sorted(set(keys))
        found = lookup(keys)
        rest = [k for k in keys if k not in found]
        claimed = self.claim(space, rest, lookup)
        return Claimed(claimed.mine, {**found, **claimed.found}, claimed.elsewhere)

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._beat is not None or self._closed:
                return
            self._beat = threading.Thread(target=self._heartbeat, name="cache-claims-heartbeat", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        # Renew this process's claims well before their lease ends; a claim of a dead process is not renewed.
        while not self._stop.wait(self.lease_s / 4):
            try:
                with self._lock:
                    if self._closed:
                        return
                    for space, keys in self._held.items():
                        held = sorted(keys)
                        for start in range(0, len(held), CHUNK):
                            chunk = held[start : start + CHUNK]
                            renew = self.text("claims_renew", marks=self.marks(len(chunk)))
                            self._run("claims_renew", renew, (self.lease_s, space, self.owner, *chunk))
            except Exception:  # a database that went away: the next claim or put reports it
                continue

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._closed:
                return
            try:
                if not self.read_only:
                    for space, keys in list(self._held.items()):
                        self.release(space, keys)  # this cache's claims only: others of the process live on
            except Exception:  # closing never fails a run: a left claim ends with its lease
                pass
            self._closed = True
            self._con.close()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(timeout=5)


class _Transaction:
    def __init__(self, store: SqlStore, begin: str):
        self.store, self.begin = store, begin

    def __enter__(self) -> SqlStore:
        store = self.store
        store._lock.acquire()
        try:
            store._journal = [] if store.dialect == "postgres" else None
            store._run(self.begin, store.text(self.begin), ())
        except BaseException:
            store._journal = None
            store._lock.release()
            raise
        return store

    def __exit__(self, kind, value, tb) -> None:
        store = self.store
        try:
            if kind is None:
                try:
                    store._commit()
                except BaseException:
                    store._abandon()
                    raise
            else:
                store._rollback()
        finally:
            store._journal = None
            store._lock.release()


def usage_rollup(location: Path | str) -> list[tuple]:
    """The usage log per run, asset and model in the rollup's columns (store/warehouse.py), summed by
    Postgres (sql/caches/postgres/usage_rollup.sql): there many hosts append at once, so the SQLite
    rollup's row mark does not apply."""
    store = SqlStore(location, None, read_only=True)
    try:
        return [(*row[:3], *(int(v) for v in row[3:10]), float(row[10])) for row in store.rows("usage_rollup")]
    finally:
        store.close()


def count_responses(location: Path | str) -> int:
    """Answers held in the LLM response cache at `location` (read-only)."""
    store = SqlStore(location, None, read_only=True)
    try:
        return int(store.rows("responses_count")[0][0])
    finally:
        store.close()
