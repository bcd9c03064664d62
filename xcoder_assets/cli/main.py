"""The parser of the `xcoder` command: one sub-command per module of this package, each registered by its
own add_parser. A command module imports its heavy libraries (dagster, litellm, duckdb ...) only when it
runs, so `xcoder status` pays for nothing that `xcoder materialize` needs."""

from __future__ import annotations

import argparse
import os
import sys

# Module by module (not `from xcoder_assets.cli import ...`, which would name this package's __init__ again).
import xcoder_assets.cli.bench as bench
import xcoder_assets.cli.decontaminate as decontaminate
import xcoder_assets.cli.estimate as estimate
import xcoder_assets.cli.evaluate as evaluate
import xcoder_assets.cli.judge as judge
import xcoder_assets.cli.materialize as materialize
import xcoder_assets.cli.servers as servers
import xcoder_assets.cli.sql as sql
import xcoder_assets.cli.status as status
import xcoder_assets.cli.trace as trace
from xcoder_assets.cli.common import CliError, command_environment

# Each registers its sub-command(s), in the order `xcoder --help` lists them.
REGISTER = (
    materialize.add_parser,
    status.add_parser,
    trace.add_parser,
    sql.add_parser,
    bench.add_parser,
    judge.add_parser,  # judge and vote
    evaluate.add_parser,
    decontaminate.add_parser,
    servers.add_judge_server_parser,
    estimate.add_parser,
    servers.add_fake_server_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xcoder", description="xcoder-assets: the SynthSmith pipeline, from the command line."
    )
    parser.add_argument("--data-dir", help="data directory (default: $XCODER_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTER:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with command_environment(args):
            return args.func(args)
    except CliError as exc:
        print(f"xcoder: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `xcoder trace ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
