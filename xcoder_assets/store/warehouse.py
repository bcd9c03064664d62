"""DuckDB over the Parquet files: one view per asset, a lineage view, and the queries of `sql/`.

The SQL lives in files under `sql/` (views/<table>.sql, lineage/<table>.sql, and queries); this
module only fills in the data directory and picks the files whose data exists yet.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from polars.io.plugins import register_io_source

from xcoder_assets.store.ids import ID_KINDS, kind_of
from xcoder_assets.store.parquet import damage_of, unreadable
from xcoder_assets.store.sqlstore import MissingTable, SqlStore, cache_location, count_responses, is_url, usage_rollup
from xcoder_assets.store.tables import (
    ALL_TABLES,
    ASSET_TABLES,
    BATCH_FOLDER_PREFIX,
    BATCHES_DIR,
    LLM_CACHE_FILE,
    Table,
    batch_dir,
    batch_dirs,
    llm_calls_path,
)

# Inside the package (xcoder_assets/sql links to the top-level sql/ in a checkout), so an installed wheel has it.
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
WAREHOUSE_FILE = "xcoder.duckdb"

# The gateway's usage log, one row per request it answered (a call, a cache hit, or not sent), as
# `llm_usage_log` (read from SQLite only when a query scans it): the run metadata's llm_* figures count
# exactly these rows.
USAGE_LOG_SCHEMA = pl.Schema(
    {
        "ts": pl.Float64,
        "run_id": pl.String,
        "asset": pl.String,
        "role": pl.String,
        "model": pl.String,
        "cache_key": pl.String,
        "cache_hit": pl.Boolean,
        "error": pl.String,
        "attempts": pl.Int64,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "cost_usd": pl.Float64,
    }
)


def sql_text(name: str) -> str:
    path = SQL_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"SQL file {path} is missing from the project")
    return path.read_text(encoding="utf-8")


def _sql_literal_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _table_exists(table: Table, data_dir: Path) -> bool:
    return bool(_batch_files(table, data_dir)) if table.batched else table.path(data_dir).exists()


def _batch_files(table: Table, data_dir: Path) -> dict[str, Path]:
    """table.batch_files(data_dir) (the same files, by batch key, sorted) from one listing, on strings: status and
    trace ask it of every table, and over hundreds of batches a Path built, sorted and tested per table and
    batch was a visible part of a status's CPU time."""
    root = os.path.join(data_dir, BATCHES_DIR)
    try:
        with os.scandir(root) as entries:
            folders = sorted(e.name for e in entries if e.name.startswith(BATCH_FOLDER_PREFIX) and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    file_name = f"{table.name}.parquet"
    found = {}
    for folder in folders:
        path = os.path.join(root, folder, file_name)
        if os.path.exists(path):
            found[folder[len(BATCH_FOLDER_PREFIX) :]] = Path(path)
    return found


def _llm_calls_sources(data_dir: Path) -> list[str]:
    """The SELECTs of the llm_calls view: the unbatched assets' files and the batches' files, where present."""
    sources = []
    if any((data_dir / "llm_calls").glob("*.parquet")):
        sources.append(
            f"SELECT *, NULL::VARCHAR AS batch FROM read_parquet('{_sql_literal_path(data_dir)}/llm_calls/*.parquet', "
            "union_by_name = true)"
        )
    if any(any((folder / "llm_calls").glob("*.parquet")) for folder in batch_dirs(data_dir).values()):
        sources.append(
            f"SELECT * FROM read_parquet('{_sql_literal_path(data_dir)}/{BATCHES_DIR}/batch=*/llm_calls/*.parquet', "
            "hive_partitioning = true, hive_types = {'batch': VARCHAR}, union_by_name = true)"
        )
    return sources


def existing_tables(data_dir: Path) -> list[str]:
    names = [name for name, table in ALL_TABLES.items() if name != "llm_calls" and _table_exists(table, data_dir)]
    if _llm_calls_sources(Path(data_dir)):
        names.append("llm_calls")
    return names


def _empty_view(con: duckdb.DuckDBPyConnection, name: str) -> None:
    columns = ", ".join(f"NULL::{_duck_type(dtype)} AS {col}" for col, dtype in ALL_TABLES[name].schema.items())
    batch = ", NULL::VARCHAR AS batch" if name == "llm_calls" or ALL_TABLES[name].batched else ""
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {columns}{batch} WHERE false")


def _files_of(name: str, data_dir: Path) -> list[Path]:
    if name == "llm_calls":
        return sorted(data_dir.glob("llm_calls/*.parquet")) + sorted(
            data_dir.glob(f"{BATCHES_DIR}/batch=*/llm_calls/*.parquet")
        )
    table = ALL_TABLES[name]
    return sorted(_batch_files(table, data_dir).values()) if table.batched else [table.path(data_dir)]


def create_views(con: duckdb.DuckDBPyConnection, data_dir: Path, lineage: bool = True) -> list[str]:
    """Create a view per existing table, the lineage view and an empty llm_calls view if none exists.

    A table with a file that cannot be read gets an empty view instead, and its damaged files are
    listed in the table `damaged_files` (file, asset, batch, reason, the command that rebuilds it): the
    other tables stay readable."""
    data_dir = Path(data_dir).resolve()
    present = existing_tables(data_dir)
    found: list[dict[str, Any]] = []
    for name in present:
        text = sql_text(f"views/{name}.sql").replace("{data_dir}", _sql_literal_path(data_dir))
        if name == "llm_calls":
            text = text.replace("{llm_calls_sources}", "\nUNION ALL BY NAME\n".join(_llm_calls_sources(data_dir)))
        try:
            con.execute(text)
        except duckdb.Error as exc:
            found += _damaged_files(name, data_dir, exc)
            _empty_view(con, name)
    present = [name for name in present if name not in {d["table"] for d in found}]
    if "llm_calls" not in present:
        _empty_view(con, "llm_calls")
    con.execute(
        'CREATE OR REPLACE TABLE damaged_files (path VARCHAR, "table" VARCHAR, asset VARCHAR, batch VARCHAR, '
        "reason VARCHAR, rebuild VARCHAR)"
    )
    for row in found:
        con.execute("INSERT INTO damaged_files VALUES (?, ?, ?, ?, ?, ?)", [row[k] for k in DAMAGED_COLUMNS])
    for derived in sorted((SQL_DIR / "derived").glob("*.sql")):  # views over several tables: only once they all exist
        try:
            con.execute(derived.read_text(encoding="utf-8"))
        except duckdb.CatalogException:
            pass
    parts = [sql_text(f"lineage/{t.name}.sql").strip().rstrip(";") for t in ASSET_TABLES if t.name in present]
    if not lineage:  # binding it binds every asset's view again: only for the connections that query it
        return present
    if parts:
        con.execute("CREATE OR REPLACE VIEW lineage AS\n" + "\nUNION ALL\n".join(parts))
    else:
        con.execute(
            "CREATE OR REPLACE VIEW lineage AS SELECT NULL::VARCHAR AS row_id, NULL::VARCHAR AS asset, "
            "NULL::VARCHAR AS parent_id, NULL::VARCHAR AS llm_call_id, NULL::VARCHAR AS run_id, "
            "NULL::VARCHAR AS summary, NULL::VARCHAR AS label WHERE false"
        )
    return present


DAMAGED_COLUMNS = ("path", "table", "asset", "batch", "reason", "rebuild")


def _damaged_files(name: str, data_dir: Path, error: BaseException) -> list[dict[str, Any]]:
    """The files of a table whose view could not be created, each with why (the footer is read)."""
    rows = []
    for path in _files_of(name, data_dir):
        exc = unreadable(path)
        if exc is not None:
            rows.append({"table": name, **damage_of(path, exc)})
    if not rows:  # not a file's fault (a file of another shape, say): the view's own error, named
        reason = str(error).strip().splitlines()[0]
        rows.append({"path": "", "table": name, "asset": name, "batch": None, "reason": reason, "rebuild": ""})
    return rows


def damaged_files(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return [
        dict(zip(DAMAGED_COLUMNS, row)) for row in con.execute("SELECT * FROM damaged_files ORDER BY path").fetchall()
    ]


def _duck_type(dtype: Any) -> str:
    text = str(dtype)
    return {"String": "VARCHAR", "Int64": "BIGINT", "Float64": "DOUBLE", "Boolean": "BOOLEAN"}.get(text, "VARCHAR")


DATA_DIR_VARIABLE = "xcoder_data_dir"  # the connection's data directory, for the queries that read only some files


def connect(
    data_dir: Path, views: bool = True, lineage: bool = True, usage_log: bool = True
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with every view, and the LLM usage log as `llm_usage_log`.

    In memory, so readers never hold the warehouse file's lock. Nothing is loaded here: the usage log
    is a lazy source, read from SQLite (only the columns asked for) by a query that scans it. Without
    `views` (what trace_walk needs: it reads the files of the rows it visits), no view is made: making
    them reads the footer of every file of every batch; without `lineage`, no lineage view, and without
    `usage_log` no `llm_usage_log` (status and trace, which read neither).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} does not exist: run `make demo` (or materialize the assets) first, "
            "or point XCODER_DATA_DIR at an existing data directory"
        )
    con = duckdb.connect(":memory:")
    # Each query over a view binds its files again: their footers are read once per connection, not per query.
    con.execute("SET parquet_metadata_cache = true")
    if views:
        create_views(con, data_dir, lineage=lineage)
    else:
        con.execute(
            'CREATE TABLE damaged_files (path VARCHAR, "table" VARCHAR, asset VARCHAR, batch VARCHAR, '
            "reason VARCHAR, rebuild VARCHAR)"
        )
    con.execute(f"SET VARIABLE {DATA_DIR_VARIABLE} = ?", [str(data_dir.resolve())])
    if usage_log:
        con.register("llm_usage_log", usage_log_frame(data_dir))
    return con


def _data_dir_of(con: duckdb.DuckDBPyConnection) -> Path:
    value = con.execute(f"SELECT getvariable('{DATA_DIR_VARIABLE}')").fetchall()[0][0]
    if value is None:
        raise ValueError("this connection names no data directory: open it with warehouse.connect")
    return Path(value)


def _read_only_sqlite(path: Path, any_thread: bool = False) -> sqlite3.Connection:
    # Read-only: a status query must never create the file or take a write lock from a running asset.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=not any_thread)


def usage_log_frame(data_dir: Path) -> pl.LazyFrame:
    """The usage log as a LazyFrame that reads SQLite when collected: only the projected columns, a
    batch at a time, each batch filtered by the query's predicate, so memory holds what the query keeps."""
    path = cache_location(data_dir, LLM_CACHE_FILE)  # XCODER_CACHE_URL's Postgres when set (store/sqlstore.py)

    def scan(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        columns = [c for c in USAGE_LOG_SCHEMA if c in set(with_columns or USAGE_LOG_SCHEMA)]
        schema = {c: pl.Int64 if c == "cache_hit" else USAGE_LOG_SCHEMA[c] for c in columns}  # SQLite's 0/1
        if n_rows == 0 or not (is_url(path) or Path(path).exists()):
            return
        db = SqlStore(path, None, read_only=True)  # any thread: polars may resume the generator on another
        batches = db.stream("usage_scan", batch_size or 65_536, columns=", ".join(columns))
        try:
            left = n_rows
            try:
                for rows in batches:
                    frame = pl.DataFrame(rows, schema=schema, orient="row")
                    if "cache_hit" in schema:
                        frame = frame.with_columns(pl.col("cache_hit").cast(pl.Boolean))
                    if predicate is not None:
                        frame = frame.filter(predicate)
                    if left is not None:
                        frame = frame.head(left)
                        left -= frame.height
                    yield frame
                    if left == 0:
                        return
            except MissingTable:  # a cache file from before the usage log existed
                return
        finally:
            batches.close()  # its cursor ends before its connection
            db.close()

    return register_io_source(scan, schema=USAGE_LOG_SCHEMA)


def read_usage_log(data_dir: Path) -> pl.DataFrame:
    """Every request the gateway answered, with its run, asset, cache hit, attempts, tokens and cost
    (the whole log in memory: for tests and small logs; queries scan `llm_usage_log` instead)."""
    return usage_log_frame(data_dir).collect()


ROLLUP_FILE = "llm_usage_rollup.sqlite"  # the usage log per run, asset and model, kept up to date here
ROLLUP_COLUMNS = (
    "run_id TEXT, asset TEXT, model TEXT, requests INTEGER, sent_to_model INTEGER, cache_hits INTEGER, "
    "not_sent INTEGER, errors INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL"
)


def _usage_rollup(data_dir: Path) -> sqlite3.Connection:
    """A SQLite connection whose table `rollup` sums the whole usage log per run, asset and model.

    The log only grows (the gateway appends), so the rollup file remembers the last usage row it summed
    (rowid, and that row's ts and cache key to notice a log rewritten since) and adds only the rows after
    it: a status costs what was logged since the last one, not the log's length. The update is one write
    transaction, so concurrent readers agree. Where the data directory cannot be written, the rollup is
    made in memory from the whole log."""
    data_dir = Path(data_dir)
    source = data_dir / LLM_CACHE_FILE
    if is_url(location := cache_location(data_dir, LLM_CACHE_FILE)):  # Postgres sums it (store/sqlstore.py)
        rollup = sqlite3.connect(":memory:")
        rollup.execute(f"CREATE TABLE rollup ({ROLLUP_COLUMNS})")
        rollup.executemany(f"INSERT INTO rollup VALUES ({', '.join('?' * 11)})", usage_rollup(location))
        return rollup
    if not source.exists():  # reading never creates the cache, nor a rollup of nothing
        rollup = sqlite3.connect(":memory:")
        rollup.execute(f"CREATE TABLE rollup ({ROLLUP_COLUMNS})")
        return rollup
    try:
        rollup = sqlite3.connect(data_dir / ROLLUP_FILE, timeout=30, isolation_level=None)
        rollup.execute(f"CREATE TABLE IF NOT EXISTS rollup ({ROLLUP_COLUMNS})")
        rollup.execute("CREATE TABLE IF NOT EXISTS mark (last_rowid INTEGER, ts REAL, cache_key TEXT)")
        rollup.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError:  # a read-only data directory (or a damaged rollup): made here, in memory
        rollup = sqlite3.connect(":memory:", isolation_level=None)
        rollup.execute(f"CREATE TABLE rollup ({ROLLUP_COLUMNS})")
        rollup.execute("CREATE TABLE mark (last_rowid INTEGER, ts REAL, cache_key TEXT)")
        rollup.execute("BEGIN")
    try:
        _roll_up(rollup, source)
        rollup.execute("COMMIT")
    except BaseException:
        rollup.execute("ROLLBACK")
        rollup.close()
        raise
    return rollup


def _roll_up(rollup: sqlite3.Connection, source: Path) -> None:
    db = _read_only_sqlite(source)
    try:
        db.execute("BEGIN")  # one snapshot of the log: the rows summed and the new mark agree
        try:
            last = db.execute("SELECT max(rowid) FROM usage").fetchone()[0]
        except sqlite3.OperationalError:  # a cache file from before the usage log existed
            return
        mark = rollup.execute("SELECT last_rowid, ts, cache_key FROM mark").fetchone()
        start = 0
        if mark is not None:
            at_mark = db.execute("SELECT ts, cache_key FROM usage WHERE rowid = ?", [mark[0]]).fetchone()
            if at_mark is not None and tuple(at_mark) == tuple(mark[1:]) and (last or 0) >= mark[0]:
                start = mark[0]
        if start == 0:  # first time, or the log was rewritten: sum it all again
            rollup.execute("DELETE FROM rollup")
        if last is None or last == start:
            if last is None:
                rollup.execute("DELETE FROM mark")
            return
        delta = db.execute(sql_text("usage_log/rollup.sql"), [start, last]).fetchall()
        at_last = db.execute("SELECT ts, cache_key FROM usage WHERE rowid = ?", [last]).fetchone()
    finally:
        db.close()
    rollup.executemany(f"INSERT INTO rollup VALUES ({', '.join('?' * 11)})", delta)
    sums = ", ".join(f"sum({c.split()[0]})" for c in ROLLUP_COLUMNS.split(", ")[3:])
    # one row per run, asset and model again (the keys may be NULL, so no unique constraint merges them)
    rollup.execute(f"CREATE TEMP TABLE merged AS SELECT run_id, asset, model, {sums} FROM rollup GROUP BY 1, 2, 3")
    rollup.execute("DELETE FROM rollup")
    rollup.execute("INSERT INTO rollup SELECT * FROM merged")
    rollup.execute("DROP TABLE merged")
    rollup.execute("DELETE FROM mark")
    rollup.execute("INSERT INTO mark VALUES (?, ?, ?)", [last, *at_last])


def _usage_query(data_dir: Path, name: str, parameters: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """One query of sql/usage_log/ over the usage rollup (an empty one where there is no log)."""
    rollup = _usage_rollup(data_dir)
    try:
        cursor = rollup.execute(sql_text(f"usage_log/{name}.sql"), parameters)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        rollup.close()


def cached_responses(data_dir: Path) -> int:
    """Answers held in the response cache (what a later run can reuse without calling the model)."""
    path = Path(data_dir) / LLM_CACHE_FILE
    if is_url(location := cache_location(data_dir, LLM_CACHE_FILE)):
        return count_responses(location)
    if not path.exists():
        return 0
    db = _read_only_sqlite(path)
    try:
        return int(db.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def refresh_warehouse_file(data_dir: Path, attempts: int = 20) -> Path:
    """(Re)create the views in `<data_dir>/xcoder.duckdb` so users can open it with any DuckDB client.

    DuckDB allows one writer per file: when another process holds it (a user's shell, a parallel
    step), retry briefly, then give up without failing the asset; the in-memory views still work.
    """
    path = Path(data_dir) / WAREHOUSE_FILE
    for attempt in range(attempts):
        try:
            con = duckdb.connect(str(path))
        except duckdb.IOException:
            time.sleep(0.1 * (attempt + 1))
            continue
        try:
            create_views(con, data_dir)
        finally:
            con.close()
        return path
    raise TimeoutError(f"{path} stayed locked by another process; views were not refreshed")


def funnel(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Rows per asset table, in pipeline order (0 for a table not materialized yet)."""
    return [
        (t.name, int(con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]) if _has_view(con, t.name) else 0)
        for t in ASSET_TABLES
    ]


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0])


def example_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The last row id of each asset table (the deepest-lineage rows are the interesting ones to trace)."""
    found = {}
    for table in ASSET_TABLES:
        if _has_view(con, table.name):
            row = con.execute(
                f"SELECT {table.id_column} FROM {table.name} ORDER BY {table.id_column} DESC LIMIT 1"
            ).fetchone()
            if row:
                found[table.name] = row[0]
    return found


def verification_funnel(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """problems -> with tests -> with a golden solution -> verified solutions (empty before verification)."""
    if not _has_view(con, "verification_funnel"):
        return []
    return [
        (stage, int(count)) for stage, count in con.execute("SELECT stage, count FROM verification_funnel").fetchall()
    ]


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


USAGE_BY_RUN_SCHEMA = pl.Schema(
    {
        "asset": pl.String,
        "model": pl.String,
        "run_id": pl.String,
        "run_requests": pl.Int64,
        "sent_to_model": pl.Int64,
        "cache_hits": pl.Int64,
        "not_sent": pl.Int64,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "cost_usd": pl.Float64,
    }
)


def llm_usage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per asset and model, the LLM requests of the run that wrote the current data (sql/llm_usage.sql).

    The usage log is aggregated in SQLite for those runs only (sql/usage_log/by_run.sql): no usage row
    is loaded, however long the log of earlier runs."""
    con.execute(sql_text("llm_usage_behind.sql"))  # llm_calls scanned once, into a temporary table
    runs = [
        r[0] for r in con.execute("SELECT DISTINCT run_id FROM llm_usage_behind WHERE run_id IS NOT NULL").fetchall()
    ]
    made = _usage_query(_data_dir_of(con), "by_run", (json.dumps(sorted(runs)),)) if runs else []
    structure = json.dumps([{name: _duck_type(dtype) for name, dtype in USAGE_BY_RUN_SCHEMA.items()}])
    rows = json.dumps([{name: row[name] for name in USAGE_BY_RUN_SCHEMA} for row in made])
    con.execute(sql_text("llm_usage_by_run.sql"), {"rows": rows, "structure": structure})
    try:
        return _dicts(con.execute(sql_text("llm_usage.sql")))
    finally:
        con.execute("DROP TABLE IF EXISTS llm_usage_by_run")
        con.execute("DROP TABLE IF EXISTS llm_usage_behind")


def llm_totals(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every run's LLM requests so far, counted as the run metadata counts them, in one SQLite pass
    (sql/usage_log/totals.sql)."""
    return _usage_query(_data_dir_of(con), "totals")[0]


def data_runs(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str | None, str]]]:
    """The runs that wrote each asset's current data, as (batch, run id): one for an unbatched table
    (batch None), one per batch for a batched one (every row carries its writer's run id)."""
    found = {}
    for table in ASSET_TABLES:
        if _has_view(con, table.name):
            batch = "batch" if table.batched else "NULL::VARCHAR"
            rows = con.execute(
                f"SELECT {batch} AS b, any_value(run_id) FROM {table.name} GROUP BY b ORDER BY b"
            ).fetchall()
            if any(run for _, run in rows):
                found[table.name] = [(b, run) for b, run in rows if run]
    return found


@dataclass
class TableFigures:
    """What `xcoder status` shows of the asset tables, from one query per table (funnel, data_runs and
    example_ids each ask every table again: over many batches each query binds every file)."""

    funnel: list[tuple[str, int]]
    runs: dict[str, list[tuple[str | None, str]]]
    examples: dict[str, str]


def table_figures(con: duckdb.DuckDBPyConnection) -> TableFigures:
    """funnel(con), data_runs(con) and example_ids(con) at once (the same figures). A batched table's
    come from its files' footers where they can (rows, and the statistics of the run and id columns)."""
    funnel_rows, runs, examples = [], {}, {}
    data_dir = _data_dir_of(con)
    damaged = {row[0] for row in con.execute('SELECT DISTINCT "table" FROM damaged_files').fetchall()}
    for table in ASSET_TABLES:
        if not _has_view(con, table.name):
            funnel_rows.append((table.name, 0))
            continue
        rows = _footer_figures(con, table, data_dir) if table.batched and table.name not in damaged else None
        if rows is None:
            rows = _scanned_figures(con, table)
        funnel_rows.append((table.name, sum(int(r[1]) for r in rows)))
        if any(run for _, _, run, _, _ in rows):
            runs[table.name] = [(b, run) for b, _, run, _, _ in rows if run]
        if rows:  # example_ids: the greatest id (NULL ids sort last there, as max leaves them out)
            known = [r[3] for r in rows if r[4]]
            examples[table.name] = max(known) if known else None
    return TableFigures(funnel_rows, runs, examples)


def _footer_figures(con: duckdb.DuckDBPyConnection, table: Table, data_dir: Path) -> list[tuple] | None:
    """Per batch: rows, a writing run, the greatest id and whether any id is set, from the footers (one
    run per batch: the run column's minimum). None where a file has no statistics for them."""
    files = _batch_files(table, data_dir)
    if not files:
        return None
    batch_of = {str(path): batch for batch, path in files.items()}
    paths = "[" + ", ".join(f"'{_sql_literal_path(p)}'" for p in files.values()) + "]"
    found = con.execute(
        "SELECT file_name, sum(row_group_num_rows) FILTER (WHERE path_in_schema = ?), "
        "min(stats_min_value) FILTER (WHERE path_in_schema = 'run_id'), "
        "max(stats_max_value) FILTER (WHERE path_in_schema = ?), "
        "bool_or(stats_max_value IS NULL AND stats_null_count IS DISTINCT FROM row_group_num_rows) "
        "FILTER (WHERE path_in_schema IN (?, 'run_id')) "
        f"FROM parquet_metadata({paths}) GROUP BY file_name",
        [table.id_column, table.id_column, table.id_column],
    ).fetchall()
    if len(found) != len(files) or any(no_stats or count is None for _, count, _, _, no_stats in found):
        return None
    rows = [(batch_of[name], count, run, top, top is not None) for name, count, run, top, _ in found if count]
    return sorted(rows, key=lambda r: r[0])


def _scanned_figures(con: duckdb.DuckDBPyConnection, table: Table) -> list[tuple]:
    batch = "batch" if table.batched else "NULL::VARCHAR"
    return con.execute(
        f"SELECT {batch} AS b, count(*), any_value(run_id), max({table.id_column}), "
        f"count({table.id_column}) FROM {table.name} GROUP BY b ORDER BY b"
    ).fetchall()


def query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one query over the views (`xcoder sql`); duckdb.Error on a bad query."""
    cursor = con.execute(sql)
    if cursor.description is None:  # a statement without a result (CREATE VIEW ...)
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


MAX_TRACE_DEPTH = 64  # a guard against a cycle in damaged data; real lineage is a dozen levels deep
# The lineage file that covers a table, where it is not the table's own, and the tables a lineage file reads.
LINEAGE_OF = {"training_shards__rl": "training_shards"}
LINEAGE_SOURCES = {"training_shards": ("training_shards", "training_shards__rl")}


@dataclass
class Trace:
    """A row's lineage: `steps` as `trace` returns them, and the batch each row was read from (None for
    an unbatched asset), so that what is read next about a row (its LLM calls, its columns) comes from
    that batch's files only."""

    steps: list[dict[str, Any]]
    batches: dict[str, str | None] = field(default_factory=dict)


def trace(con: duckdb.DuckDBPyConnection, row_id: str) -> list[dict[str, Any]]:
    """The row and each ancestor once, with depth, parents, label and LLM calls (see trace_walk)."""
    return trace_walk(con, row_id).steps


def trace_walk(con: duckdb.DuckDBPyConnection, row_id: str) -> Trace:
    """Walk from the row to its seeds a level at a time, each level a few point lookups (sql/trace.sql).

    An id's kind names its table (store/ids.py), and a batched row's parents in a batched table are
    looked up in the row's own batch first: a step reads the id column of one file per asset, not all
    lineage. An id found nowhere (a parent re-materialized since) is left out, as a missing parent.
    Rows come in order of depth (the shortest path from the row), asset and id."""
    data_dir = _data_dir_of(con)
    skip = {row[0] for row in con.execute('SELECT DISTINCT "table" FROM damaged_files').fetchall()}
    steps: dict[str, dict[str, Any]] = {}
    batches: dict[str, str | None] = {}
    frontier: dict[str, str | None] = {row_id: None}  # id -> the batch of the row that named it
    visited = {row_id}
    depth = 0
    while frontier:
        found = _lookup_lineage(con, data_dir, frontier, skip)
        following: dict[str, str | None] = {}
        for found_id in sorted(found):
            step, batch = found[found_id]
            steps[found_id] = {"depth": depth, **step}
            batches[found_id] = batch
            if depth < MAX_TRACE_DEPTH:
                for parent in step["parent_ids"] or []:
                    if parent not in visited:
                        visited.add(parent)
                        following[parent] = batch
        frontier, depth = following, depth + 1
    ordered = sorted(steps.values(), key=lambda s: (s["depth"], s["asset"], s["row_id"]))
    return Trace(ordered, batches)


def _quoted(values: Any) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _parquet_source(table: Table, files: list[Path]) -> str:
    """read_parquet over some of a table's files, with the columns its view has (a batched table's key)."""
    paths = "[" + ", ".join(f"'{_sql_literal_path(p)}'" for p in files) + "]"
    if table.batched:
        return (
            f"read_parquet({paths}, hive_partitioning = true, hive_types = {{'batch': VARCHAR}}, union_by_name = true)"
        )
    return f"read_parquet({paths})"


def _lookup_lineage(
    con: duckdb.DuckDBPyConnection, data_dir: Path, ids: dict[str, str | None], skip: set[str]
) -> dict[str, tuple[dict[str, Any], str | None]]:
    """The lineage rows of these ids (id -> batch hint), each with the batch it was read from."""
    by_table: dict[str, dict[str, str | None]] = {}
    for row_id, hint in ids.items():
        kind = kind_of(row_id)
        name = ID_KINDS.get(kind) if kind else None
        if name is None or name in skip or name not in ALL_TABLES:
            continue
        lineage = LINEAGE_OF.get(name, name)
        if not (SQL_DIR / "lineage" / f"{lineage}.sql").exists() or any(s in skip for s in _sources_of(lineage)):
            continue
        by_table.setdefault(name, {})[row_id] = hint
    found: dict[str, tuple[dict[str, Any], str | None]] = {}
    for name, wanted in by_table.items():
        table = ALL_TABLES[name]
        if not table.batched:
            if table.path(data_dir).exists():
                for step in _lineage_rows(con, data_dir, table, [table.path(data_dir)], list(wanted)):
                    found[step["row_id"]] = (step, None)
            continue
        files = _batch_files(table, data_dir)
        hinted: dict[str, list[str]] = {}
        for row_id, hint in wanted.items():
            if hint in files:
                hinted.setdefault(hint, []).append(row_id)
        for batch, batch_ids in hinted.items():  # a row's parents are in its own batch, as a rule
            for step in _lineage_rows(con, data_dir, table, [files[batch]], batch_ids):
                found[step["row_id"]] = (step, batch)
        rest = [row_id for row_id in wanted if row_id not in found]
        if rest and files:  # no batch to start from (the row itself, or a child of another asset): find it
            located: dict[tuple[str, ...], list[str]] = {}
            try:
                rows = con.execute(
                    f"SELECT {table.id_column}, list(DISTINCT batch ORDER BY batch) "
                    f"FROM {_parquet_source(table, list(files.values()))} "
                    f"WHERE {table.id_column} IN ({_quoted(rest)}) GROUP BY 1"
                ).fetchall()
            except (
                duckdb.IOException,
                duckdb.InvalidInputException,
            ):  # a damaged file among them: its table reads as empty, as its view does
                rows = []
            for row_id, in_batches in rows:
                located.setdefault(tuple(in_batches), []).append(row_id)
            for in_batches, batch_ids in located.items():
                for step in _lineage_rows(con, data_dir, table, [files[b] for b in in_batches], batch_ids):
                    found[step["row_id"]] = (step, in_batches[0])
    return found


def _sources_of(lineage: str) -> tuple[str, ...]:
    return LINEAGE_SOURCES.get(lineage, (lineage,))


def _lineage_rows(
    con: duckdb.DuckDBPyConnection, data_dir: Path, table: Table, files: list[Path], ids: list[str]
) -> list[dict[str, Any]]:
    """sql/trace.sql for these ids of one table, read from these files only."""
    lineage = LINEAGE_OF.get(table.name, table.name)
    sources = []
    for name in _sources_of(lineage):
        source = ALL_TABLES[name]
        if name == table.name:
            select = f"SELECT * FROM {_parquet_source(source, files)} WHERE {source.id_column} IN ({_quoted(ids)})"
        elif _table_exists(source, data_dir):  # another table of the same lineage file: none of its rows
            every = list(_batch_files(source, data_dir).values()) if source.batched else [source.path(data_dir)]
            select = f"SELECT * FROM {_parquet_source(source, every)} WHERE false"
        else:
            select = _empty_select(source)
        sources.append(f"{name} AS ({select})")
    text = (
        sql_text("trace.sql")
        .replace("{sources}", ",\n".join(sources))
        .replace("{lineage}", sql_text(f"lineage/{lineage}.sql").strip().rstrip(";"))
        .replace("{ids}", _quoted(ids))
    )
    try:
        return _dicts(con.execute(text))
    except (
        duckdb.IOException,
        duckdb.InvalidInputException,
    ):  # a damaged file: its rows are missing, as from its table's empty view
        return []


def _empty_select(table: Table) -> str:
    """No rows, with the table's columns and types (list columns included), for a lineage file's other table."""

    def duck(dtype: Any) -> str:
        if isinstance(dtype, pl.List):
            return duck(dtype.inner) + "[]"
        return _duck_type(dtype)

    return "SELECT " + ", ".join(f'NULL::{duck(t)} AS "{c}"' for c, t in table.schema.items()) + " WHERE false"


def _llm_calls_damaged(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether an llm_calls file is damaged (then calls are looked up by id in every file, not read per row)."""
    return bool(con.execute("SELECT count(*) FROM damaged_files WHERE \"table\" = 'llm_calls'").fetchall()[0][0])


def trace_calls(con: duckdb.DuckDBPyConnection, walk: Trace) -> dict[str, dict[str, Any]]:
    """The llm_calls rows behind a trace's rows, read from the calls file of each row's asset and batch;
    a call not found there is looked up in every llm_calls file (llm_calls_by_id)."""
    data_dir = _data_dir_of(con)
    wanted: dict[Path, tuple[str | None, set[str]]] = {}
    for step in walk.steps:
        if step["llm_call_ids"]:
            batch = walk.batches.get(step["row_id"])
            path = llm_calls_path(batch_dir(data_dir, batch) if batch is not None else data_dir, step["asset"])
            wanted.setdefault(path, (batch, set()))[1].update(step["llm_call_ids"])
    damaged = _llm_calls_damaged(con)
    calls: dict[str, dict[str, Any]] = {}
    for path, (batch, call_ids) in wanted.items():
        if damaged or not path.exists():
            continue
        key = f"'{batch.replace(chr(39), chr(39) * 2)}'" if batch is not None else "NULL"
        rows = _dicts(
            con.execute(
                f"SELECT *, {key}::VARCHAR AS batch FROM read_parquet('{_sql_literal_path(path)}', "
                f"hive_partitioning = false) WHERE call_id IN ({_quoted(sorted(call_ids))})"
            )
        )
        calls.update({row["call_id"]: row for row in rows if row["call_id"] not in calls})
    missing = sorted({c for step in walk.steps for c in step["llm_call_ids"] or []} - set(calls))
    return {**calls, **llm_calls_by_id(con, missing)}


# Assets whose LLM calls may be asked again with the next attempt's seed (recipe/composition.py's re-asks).
REASKED_ASSETS = frozenset({"problems"})


def earlier_attempts(
    con: duckdb.DuckDBPyConnection, walk: Trace, calls: dict[str, dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """For each call behind a traced row of an asset that re-asks: the llm_calls rows of its earlier attempts
    (sql/trace_earlier_attempts.sql), read from that row's own calls file; calls asked once are left out."""
    data_dir = _data_dir_of(con)
    damaged = _llm_calls_damaged(con)
    found: dict[str, list[dict[str, Any]]] = {}
    for step in walk.steps:
        if step["asset"] not in REASKED_ASSETS or not step["llm_call_ids"] or damaged:
            continue
        batch = walk.batches.get(step["row_id"])
        path = llm_calls_path(batch_dir(data_dir, batch) if batch is not None else data_dir, step["asset"])
        if not path.exists():
            continue
        query = sql_text("trace_earlier_attempts.sql").replace("{path}", _sql_literal_path(path))
        for call_id in step["llm_call_ids"]:
            final = calls.get(call_id)
            if final is None or call_id in found:
                continue
            values = {"batch": batch, "template": final["template"], "call_id": call_id}
            values["prompt_tokens"] = final["prompt_tokens"]
            rows = _dicts(con.execute(query, {**values, "request_json": final["request_json"]}))
            if rows:
                found[call_id] = rows
    return found


def trace_row_values(con: duckdb.DuckDBPyConnection, walk: Trace, row_id: str, columns: list[str]) -> dict[str, Any]:
    """Some columns of one row of a trace, read from the row's own file (its batch's, for a batched asset)."""
    step = next((s for s in walk.steps if s["row_id"] == row_id), None)
    name = ID_KINDS.get(kind_of(row_id) or "")
    if step is None or name not in ALL_TABLES:
        return {}
    table = ALL_TABLES[name]
    batch = walk.batches.get(row_id)
    path = table.path(batch_dir(_data_dir_of(con), batch) if table.batched and batch is not None else _data_dir_of(con))
    if not path.exists():
        return {}
    rows = _dicts(
        con.execute(
            f"SELECT {', '.join(columns)} FROM read_parquet('{_sql_literal_path(path)}', hive_partitioning = false) "
            f"WHERE {table.id_column} = ? LIMIT 1",
            [row_id],
        )
    )
    return rows[0] if rows else {}


def llm_calls_by_id(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The llm_calls rows of these ids (one per id: a call shared by several rows is one answer)."""
    if not call_ids:
        return {}
    if not _has_view(con, "llm_calls"):  # a connection made without views: this one only
        _llm_calls_view(con, _data_dir_of(con))
    rows = _dicts(
        con.execute("SELECT * FROM llm_calls WHERE call_id IN (SELECT unnest($ids))", {"ids": list(call_ids)})
    )
    return {row["call_id"]: row for row in rows}


def _llm_calls_view(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    sources = _llm_calls_sources(data_dir)
    if not sources:
        _empty_view(con, "llm_calls")
        return
    text = sql_text("views/llm_calls.sql").replace("{llm_calls_sources}", "\nUNION ALL BY NAME\n".join(sources))
    try:
        con.execute(text)
    except duckdb.Error:
        _empty_view(con, "llm_calls")


def llm_call(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    if not _has_view(con, "llm_calls"):
        _llm_calls_view(con, _data_dir_of(con))
    cursor = con.execute("SELECT * FROM llm_calls WHERE call_id = ? LIMIT 1", [call_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


__all__ = [
    "LLM_CACHE_FILE",
    "cached_responses",
    "connect",
    "create_views",
    "data_runs",
    "funnel",
    "llm_call",
    "llm_calls_by_id",
    "llm_calls_path",
    "llm_totals",
    "llm_usage",
    "query",
    "read_usage_log",
    "refresh_warehouse_file",
    "trace",
    "trace_calls",
    "trace_row_values",
    "trace_walk",
    "usage_log_frame",
]
