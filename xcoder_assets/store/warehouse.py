"""DuckDB over the Parquet files: one view per asset, a lineage view, and the queries of `sql/`.

The SQL lives in files under `sql/` (views/<table>.sql, lineage/<table>.sql, and queries); this
module only fills in the data directory and picks the files whose data exists yet.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from xcoder_assets.store.tables import ALL_TABLES, ASSET_TABLES, llm_calls_path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
WAREHOUSE_FILE = "xcoder.duckdb"


def sql_text(name: str) -> str:
    path = SQL_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"SQL file {path} is missing from the project")
    return path.read_text(encoding="utf-8")


def _sql_literal_path(path: Path) -> str:
    return str(path).replace("'", "''")


def existing_tables(data_dir: Path) -> list[str]:
    names = [name for name, table in ALL_TABLES.items() if name != "llm_calls" and table.path(data_dir).exists()]
    if any((Path(data_dir) / "llm_calls").glob("*.parquet")):
        names.append("llm_calls")
    return names


def create_views(con: duckdb.DuckDBPyConnection, data_dir: Path) -> list[str]:
    """Create a view per existing table, the lineage view and an empty llm_calls view if none exists."""
    data_dir = Path(data_dir).resolve()
    present = existing_tables(data_dir)
    for name in present:
        con.execute(sql_text(f"views/{name}.sql").replace("{data_dir}", _sql_literal_path(data_dir)))
    if "llm_calls" not in present:
        columns = ", ".join(
            f"NULL::{_duck_type(dtype)} AS {col}" for col, dtype in ALL_TABLES["llm_calls"].schema.items()
        )
        con.execute(f"CREATE OR REPLACE VIEW llm_calls AS SELECT {columns} WHERE false")
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
            "NULL::VARCHAR AS summary WHERE false"
        )
    return present


def _duck_type(dtype: Any) -> str:
    text = str(dtype)
    return {"String": "VARCHAR", "Int64": "BIGINT", "Float64": "DOUBLE", "Boolean": "BOOLEAN"}.get(text, "VARCHAR")


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with every view: readers never hold the warehouse file's lock."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"data directory {data_dir} does not exist: run `make demo` (or materialize the assets) first, "
            "or point XCODER_DATA_DIR at an existing data directory"
        )
    con = duckdb.connect(":memory:")
    create_views(con, data_dir)
    return con


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
    return [(t.name, int(con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]) if _has_view(con, t.name) else 0)
            for t in ASSET_TABLES]


def _has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0])


def example_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The last row id of each asset table (the deepest-lineage rows are the interesting ones to trace)."""
    found = {}
    for table in ASSET_TABLES:
        if _has_view(con, table.name):
            row = con.execute(f"SELECT {table.id_column} FROM {table.name} ORDER BY {table.id_column} DESC LIMIT 1").fetchone()
            if row:
                found[table.name] = row[0]
    return found


def verification_funnel(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """problems -> with tests -> with a golden solution -> verified solutions (empty before verification)."""
    if not _has_view(con, "verification_funnel"):
        return []
    return [(stage, int(count)) for stage, count in con.execute("SELECT stage, count FROM verification_funnel").fetchall()]


def llm_usage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cursor = con.execute(sql_text("llm_usage.sql"))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def trace(con: duckdb.DuckDBPyConnection, row_id: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql_text("trace.sql"), {"row_id": row_id})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def llm_call(con: duckdb.DuckDBPyConnection, call_id: str) -> dict[str, Any] | None:
    cursor = con.execute("SELECT * FROM llm_calls WHERE call_id = ? LIMIT 1", [call_id])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


__all__ = ["connect", "create_views", "funnel", "llm_usage", "trace", "llm_call", "refresh_warehouse_file", "llm_calls_path"]
