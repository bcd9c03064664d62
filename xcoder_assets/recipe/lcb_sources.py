"""lcb_problems, incrementally: each source file is parsed once per version of it, and the table is assembled
from the stored per-source rows.

A source's rows (every problem of the file, in file order, before the date window and before the question ids
of earlier files are dropped) are stored as `<cache>/<key>.parquet`, the key being the file's path, size and
modification time, its label and skip_bad_records: a nightly batch adds one lcb/verified_problems.jsonl, and
only that file is parsed; a file rewritten in place gets a new key. Assembly applies what depends on the whole
list, as recipe.benchmark.load_problems does: the window (undated rows only when no window is set) and the
first file's row for a question_id. Malformed rows raise as before (nothing is stored for that file) or, with
skip_bad_records, are stored as the file's rejects.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Sequence

import polars as pl

from xcoder_assets.recipe.benchmark import load_problems
from xcoder_assets.recipe.evaluation import problem_rows
from xcoder_assets.store.ids import content_hash
from xcoder_assets.store.parquet import write_parquet
from xcoder_assets.store.tables import LCB_PROBLEM_REJECTS, LCB_PROBLEMS

SOURCE_LAYOUT = "xcoder-lcb-source/1"
_REJECTS = "rejects"


@dataclass
class Assembled:
    problems: pl.DataFrame  # lcb_problems' rows (run_id set)
    rejects: pl.DataFrame  # lcb_problems__rejects' rows
    outside_window: int
    duplicates: int
    parsed: list[str]  # the files parsed in this run (new or changed)
    reused: int  # the files whose stored rows were used
    rows_parsed: int  # rows of the files parsed in this run


def source_key(path: Path, label: str, skip_bad_records: bool) -> str:
    stat = Path(path).stat()
    return content_hash(
        {
            "layout": SOURCE_LAYOUT,
            "path": str(Path(path).resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "label": label,
            "skip_bad_records": skip_bad_records,
        },
        length=24,
    )


def _store(frame: pl.DataFrame, path: Path, schema: pl.Schema) -> None:
    write_parquet(frame, path, schema)


def assemble(
    sources: Sequence[tuple[Path, str]],
    cache: Path,
    run_id: str,
    *,
    start: date | None = None,
    end: date | None = None,
    skip_bad_records: bool = False,
) -> Assembled:
    """The lcb_problems table of `sources` (in order), parsing only the files not stored under `cache` yet.
    A missing file raises BenchmarkInputError, as load_problems does."""
    cache = Path(cache)
    frames, rejects, parsed, reused, rows_parsed = [], [], [], 0, 0
    for path, label in sources:
        if not Path(path).is_file():
            load_problems([(Path(path), label)])  # the one error naming the missing file
        key = source_key(path, label, skip_bad_records)
        rows_file, rejects_file = cache / f"{key}.parquet", cache / f"{key}.{_REJECTS}.parquet"
        if rows_file.is_file() and rejects_file.is_file():
            reused += 1
        else:
            loaded = load_problems([(Path(path), label)], skip_bad_records=skip_bad_records)
            frame = pl.DataFrame(problem_rows(loaded.problems, ""), schema=LCB_PROBLEMS.schema)
            bad = pl.DataFrame(
                [
                    {"location": r.location, "question_id": r.question_id, "reason": r.reason, "run_id": ""}
                    for r in loaded.rejected
                ],
                schema=LCB_PROBLEM_REJECTS.schema,
            )
            cache.mkdir(parents=True, exist_ok=True)
            _store(bad, rejects_file, LCB_PROBLEM_REJECTS.schema)  # rejects first: the rows file marks it done
            _store(frame, rows_file, LCB_PROBLEMS.schema)
            parsed.append(str(path))
            rows_parsed += frame.height + bad.height
        frames.append(pl.scan_parquet(rows_file))
        rejects.append(pl.scan_parquet(rejects_file))
    table = pl.concat(frames, how="vertical").collect() if frames else pl.DataFrame(schema=LCB_PROBLEMS.schema)
    outside = 0
    if start or end:
        dated = pl.col("contest_date").is_not_null()
        inside = (
            dated
            & (pl.col("contest_date") >= start if start else True)
            & (pl.col("contest_date") <= end if end else True)
        )
        before = table.height
        table = table.filter(inside)
        outside = before - table.height
    before = table.height
    table = table.unique("question_id", keep="first", maintain_order=True)
    stamp = pl.lit(run_id).alias("run_id")
    rejected = (
        pl.concat(rejects, how="vertical").collect() if rejects else pl.DataFrame(schema=LCB_PROBLEM_REJECTS.schema)
    )
    return Assembled(
        table.with_columns(stamp),
        rejected.with_columns(stamp),
        outside,
        before - table.height,
        parsed,
        reused,
        rows_parsed,
    )


def prune(cache: Path, keep: Sequence[tuple[Path, str]], skip_bad_records: bool) -> int:
    """Remove stored sources no longer listed (a file replaced by a newer version of it); returns how many."""
    cache = Path(cache)
    if not cache.is_dir():
        return 0
    wanted = {source_key(p, label, skip_bad_records) for p, label in keep if Path(p).is_file()}
    removed = set()
    for path in cache.glob("*.parquet"):
        key = path.name.split(".", 1)[0]
        if key not in wanted:
            try:
                os.remove(path)
                removed.add(key)
            except FileNotFoundError:  # another run pruned it first
                pass
    return len(removed)
