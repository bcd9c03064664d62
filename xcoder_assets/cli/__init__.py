"""The `xcoder` command (pyproject's `xcoder = "xcoder_assets.cli:main"`): materialize, status, trace, sql,
judge, vote, eval, decontaminate, estimate, bench, judge-server and a local fake LLM server, one module
each (or per small family) under this package, registered on one parser in main.py."""

from xcoder_assets.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
