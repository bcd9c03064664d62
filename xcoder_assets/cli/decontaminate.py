"""`xcoder decontaminate`: candidate texts checked against LiveCodeBench rows (n-gram overlap, MinHash)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xcoder_assets.cli.common import CliError, RecipeDefault, given

# flag dest -> the DecontaminationSettings field it sets
SETTING_FLAGS = {
    "ngram": "ngram",
    "min_matches": "ngram_min_matches",
    "threshold": "minhash_threshold",
    "shingle": "shingle",
}


def _default(name: str) -> object:
    from xcoder_assets.recipe.decontamination import DecontaminationSettings  # numpy, datasketch: only for help

    return getattr(DecontaminationSettings(), name)


def cmd_decontaminate(args: argparse.Namespace) -> int:
    """The training data's benchmark check on any two files: candidates ({id, text} per line) against
    LiveCodeBench rows; writes [{id, benchmark_id, method, score}] per flagged candidate."""
    import time

    from xcoder_assets.recipe.decontamination import (
        DecontaminationInputError,
        DecontaminationSettings,
        decontaminate_files,
    )
    from xcoder_assets.store.parquet import write_text

    try:
        settings = DecontaminationSettings(**given(args, SETTING_FLAGS))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    started = time.monotonic()
    try:
        flagged = decontaminate_files(Path(args.candidates), [Path(p) for p in args.benchmark], settings)
    except DecontaminationInputError as exc:
        raise CliError(str(exc)) from None
    write_text(json.dumps(flagged, indent=2) + "\n", Path(args.out))
    methods = {m: sum(1 for f in flagged if f["method"] == m) for m in ("ngram", "minhash")}
    print(
        f"{len(flagged)} flagged candidates ({methods['ngram']} by {settings.ngram}-gram overlap, {methods['minhash']} "
        f"by MinHash >= {settings.minhash_threshold}) in {time.monotonic() - started:.2f} s -> {args.out}"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    default = RecipeDefault.factory(_default)  # the recipe's, read only when help is printed
    parser = subparsers.add_parser(
        "decontaminate",
        help="flag candidate texts that match benchmark problems (n-gram overlap, MinHash)",
        description="Checks each candidate ({id, text} per line) against LiveCodeBench-format benchmark rows on "
        "normalized text: word n-gram overlap and MinHash similarity. Writes the flagged ones as a JSON "
        "list of {id, benchmark_id, method, score}.",
    )
    parser.add_argument("--candidates", required=True, help='JSONL, one {"id": str, "text": str} per line')
    parser.add_argument(
        "--benchmark",
        required=True,
        action="append",
        help="code_generation_lite rows (JSONL or Parquet); repeat for several files",
    )
    parser.add_argument("--out", required=True, help="where to write the flagged candidates (JSON)")
    parser.add_argument("--ngram", type=int, default=default("ngram"), help="words per n-gram (default %(default)s)")
    parser.add_argument(
        "--min-matches",
        type=int,
        default=default("ngram_min_matches"),
        help="shared n-grams that flag (default %(default)s)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=default("minhash_threshold"),
        help="MinHash (Jaccard) similarity that flags (default %(default)s)",
    )
    parser.add_argument(
        "--shingle", type=int, default=default("shingle"), help="words per MinHash shingle (default %(default)s)"
    )
    parser.set_defaults(func=cmd_decontaminate)
    return parser
