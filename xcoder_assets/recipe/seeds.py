"""Loading seed problems: TACO-style records (a `question` and its `solutions`).

`solutions` may be a list of strings or a JSON string holding one (as TACO ships it); the recipe
uses the first solution. Sources are JSONL or Parquet files, or a Hugging Face dataset id loaded at
run time. Every bad record is reported with its source, line (1-based; row number for Parquet and
datasets) and reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import polars as pl

from xcoder_assets.store.ids import make_id

BUNDLED_SEEDS = Path(__file__).resolve().parents[1] / "data" / "seed_problems.jsonl"


class SeedLoadError(ValueError):
    """A seed source that cannot be read at all, or bad records where none are allowed."""


@dataclass(frozen=True)
class SeedRecord:
    source: str
    line: int
    question: str
    solution: str
    solutions_count: int
    difficulty: str | None


@dataclass(frozen=True)
class SeedReject:
    source: str
    line: int
    reason: str
    raw: str


def parse_record(source: str, line: int, record: Any) -> SeedRecord:
    """One raw record -> SeedRecord, or ValueError with the reason."""
    if not isinstance(record, dict):
        raise ValueError(f"record is a {type(record).__name__}, not an object")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("field 'question' is missing or empty")
    solutions = record.get("solutions")
    if isinstance(solutions, str):
        try:
            solutions = json.loads(solutions)
        except ValueError as exc:
            raise ValueError(f"field 'solutions' is a string but not JSON: {exc}") from None
    if not isinstance(solutions, list):
        raise ValueError(f"field 'solutions' must be a list of strings (or its JSON), got {type(solutions).__name__}")
    solutions = [s for s in solutions if isinstance(s, str) and s.strip()]
    if not solutions:
        raise ValueError("field 'solutions' holds no non-empty solution")
    difficulty = record.get("difficulty")
    return SeedRecord(
        source, line, question.strip(), solutions[0], len(solutions), str(difficulty) if difficulty else None
    )


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any, str]]:
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text), text
            except ValueError as exc:
                yield number, _BadJson(str(exc)), text


class _BadJson:
    def __init__(self, message: str):
        self.message = message


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any, str]]:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise SeedLoadError(f"{path}: not a readable Parquet file: {exc}") from None
    for number, row in enumerate(frame.iter_rows(named=True), 1):
        yield number, row, json.dumps(row, default=str)[:2000]


def _dataset_rows(dataset_id: str, split: str, load_dataset: Callable | None) -> Iterator[tuple[int, Any, str]]:
    if load_dataset is None:
        from datasets import load_dataset  # heavy import, only for this source
    try:
        dataset = load_dataset(dataset_id, split=split)
    except Exception as exc:
        raise SeedLoadError(
            f"Hugging Face dataset {dataset_id!r} (split {split!r}) could not be loaded: {exc}"
        ) from None
    for number, row in enumerate(dataset, 1):
        yield number, row, json.dumps(row, default=str)[:2000]


def load_seeds(
    paths: Iterable[str | Path] = (),
    dataset_id: str | None = None,
    split: str = "train",
    limit: int | None = None,
    load_dataset: Callable | None = None,
) -> tuple[list[SeedRecord], list[SeedReject]]:
    """Read every source; return the good records and the rejects (the caller decides on rejects)."""
    sources: list[tuple[str, Iterator[tuple[int, Any, str]]]] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise SeedLoadError(f"seed file {path}: no such file")
        if path.suffix in (".jsonl", ".json", ".ndjson"):
            sources.append((str(path), _jsonl_rows(path)))
        elif path.suffix == ".parquet":
            sources.append((str(path), _parquet_rows(path)))
        else:
            raise SeedLoadError(f"seed file {path}: unknown format {path.suffix!r}; use .jsonl or .parquet")
    if dataset_id:
        sources.append((f"hf:{dataset_id}[{split}]", _dataset_rows(dataset_id, split, load_dataset)))
    if not sources:
        raise SeedLoadError("no seed source given: set paths or dataset_id")
    records: list[SeedRecord] = []
    rejects: list[SeedReject] = []
    for source, rows in sources:
        for number, row, raw in rows:
            if limit is not None and len(records) >= limit:
                break
            if isinstance(row, _BadJson):
                rejects.append(SeedReject(source, number, f"not valid JSON: {row.message}", raw[:2000]))
                continue
            try:
                records.append(parse_record(source, number, row))
            except ValueError as exc:
                rejects.append(SeedReject(source, number, str(exc), raw[:2000]))
    return records, rejects


def describe_rejects(rejects: list[SeedReject], limit: int = 5) -> str:
    lines = [f"{r.source}:{r.line}: {r.reason}" for r in rejects[:limit]]
    more = f"\n... and {len(rejects) - limit} more" if len(rejects) > limit else ""
    return "\n".join(lines) + more


def load_usable_seeds(
    paths: Iterable[str | Path],
    dataset_id: str | None,
    split: str,
    limit: int | None,
    skip_bad_records: bool,
) -> tuple[list[SeedRecord], list[SeedReject]]:
    """load_seeds, refusing what seed_problems cannot go on with: bad records unless skip_bad_records (then
    they are the caller's to record), or no usable record at all (a SeedLoadError saying which)."""
    records, rejects = load_seeds(paths, dataset_id, split, limit)
    if rejects and not skip_bad_records:
        raise SeedLoadError(
            f"{len(rejects)} bad seed record(s) (set skip_bad_records to record them and go on):\n"
            + describe_rejects(rejects)
        )
    if not records:
        raise SeedLoadError(f"no usable seed records in {list(paths) or dataset_id}")
    return records, rejects


# ---- rows of seed_problems and seed_problems__rejects --------------------------------------------


def seed_rows(records: Iterable[SeedRecord], run_id: str) -> tuple[list[dict[str, Any]], int]:
    """One row per distinct seed (same statement and solution: the first record kept), and how many were dropped."""
    rows: dict[str, dict[str, Any]] = {}
    total = 0
    for r in records:
        total += 1
        seed_id = make_id("seed", {"question": r.question, "solution": r.solution})
        rows.setdefault(
            seed_id,
            {
                "seed_id": seed_id,
                "source": r.source,
                "source_line": r.line,
                "question": r.question,
                "solution": r.solution,
                "solutions_count": r.solutions_count,
                "difficulty": r.difficulty,
                "run_id": run_id,
            },
        )
    return list(rows.values()), total - len(rows)


def reject_rows(rejects: Iterable[SeedReject], run_id: str) -> list[dict[str, Any]]:
    return [
        {"source": r.source, "source_line": r.line, "reason": r.reason, "raw": r.raw, "run_id": run_id} for r in rejects
    ]


def reject_share(loaded: int, rejected: int) -> float:
    """Rejected records over all records read."""
    return rejected / (loaded + rejected) if loaded + rejected else 0.0
