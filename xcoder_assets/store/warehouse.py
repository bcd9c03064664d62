"""DuckDB over the Parquet files: one view per asset, a lineage view, and the queries of `sql/`.

The SQL lives in files under `sql/` (views/<table>.sql, lineage/<table>.sql, and queries); this
module only fills in the data directory and picks the files whose data exists yet.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from xcoder_assets.store.parquet import damage_of, unreadable
from xcoder_assets.store.tables import ALL_TABLES, ASSET_TABLES, BATCHES_DIR, Table, batch_dirs, llm_calls_path

# Inside the package (xcoder_assets/sql links to the top-level sql/ in a checkout), so an installed wheel has it.
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
WAREHOUSE_FILE = "xcoder.duckdb"
LLM_CACHE_FILE = "llm_cache.sqlite"  # the gateway's response cache and usage log (llm/cache.py)

# The gateway's usage log, one row per request it answered (a call, a cache hit, or not sent), as
# the in-memory view `llm_usage_log`: the run metadata's llm_* figures count exactly these rows.
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
    return bool(table.batch_files(data_dir)) if table.batched else table.path(data_dir).exists()


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
    return sorted(table.batch_files(data_dir).values()) if table.batched else [table.path(data_dir)]


def create_views(con: duckdb.DuckDBPyConnection, data_dir: Path) -> list[str]:
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


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with every view, and the LLM usage log as `llm_usage_log`.

    In memory, so readers never hold the warehouse file's lock.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} does not exist: run `make demo` (or materialize the assets) first, "
            "or point XCODER_DATA_DIR at an existing data directory"
        )
    con = duckdb.connect(":memory:")
    create_views(con, data_dir)
    con.register("llm_usage_log", read_usage_log(data_dir).to_arrow())
    return con


def _read_only_sqlite(path: Path) -> sqlite3.Connection:
    # Read-only: a status query must never create the file or take a write lock from a running asset.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def read_usage_log(data_dir: Path) -> pl.DataFrame:
    """Every request the gateway answered, with its run, asset, cache hit, attempts, tokens and cost."""
    path = Path(data_dir) / LLM_CACHE_FILE
    if not path.exists():
        return pl.DataFrame(schema=USAGE_LOG_SCHEMA)
    db = _read_only_sqlite(path)
    try:
        cursor = db.execute(f"SELECT {', '.join(USAGE_LOG_SCHEMA)} FROM usage")
        rows = cursor.fetchall()
    except sqlite3.OperationalError:  # a cache file from before the usage log existed
        rows = []
    finally:
        db.close()
    hit = list(USAGE_LOG_SCHEMA).index("cache_hit")  # SQLite stores it as 0/1
    rows = [(*row[:hit], bool(row[hit]), *row[hit + 1 :]) for row in rows]
    return pl.DataFrame(rows, schema=USAGE_LOG_SCHEMA, orient="row")


def cached_responses(data_dir: Path) -> int:
    """Answers held in the response cache (what a later run can reuse without calling the model)."""
    path = Path(data_dir) / LLM_CACHE_FILE
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


def llm_usage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per asset and model, the LLM requests of the run that wrote the current data (sql/llm_usage.sql)."""
    return _dicts(con.execute(sql_text("llm_usage.sql")))


def llm_totals(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every run's LLM requests so far, counted as the run metadata counts them (sql/llm_totals.sql)."""
    return _dicts(con.execute(sql_text("llm_totals.sql")))[0]


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


def query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one query over the views (`xcoder sql`); duckdb.Error on a bad query."""
    cursor = con.execute(sql)
    if cursor.description is None:  # a statement without a result (CREATE VIEW ...)
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


def trace(con: duckdb.DuckDBPyConnection, row_id: str) -> list[dict[str, Any]]:
    """The row and each ancestor once, with depth, parents, label and LLM calls (sql/trace.sql)."""
    return _dicts(con.execute(sql_text("trace.sql"), {"row_id": row_id}))


def llm_calls_by_id(con: duckdb.DuckDBPyConnection, call_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The llm_calls rows of these ids (one per id: a call shared by several rows is one answer)."""
    if not call_ids:
        return {}
    rows = _dicts(
        con.execute("SELECT * FROM llm_calls WHERE call_id IN (SELECT unnest($ids))", {"ids": list(call_ids)})
    )
    return {row["call_id"]: row for row in rows}


def llm_call(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
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
]
