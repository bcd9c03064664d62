"""lcb_problems, incrementally and a chunk of rows at a time: each source file is parsed once per version of it,
and the table is written from the stored per-source rows as they are read.

A source's rows (every problem of the file, in file order, before the date window and before the question ids
of earlier files are dropped) are stored as `<cache>/<key>.parquet`, the key being the file's path, size and
modification time, its label and skip_bad_records: a nightly batch adds one lcb/verified_problems.jsonl, and
only that file is parsed; a file rewritten in place gets a new key. Assembly applies what depends on the whole
list, as recipe.benchmark.load_problems does: the window (undated rows only when no window is set) and the
first file's row for a question_id. Malformed rows raise as before (nothing is stored for that file) or, with
skip_bad_records, are stored as the file's rejects.

Memory: a row holds a problem's hidden tests (megabytes), so neither parsing nor assembly ever holds more than
`chunk_rows` rows: a file is parsed record by record and written as row groups of its stored file, and the table
is written from the stored files read a record batch at a time (TableWriter). What stays for the whole run is
the question ids seen (for the first-file-wins rule) and the counters of `Tally`.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator, Sequence

import polars as pl

from xcoder_assets.recipe.benchmark import RejectedRecord, load_problems, parsed_records
from xcoder_assets.recipe.evaluation import problem_rows
from xcoder_assets.store.ids import content_hash
from xcoder_assets.store.streaming import TableWriter, row_group_frames
from xcoder_assets.store.tables import LCB_PROBLEM_REJECTS, LCB_PROBLEMS

SOURCE_LAYOUT = "xcoder-lcb-source/2"  # 2: rows stored a chunk to a row group (1: one group)
_REJECTS = "rejects"
CHUNK_ROWS = 8  # rows parsed or copied at a time: a LiveCodeBench row with its tests is up to a few MB
REJECTS_SHOWN = 20  # rejects kept for the check's metadata (all of them are in the table)


@dataclass
class Tally:
    """What lcb_problems reports, counted while its rows are written."""

    problems: int = 0
    by_source: Counter = field(default_factory=Counter)
    by_difficulty: Counter = field(default_factory=Counter)
    by_platform: Counter = field(default_factory=Counter)
    by_mode: Counter = field(default_factory=Counter)
    undated: int = 0
    first_date: date | None = None
    last_date: date | None = None
    outside_window: int = 0
    duplicates: int = 0  # rows whose question_id an earlier file already gave
    rejected: int = 0
    first_rejects: list[dict[str, Any]] = field(default_factory=list)  # the first REJECTS_SHOWN, in table order
    parsed: list[str] = field(default_factory=list)  # the files parsed in this run (new or changed)
    reused: int = 0  # the files whose stored rows were used
    rows_parsed: int = 0  # rows of the files parsed in this run

    def count(self, frame: pl.DataFrame) -> None:
        self.problems += frame.height
        for counter, column in (
            (self.by_source, "source"),
            (self.by_difficulty, "difficulty"),
            (self.by_platform, "platform"),
            (self.by_mode, "mode"),
        ):
            counter.update(frame[column].to_list())
        dates = frame["contest_date"]
        self.undated += dates.null_count()
        if dates.null_count() < frame.height:
            low, high = dates.min(), dates.max()
            self.first_date = low if self.first_date is None else min(self.first_date, low)
            self.last_date = high if self.last_date is None else max(self.last_date, high)

    def date_range(self) -> str:
        return f"{self.first_date or '-'} .. {self.last_date or '-'}"


@dataclass
class Assembled:
    """The table in memory (assemble(): tests and small sources), with the tally."""

    problems: pl.DataFrame  # lcb_problems' rows (run_id set)
    rejects: pl.DataFrame  # lcb_problems__rejects' rows
    tally: Tally

    @property
    def outside_window(self) -> int:
        return self.tally.outside_window

    @property
    def duplicates(self) -> int:
        return self.tally.duplicates

    @property
    def parsed(self) -> list[str]:
        return self.tally.parsed

    @property
    def reused(self) -> int:
        return self.tally.reused

    @property
    def rows_parsed(self) -> int:
        return self.tally.rows_parsed


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


def parse_source(
    path: Path, label: str, rows_file: Path, rejects_file: Path, skip_bad_records: bool, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Parse one file into its stored rows and rejects, `chunk_rows` problems at a time (a question id the file
    repeats: its first row, as load_problems). A malformed row raises BenchmarkInputError (nothing stored) or,
    with skip_bad_records, is stored as a reject. The rejects file is put in place first: the rows file marks
    the source done. Returns the rows parsed (problems and rejects)."""
    seen: set[str] = set()
    pending: list = []
    with (
        TableWriter(LCB_PROBLEMS, rows_file.parent, rows_file) as rows,
        TableWriter(LCB_PROBLEM_REJECTS, rejects_file.parent, rejects_file) as rejects,
    ):
        for problem in parsed_records(path, label, skip_bad_records):
            if isinstance(problem, RejectedRecord):
                rejects.write([{**asdict(problem), "run_id": ""}])
                continue
            if problem.question_id in seen:
                continue
            seen.add(problem.question_id)
            pending.append(problem)
            if len(pending) >= chunk_rows:
                rows.write(problem_rows(pending, ""))
                pending = []
        if pending:
            rows.write(problem_rows(pending, ""))
        rejects.close()  # before the rows file (the with closes rows next)
        return rows.rows + rejects.rows


