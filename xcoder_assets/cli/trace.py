"""`xcoder trace ROW`: the lineage of a row back to its seeds, and an LLM call with its prompt and answer."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from xcoder_assets.cli.common import CliError, connect


def cmd_trace(args: argparse.Namespace) -> int:
    # the model and its renderer are present/lineage_view.py's, shared with the UI's trace_row job
    from xcoder_assets.present import lineage_view
    from xcoder_assets.store.ids import ID_KINDS, kind_of

    row_id = args.row_id.strip()
    if kind_of(row_id) is None:
        raise CliError(
            f"{row_id!r} is not a row id: ids look like <kind>-<16 hex digits>, kinds: "
            + ", ".join(f"{k} ({v})" for k, v in ID_KINDS.items())
        )
    con = connect(args, views=False, usage_log=False)  # the walk reads only the files of the rows it visits
    if kind_of(row_id) == "call":
        call = lineage_view.read_call(con, row_id)
        if call is None:
            raise CliError(f"unknown LLM call id {row_id}: no asset's llm_calls holds it")
        print(lineage_view.render_call(call, lineage_view.TextWriter()))
        return 0
    lineage = lineage_view.read_lineage(con, row_id)
    if lineage is None:
        raise CliError(
            f"unknown row id {row_id}: no row of {ID_KINDS[kind_of(row_id)]} has it "
            "(it may come from an older materialization; run `xcoder status` to see what exists)"
        )
    if args.json:
        print(json.dumps([asdict(step) for step in lineage.steps], indent=2, default=str))
        return 0
    options = lineage_view.Options(
        view="full" if args.full else "short",
        more=f"(xcoder trace {row_id} --full: every ancestor, each LLM call with its prompt and answer, "
        "the vote per test)",
    )
    print(lineage_view.render(lineage, lineage_view.TextWriter(), options))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    trace = sub.add_parser(
        "trace", help="the lineage of a row back to its seeds (one line per ancestor; --full for all)"
    )
    trace.add_argument("row_id")
    trace.add_argument("--json", action="store_true")
    trace.add_argument(
        "--full",
        action="store_true",
        help="every ancestor with its LLM calls' prompts and answers, and the vote test by test",
    )
    trace.add_argument("--show-prompts", dest="full", action="store_true", help=argparse.SUPPRESS)  # the old name
    trace.set_defaults(func=cmd_trace)
