"""`xcoder sql QUERY`: one DuckDB query over the warehouse's views and the LLM usage log."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from xcoder_assets.cli.common import CliError, connect


def _sql_cell(value: Any, width: int) -> str:
    text = "" if value is None else json.dumps(value, default=str) if isinstance(value, (list, dict)) else str(value)
    text = " ".join(text.split())
    return text if width <= 0 or len(text) <= width else text[: width - 1] + "…"


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from xcoder_assets.store import warehouse
    from xcoder_assets.present.render import text_table

    query = sys.stdin.read() if args.query == "-" else args.query
    if not query.strip():
        raise CliError('give a query, e.g. xcoder sql "SELECT status, count(*) FROM problems GROUP BY status"')
    con = connect(args)
    try:
        names, rows = warehouse.query(con, query)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        tables = f" (tables: {', '.join(_view_names(con))})" if isinstance(exc, duckdb.CatalogException) else ""
        raise CliError(f"query failed: {first}{tables}") from None
    if args.json:
        print(json.dumps([dict(zip(names, row)) for row in rows], indent=2, default=str))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(
            [[json.dumps(v, default=str) if isinstance(v, (list, dict)) else v for v in row] for row in rows]
        )
    elif names:
        shown = rows if args.max_rows <= 0 else rows[: args.max_rows]
        print(text_table([[_sql_cell(v, args.width) for v in row] for row in shown], names))
        more = len(rows) - len(shown)
        print(
            f"({len(rows)} row{'s' if len(rows) != 1 else ''}"
            + (f", {more} not shown: --max-rows 0 for all, or --csv / --json" if more else "")
            + ")"
        )
    return 0


def _view_names(con) -> list[str]:
    return [
        row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    ]


def add_parser(sub: argparse._SubParsersAction) -> None:
    sql = sub.add_parser(
        "sql",
        help="run a DuckDB query on the warehouse's views (one per asset, lineage, llm_calls ...)",
        description="Runs one query over the data directory's views (the same as data/xcoder.duckdb's) "
        "and the LLM usage log (llm_usage_log). - reads the query from stdin.",
    )
    sql.add_argument("query", help='e.g. "SELECT status, count(*) FROM problems GROUP BY status"')
    fmt = sql.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV on stdout (every row)")
    fmt.add_argument("--json", action="store_true", help="a JSON list of objects (every row)")
    sql.add_argument("--max-rows", type=int, default=100, help="rows the table shows (0: all; default 100)")
    sql.add_argument("--width", type=int, default=60, help="characters per cell in the table (0: no limit; default 60)")
    sql.set_defaults(func=cmd_sql)