def _batches(path: Path, chunk_rows: int) -> Iterator[pl.DataFrame]:
    """A stored file's rows, at most `chunk_rows` at a time (read a row group at a time: parse_source wrote
    them `chunk_rows` to a group)."""
    for frame in row_group_frames(path):
        for start in range(0, frame.height, max(1, chunk_rows)):
            yield frame.slice(start, max(1, chunk_rows))


def _window(frame: pl.DataFrame, start: date | None, end: date | None) -> pl.DataFrame:
    if not (start or end):
        return frame
    dated = pl.col("contest_date").is_not_null()
    inside = (
        dated & (pl.col("contest_date") >= start if start else True) & (pl.col("contest_date") <= end if end else True)
    )
    return frame.filter(inside)


def build(
    sources: Sequence[tuple[Path, str]],
    cache: Path,
    run_id: str,
    problems: TableWriter,
    rejects: TableWriter,
    *,
    start: date | None = None,
    end: date | None = None,
    skip_bad_records: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Tally:
    """Write the lcb_problems table of `sources` (in order) and its rejects through the given writers, parsing
    only the files not stored under `cache` yet, `chunk_rows` rows at a time. A missing file raises
    BenchmarkInputError, as load_problems does."""
    cache, tally, seen = Path(cache), Tally(), set()
    stored = []
    for path, label in sources:
        if not Path(path).is_file():
            load_problems([(Path(path), label)])  # the one error naming the missing file
        key = source_key(path, label, skip_bad_records)
        rows_file, rejects_file = cache / f"{key}.parquet", cache / f"{key}.{_REJECTS}.parquet"
        if rows_file.is_file() and rejects_file.is_file():
            tally.reused += 1
        else:
            cache.mkdir(parents=True, exist_ok=True)
            tally.rows_parsed += parse_source(Path(path), label, rows_file, rejects_file, skip_bad_records, chunk_rows)
            tally.parsed.append(str(path))
        stored.append((rows_file, rejects_file))
    stamp = pl.lit(run_id).alias("run_id")
    for rows_file, _ in stored:
        for frame in _batches(rows_file, chunk_rows):
            inside = _window(frame, start, end)
            tally.outside_window += frame.height - inside.height
            first = [not (qid in seen or seen.add(qid)) for qid in inside["question_id"].to_list()]
            fresh = inside.filter(pl.Series(first, dtype=pl.Boolean)).with_columns(stamp)
            tally.duplicates += inside.height - fresh.height
            tally.count(fresh)
            problems.write(fresh)
    for _, rejects_file in stored:
        for frame in _batches(rejects_file, chunk_rows):
            frame = frame.with_columns(stamp)
            tally.rejected += frame.height
            room = REJECTS_SHOWN - len(tally.first_rejects)
            tally.first_rejects += frame.head(max(room, 0)).to_dicts()
            rejects.write(frame)
    return tally


def assemble(
    sources: Sequence[tuple[Path, str]],
    cache: Path,
    run_id: str,
    *,
    start: date | None = None,
    end: date | None = None,
    skip_bad_records: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Assembled:
    """`build` into temporary files, read back whole: the table in memory, for small sources and the tests."""
    with tempfile.TemporaryDirectory(prefix="lcb-assemble-") as tmp:
        with (
            TableWriter(LCB_PROBLEMS, Path(tmp)) as problems,
            TableWriter(LCB_PROBLEM_REJECTS, Path(tmp)) as rejects,
        ):
            tally = build(
                sources,
                cache,
                run_id,
                problems,
                rejects,
                start=start,
                end=end,
                skip_bad_records=skip_bad_records,
                chunk_rows=chunk_rows,
            )
        return Assembled(pl.read_parquet(problems.path), pl.read_parquet(rejects.path), tally)


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
