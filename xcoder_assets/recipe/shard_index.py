"""training_shards, incrementally: one part per generation batch, planned once, and a shards version assembled
from parts without reading a batch again.

A batch's part is keyed by what it is made of: the content hashes of the batch's input files, the shard
settings, the benchmark's fingerprint, the tokenizer and the key of the part before it (the batches are
taken in key order, so nightly keys are taken in the order they ran). Planning a part reads only its batch;
its problems are deduplicated against an on-disk index of the problems earlier parts kept (the exact key and
the MinHash LSH band keys of each, in SQLite, queried by key: datasketch's banding, datatrove's on-disk shape),
so a batch costs the same whatever came before. The earlier batch wins: a problem that repeats one of an
earlier batch is the duplicate, exactly as in one plan over all of them in batch order (the test checks it).
A batch whose files changed gets a new key, so it and the parts after it are planned again and the old
part's index rows stop counting (they are queried only through the chain of parts in use).

Memory: a batch's tests (megabytes per problem) are never held whole. BatchTests keeps ids only; planning
reads each problem's tests once, in the order the batch's files hold them, into a small file of its own beside
the part (removed after), and the tests hash, the RL problems and the RL shard rows read them from there a few
problems at a time; the shard files are written row by row (recipe/shards.py). What a plan holds for the whole
batch is its problems' statements, prompts and solutions (kilobytes per example: dedup compares them all).
A version's two tables are written from the parts' rows a record batch at a time and counted as they go
(ShardsTally), so the run's memory does not grow with the batches either.

On disk, under the shards root (`training_shards/`):
- `_parts/<part>/`: a shards folder of the batch's kept examples (manifest.json and the files, the same
  layout as a version), `examples.parquet` and `rl.parquet` (its training_shards and training_shards__rl rows).
- `_index.sqlite`: the problem index, the parts finished, and the input files' hashes by (size, mtime).
- `_benchmark/<fingerprint>.pickle`: the decontamination index of a benchmark, built once.
- `<version>/`: what a trainer reads. Its files are hard links to the parts' files (no byte copied, a copy
  only where the file system cannot link), numbered in batch order, so launched/shards.py, the HF `datasets`
  loaders and the mixtures read it as any shards folder.
- `versions.json`: the versions in the order they were last materialized, with their parts: the retention
  policy (`apply_retention`) keeps the last `keep_versions` and every version a trained model's run recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sqlite3
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import polars as pl

from xcoder_assets.recipe.decontamination import BenchmarkText, DecontaminationSettings, Decontaminator, Prepared
from xcoder_assets.recipe.dedup import NearDuplicateIndex, exact_key
from xcoder_assets.recipe.prompts import PromptTemplate, load_template, template_by_id
from xcoder_assets.recipe.shards import (
    FORMATS,
    TESTS_CHUNK,
    Plan,
    ShardSettings,
    SourceExample,
    TokenCounter,
    example_of,
    manifest_of,
    RowRef,
    ShardInputError,
    mixture,
    write_mixture,
    plan_examples,
    rl_problems,
    shards_version,
    rl_tests_from_lcb_row,
    shard_file_ids,
    source_examples,
    split_of,
    write_layout,
    write_manifest,
)
from xcoder_assets.recipe.shard_manifest import MANIFEST, check_files, read_manifest
from xcoder_assets.recipe.verification import GATE_RECORD, VerificationGate
from xcoder_assets.store.ids import canonical_json, content_hash, make_id, file_sha256
from xcoder_assets.store.parquet import damaged, write_parquet, write_text
from xcoder_assets.present.progress import ProgressMeter
from xcoder_assets.store.settings import read_settings
from xcoder_assets.store.streaming import KeyedRows, row_group_frames
from xcoder_assets.store.votes import TestVoteRecord, read_votes
from xcoder_assets.store.tables import (
    CANDIDATE_SOLUTIONS,
    PROBLEMS,
    TEST_INPUTS,
    TRAINING_RL,
    TRAINING_SHARDS,
    VERIFIED_SOLUTIONS,
    settings_path,
    verified_problems_path,
)

if TYPE_CHECKING:  # only a type here: datasketch (and scipy) would cost every process that loads the definitions
    from datasketch import MinHash

PART_LAYOUT = "xcoder-shard-part/1"  # part of every part key: a layout change plans every batch again
PARTS_DIR = "_parts"
BENCHMARK_DIR = "_benchmark"
INDEX_FILE = "_index.sqlite"
LEDGER = "versions.json"
EXAMPLES, RL, FILE_IDS = "examples.parquet", "rl.parquet", "file_ids.parquet"
FILE_IDS_SCHEMA = pl.Schema({"path": pl.String, "example_id": pl.String})
TRAINED_MODEL_DIR = "trained_model"  # defs/training.py's OUTPUT_FOLDER: where each run records its shards
NEAR_MARGIN = 0.15  # as dedup.NearDuplicateIndex: band for a lower threshold, the exact Jaccard decides

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_hash (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
CREATE TABLE IF NOT EXISTS part (part TEXT PRIMARY KEY, batch TEXT, problems INTEGER);
CREATE TABLE IF NOT EXISTS problem (
    part TEXT, problem_id TEXT, exact_key TEXT, shingles TEXT, PRIMARY KEY (part, problem_id));
CREATE INDEX IF NOT EXISTS problem_exact ON problem (exact_key);
CREATE TABLE IF NOT EXISTS band (band_key TEXT, part TEXT, problem_id TEXT);
CREATE INDEX IF NOT EXISTS band_key ON band (band_key);
"""


class ShardIndexError(ValueError):
    """The on-disk index or a part folder cannot be used: the message names the file."""


def band_keys(signature: MinHash, bands: int, rows: int) -> list[str]:
    """One key per LSH band: two signatures are candidates when any band's values are the same (datasketch's
    rule); a band's values are stored as a short digest."""
    values = signature.hashvalues
    return [
        f"{b}:{hashlib.blake2b(values[b * rows : (b + 1) * rows].tobytes(), digest_size=10).hexdigest()}"
        for b in range(bands)
    ]


class ShardIndex:
    """The SQLite file beside the parts: problems kept per part (exact key, shingles) and their band keys;
    which parts are complete; input files' sha256 by (path, size, mtime), so an unchanged file is hashed once.
    Opened per run (SQLite's own locking serializes writers across processes)."""

    def __init__(self, path: Path, threshold: float, num_perm: int):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.threshold = threshold
        self.bands, self.rows = NearDuplicateIndex(threshold, num_perm, NEAR_MARGIN).bands
        try:
            self.con = sqlite3.connect(self.path, timeout=60)
            self.con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ShardIndexError(f"{self.path}: not a usable index ({exc}); remove it to rebuild it") from None

    def close(self) -> None:
        self.con.close()

    def file_sha256(self, path: Path) -> str:
        stat = Path(path).stat()
        key = str(Path(path).resolve())
        row = self.con.execute(
            "SELECT sha256 FROM file_hash WHERE path = ? AND size = ? AND mtime_ns = ?",
            (key, stat.st_size, stat.st_mtime_ns),
        ).fetchone()
        if row:
            return row[0]
        digest = file_sha256(path)
        with self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO file_hash VALUES (?, ?, ?, ?)", (key, stat.st_size, stat.st_mtime_ns, digest)
            )
        return digest

    def remember(self, files: Sequence[tuple[Path, str]]) -> None:
        """Record the sha256 of files written from known bytes (a version's links to the parts' files)."""
        rows = []
        for path, digest in files:
            stat = Path(path).stat()
            rows.append((str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, digest))
        with self.con:
            self.con.executemany("INSERT OR REPLACE INTO file_hash VALUES (?, ?, ?, ?)", rows)

    def has_part(self, part: str) -> bool:
        return self.con.execute("SELECT 1 FROM part WHERE part = ?", (part,)).fetchone() is not None

    def add_part(self, part: str, batch: str, unique: Mapping[str, Prepared]) -> None:
        """Record what a part kept, in one transaction (a part counts as done only with its rows)."""
        problems, bands = [], []
        for pid, prepared in unique.items():
            tokens = [t for seg in prepared.segments for t in seg]
            problems.append((part, pid, exact_key(tokens), json.dumps(sorted(prepared.shingles))))
            if prepared.shingles:
                bands += [(k, part, pid) for k in band_keys(prepared.signature, self.bands, self.rows)]
        with self.con:
            self.forget([part])
            self.con.executemany("INSERT INTO problem VALUES (?, ?, ?, ?)", problems)
            self.con.executemany("INSERT INTO band VALUES (?, ?, ?)", bands)
            self.con.execute("INSERT INTO part VALUES (?, ?, ?)", (part, batch, len(problems)))

    def forget(self, parts: Iterable[str]) -> None:
        for part in parts:
            for table in ("part", "problem", "band"):
                self.con.execute(f"DELETE FROM {table} WHERE part = ?", (part,))  # noqa: S608 (fixed names)

    def parts(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT part FROM part ORDER BY part")]

    def earlier(self, chain: Sequence[str]) -> ChainLookup:
        return ChainLookup(self, chain)


class ChainLookup:
    """The problems kept by the parts of one chain (the batches before the one being planned), for
    dedup.deduplicate's `earlier`: a query per problem, by exact key and by band keys."""

    def __init__(self, index: ShardIndex, chain: Sequence[str]):
        self.index = index
        self.con = index.con
        self.con.execute("CREATE TEMP TABLE IF NOT EXISTS chain (part TEXT PRIMARY KEY)")
        self.con.execute("DELETE FROM chain")
        self.con.executemany("INSERT INTO chain VALUES (?)", [(p,) for p in chain])
        self.queries = 0

    def exact(self, key: str) -> str | None:
        self.queries += 1
        row = self.con.execute(
            "SELECT p.problem_id FROM problem p JOIN chain c ON c.part = p.part WHERE p.exact_key = ? "
            "ORDER BY p.problem_id LIMIT 1",
            (key,),
        ).fetchone()
        return row[0] if row else None

    def candidates(self, signature: MinHash) -> list[tuple[str, set[str]]]:
        self.queries += 1
        keys = band_keys(signature, self.index.bands, self.index.rows)
        rows = self.con.execute(
            "SELECT DISTINCT p.problem_id, p.shingles FROM band b JOIN chain c ON c.part = b.part "
            "JOIN problem p ON p.part = b.part AND p.problem_id = b.problem_id "
            f"WHERE b.band_key IN ({','.join('?' * len(keys))})",  # noqa: S608 (placeholders only)
            keys,
        ).fetchall()
        return [(pid, set(json.loads(shingles))) for pid, shingles in rows]


# ---- the benchmark's index, once per fingerprint -----------------------------------------------------


def benchmark_fingerprint(texts: Sequence[BenchmarkText], settings: DecontaminationSettings) -> str:
    return content_hash(
        {"texts": sorted((t.benchmark_id, t.source, t.text) for t in texts), "settings": settings.__dict__}
    )


def load_decontaminator(
    root: Path, texts: Sequence[BenchmarkText], settings: DecontaminationSettings
) -> tuple[Decontaminator, str, bool]:
    """The decontamination index of a benchmark: built once per fingerprint and stored under
    `root/_benchmark/` (a pickle this code wrote; anything unreadable is rebuilt). Returns it, the
    fingerprint and whether it was built now."""
    fingerprint = benchmark_fingerprint(texts, settings)
    path = Path(root) / BENCHMARK_DIR / f"{fingerprint}.pickle"
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                stored = pickle.load(handle)  # noqa: S301 (our own file, keyed by its content)
            if isinstance(stored, Decontaminator):
                return stored, fingerprint, False
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
    built = Decontaminator(texts, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "wb") as handle:
        pickle.dump(built, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return built, fingerprint, True


# ---- a part ---------------------------------------------------------------------------------------


@dataclass
class BatchData:
    """What a batch contributes, read by the caller (only for a batch that must be planned). `tests_of`: a
    dict, or the batch's BatchTests (read a few problems at a time: a problem's tests are megabytes)."""

    sources: list[SourceExample]
    problems: dict[str, Mapping[str, Any]]
    tests_of: Mapping[str, tuple[tuple[str, str], ...]] | "BatchTests"
    template: str
    rows_read: dict[str, int] = field(default_factory=dict)


def scan(path: Path, query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
    """A query over one table file with its filters and columns pushed into the Parquet scan (row groups
    and columns it does not need are not read); a damaged file is one error naming it, as read_parquet's."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist: materialize its asset first")
    try:
        return query(pl.scan_parquet(path)).collect()
    except Exception as exc:  # polars' ComputeError for a truncated file, OSError, ...
        raise damaged(Path(path), exc) from None


def solve_template(folder: Path) -> PromptTemplate:
    """The solve template a batch's candidate_solutions used (its settings record), so prompts match what was asked."""
    try:
        made_with = read_settings(folder, "candidate_solutions").get("made_with", {})
    except (FileNotFoundError, ValueError):
        made_with = {}
    return template_by_id(made_with["template"]) if made_with.get("template") else load_template("solve")


def verification_gate(folder: Path) -> VerificationGate | None:
    """The batch's verification gate, from verified_solutions' settings record (None: not recorded)."""
    try:
        return VerificationGate.from_record(
            read_settings(folder, "verified_solutions").get("made_with", {}).get(GATE_RECORD)
        )
    except (FileNotFoundError, ValueError):
        return None


def batch_inputs(folder: Path, index: ShardIndex) -> dict[str, str]:
    """The sha256 of every file a batch's part is made of (hashed once per file version: by size and mtime)."""
    files = {
        "verified_solutions": VERIFIED_SOLUTIONS.path(folder),
        "problems": PROBLEMS.path(folder),
        "candidate_solutions": CANDIDATE_SOLUTIONS.path(folder),
        "test_inputs": TEST_INPUTS.path(folder),
        "lcb_verified_problems": verified_problems_path(folder),
        "settings_candidate_solutions": settings_path(folder, "candidate_solutions"),
        "settings_verified_solutions": settings_path(folder, "verified_solutions"),
    }
    return {name: index.file_sha256(path) for name, path in files.items() if path.is_file()}


class BatchTests:
    """A batch's verified tests with outputs per problem, read `load(problem_ids)` a few problems at a time
    (a problem's tests are megabytes; a batch's, gigabytes): the golden row's votes_json voted outputs where
    verified_solutions stores them (inputs from test_inputs), else lcb/verified_problems.jsonl (the golden
    solution's outputs on the verified tests; a problem's first line). Opening keeps only ids: per problem
    its verified test ids or the offset of its line."""

    _VOTE_COLUMNS = ["problem_id", "status", "is_golden", "votes_json"]

    def __init__(self, folder: Path, chunk: int = TESTS_CHUNK):
        self.folder, self.chunk = Path(folder), chunk
        self._votes: dict[str, list[str]] = {}  # problem -> its verified test ids, in the votes' order
        self._lines: dict[str, int] = {}  # problem -> offset of its line in lcb/verified_problems.jsonl
        self.inputs_read = 0  # test_inputs rows read by digest() (each problem's tests once)
        self._verified: KeyedRows | None = None
        self._inputs: KeyedRows | None = None
        self._spilled: dict[str, Path] = {}  # problem -> its tests' file, once spill() ran
        for frame in row_group_frames(VERIFIED_SOLUTIONS.path(self.folder), self._VOTE_COLUMNS):
            for row in frame.iter_rows(named=True):
                votes = self._voted(row) if self._is_golden(row) else None
                if votes is not None:
                    self._votes[row["problem_id"]] = [v.test_id for v in votes if v.verified]
        lcb_file = verified_problems_path(self.folder)
        if lcb_file.exists():
            with open(lcb_file, "rb") as handle:
                while True:
                    offset, line = handle.tell(), handle.readline()
                    if not line:
                        break
                    qid = _question_id(line)
                    if qid is not None and qid not in self._votes and qid not in self._lines:
                        self._lines[qid] = offset

    @staticmethod
    def _is_golden(row: Mapping[str, Any]) -> bool:
        return row["status"] == "verified" and bool(row["is_golden"])

    @staticmethod
    def _voted(row: Mapping[str, Any]) -> list[TestVoteRecord] | None:
        """The golden row's votes when they kept the voted outputs (the tests come from them), else None."""
        votes = read_votes(row["votes_json"])
        return votes if votes and all(v.has_output for v in votes) else None

    def keys(self) -> list[str]:
        return [*self._votes, *(q for q in self._lines if q not in self._votes)]

    def __len__(self) -> int:
        return len(self._votes) + len(self._lines)

    def __contains__(self, problem_id: object) -> bool:
        return problem_id in self._votes or problem_id in self._lines

    def load(self, problem_ids: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        """The tests of these problems (those the batch has tests for): from the spill when there is one."""
        if self._spilled:
            return {p: _tests_from_json(self._spilled[p].read_text("utf-8")) for p in problem_ids if p in self._spilled}
        return self._read(problem_ids)

    def _open(self) -> None:
        if self._verified is None:
            self._verified = KeyedRows(VERIFIED_SOLUTIONS.path(self.folder), "problem_id", self._VOTE_COLUMNS)
            self._inputs = KeyedRows(TEST_INPUTS.path(self.folder), "problem_id", ["problem_id", "test_id", "input"])

    def _read(self, problem_ids: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        out: dict[str, tuple[tuple[str, str], ...]] = {}
        voted = [p for p in problem_ids if p in self._votes]
        if voted:
            self._open()
            assert self._verified is not None
            votes_of = {}
            for row in self._verified.rows(voted).iter_rows(named=True):
                if self._is_golden(row) and (votes := self._voted(row)) is not None:
                    votes_of[row["problem_id"]] = votes
            wanted = {t for p in voted for t in self._votes[p]}
            assert self._inputs is not None
            inputs = {t: i for t, i in self._inputs.rows(voted).select("test_id", "input").iter_rows() if t in wanted}
            for pid in voted:
                out[pid] = tuple(
                    (inputs[v.test_id], v.voted_output)
                    for v in votes_of.get(pid, [])
                    if v.verified and v.test_id in inputs
                )
        lines = [p for p in problem_ids if p in self._lines and p not in self._votes]
        if lines:
            with open(verified_problems_path(self.folder), "rb") as handle:
                for pid in lines:
                    handle.seek(self._lines[pid])
                    out[pid] = rl_tests_from_lcb_row(json.loads(handle.readline()))
        return out

    def spill(self, folder: Path) -> None:
        """Read every problem's tests once, in the order the batch's files hold them (so that each row group of
        test_inputs is read about once), into a small file of its own under `folder` (its canonical JSON):
        the readers that come after (the digest, the RL problems in task order) then read just a problem's
        file. Counts the test_inputs rows read. The caller removes `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        voted: list[str] = []
        if self._votes:
            self._open()
            assert self._inputs is not None
            groups = self._inputs._groups
            voted = sorted(self._votes, key=lambda p: (min(groups.get(p, [-1])), p))
        order = voted + sorted(self._lines, key=self._lines.__getitem__)
        self.inputs_read, spilled = 0, {}
        for start in range(0, len(order), max(1, self.chunk)):
            part = order[start : start + max(1, self.chunk)]
            loaded = self._read(part)
            for pid in part:
                path = folder / f"{len(spilled):08d}.json"
                path.write_text(canonical_json(loaded[pid]), encoding="utf-8")
                spilled[pid] = path
                self.inputs_read += len(loaded[pid]) if pid in self._votes else 0
        self._spilled = spilled

    def digest(self) -> str:
        """content_hash(sorted(tests.items())) without holding them: each problem's tests in problem order,
        from the spill (its text as stored) or read now (counting the test_inputs rows read)."""
        if self._spilled:
            digest, first = hashlib.sha256(b"["), True
            for pid in sorted(self._spilled):
                item = f"[{canonical_json(pid)},{self._spilled[pid].read_text('utf-8')}]"
                digest.update((item if first else "," + item).encode("utf-8"))
                first = False
            digest.update(b"]")
            return digest.hexdigest()[:16]
        self.inputs_read = 0

        def load(chunk: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
            loaded = self.load(chunk)
            self.inputs_read += sum(len(loaded[p]) for p in chunk if p in self._votes)
            return loaded

        return streamed_tests_hash(self.keys(), load, self.chunk)


def _tests_from_json(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((case[0], case[1]) for case in json.loads(text))


def _question_id(line: bytes) -> str | None:
    """The question_id of one JSON line of lcb/verified_problems.jsonl (None: blank, not JSON, not an object)."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    qid = record.get("question_id") if isinstance(record, dict) else None
    return qid if isinstance(qid, str) else None


def streamed_tests_hash(
    keys: Iterable[str], load: Callable[[Sequence[str]], Mapping[str, Any]], chunk: int = TESTS_CHUNK
) -> str:
    """content_hash(sorted(tests.items())) of the tests `load` gives for `keys`, fed to the hash a chunk of
    problems at a time: canonical JSON of a list is its items' canonical JSON joined by commas."""
    digest, ordered, first = hashlib.sha256(b"["), sorted(keys), True
    for start in range(0, len(ordered), max(1, chunk)):
        part = ordered[start : start + max(1, chunk)]
        loaded = load(part)
        for pid in part:
            digest.update((("" if first else ",") + canonical_json([pid, loaded[pid]])).encode("utf-8"))
            first = False
    digest.update(b"]")
    return digest.hexdigest()[:16]


def _tests_hash(tests_of: Mapping[str, Any] | BatchTests) -> tuple[int, str]:
    if isinstance(tests_of, BatchTests):
        return len(tests_of), tests_of.digest()
    return len(tests_of), content_hash(sorted(tests_of.items()))


def read_batch(folder: Path, chunk: int = TESTS_CHUNK) -> BatchData:
    """One batch's verified solutions with their candidates and problems, as source examples with the batch's
    template, and its tests as a BatchTests (read later, a few problems at a time). Each table is scanned with
    its filter and columns pushed down (only verified rows, only the candidates and problems they name)."""
    folder = Path(folder)
    verified = scan(
        VERIFIED_SOLUTIONS.path(folder),
        lambda q: q.filter(pl.col("status") == "verified").select(
            "verified_id", "problem_id", "candidate_id", "status", "is_golden", "code"
        ),
    )
    ids = verified["candidate_id"].unique().to_list()
    pids = verified["problem_id"].unique().to_list()
    candidates = {
        r["candidate_id"]: r
        for r in scan(
            CANDIDATE_SOLUTIONS.path(folder),
            lambda q: q.filter(pl.col("candidate_id").is_in(ids)).select("candidate_id", "sample_index", "reasoning"),
        ).iter_rows(named=True)
    }
    problems = {
        r["problem_id"]: r
        for r in scan(PROBLEMS.path(folder), lambda q: q.filter(pl.col("problem_id").is_in(pids))).iter_rows(named=True)
    }
    template = solve_template(folder)
    sources = source_examples(verified.sort("verified_id").iter_rows(named=True), candidates, problems, template)
    rows_read = {"verified_solutions": verified.height, "candidate_solutions": len(candidates)}
    return BatchData(
        sources, problems, BatchTests(folder, chunk), template.id, {**rows_read, "problems": len(problems)}
    )


def part_key(
    batch: str,
    inputs: Mapping[str, str],
    settings: ShardSettings,
    benchmark: str,
    tokenizer: str,
    after: str | None,
) -> str:
    """What a part is made of: the batch's input hashes, the settings, the benchmark, the tokenizer and the
    part it follows (the index it was deduplicated against)."""
    return content_hash(
        {
            "layout": PART_LAYOUT,
            "batch": batch,
            "inputs": dict(sorted(inputs.items())),
            "settings": settings.record(),
            "benchmark": benchmark,
            "tokenizer": tokenizer,
            "after": after,
        },
        length=24,
    )


def example_record(o: Any, tokens: int | None, source_of: Mapping[str, str]) -> dict[str, Any]:
    """A training_shards row of one outcome; shards_version and run_id are set when a version is assembled."""
    return {
        "example_id": o.example_id,
        "verified_id": o.source.verified_id,
        "problem_id": o.source.problem_id,
        "candidate_id": o.source.candidate_id,
        "status": o.status,
        "reason": o.reason,
        "duplicate_of": o.duplicate_of,
        "duplicate_score": o.duplicate_score,
        "contamination_method": o.flag.method if o.flag else None,
        "contamination_score": o.flag.score if o.flag else None,
        "benchmark_question_id": o.flag.benchmark_id if o.flag else None,
        "benchmark_source": source_of.get(o.flag.benchmark_id) if o.flag else None,
        "is_golden": o.source.is_golden,
        "rank": o.rank,
        "style": o.source.style,
        "split": o.split,
        "tokens": tokens,
        "shards_version": None,
        "system": o.source.system,
        "prompt": o.source.prompt,
        "response": o.response,
        "run_id": None,
    }


def plan_part(
    folder: Path,
    key: str,
    batch: str,
    after: str | None,
    chain: Sequence[str],
    data: BatchData,
    settings: ShardSettings,
    decontaminator: Decontaminator,
    counter: TokenCounter,
    index: ShardIndex,
    source_of: Mapping[str, str],
) -> Plan:
    """Plan one batch against the parts of `chain` and write its part folder (atomically: built beside, then
    renamed), then record what it kept in the index."""
    lookup = index.earlier(chain)
    plan = plan_examples(data.sources, settings, decontaminator, earlier=lookup)
    spill = Path(folder).with_name(f".tests-{Path(folder).name}-{uuid.uuid4().hex[:8]}")
    try:
        return _plan_part(folder, key, batch, after, data, settings, plan, counter, index, source_of, spill)
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _plan_part(
    folder: Path,
    key: str,
    batch: str,
    after: str | None,
    data: BatchData,
    settings: ShardSettings,
    plan: Plan,
    counter: TokenCounter,
    index: ShardIndex,
    source_of: Mapping[str, str],
    spill: Path,
) -> Plan:
    kept = plan.kept()
    examples = [example_of(o, settings.include_system) for o in kept]
    if isinstance(data.tests_of, BatchTests):  # each problem's tests read once, into a file of its own
        data.tests_of.spill(spill)
    tests_problems, tests_hash = _tests_hash(data.tests_of)
    if isinstance(data.tests_of, BatchTests):  # what digest read (each problem's tests once), as read_batch did
        data.rows_read["test_inputs"] = data.tests_of.inputs_read
    rows_read = dict(data.rows_read)
    # the RL problems without their tests (megabytes each): write_layout reads them again, a few at a time
    rl, without_tests = rl_problems(kept, data.problems, data.tests_of, keep_tests=not _lazy(data))
    tokens = {
        e.example_id: counter.count(e.system or "") + counter.count(e.prompt) + counter.count(e.response)
        for e in examples
    }
    created_from = {
        "batch": batch,
        "after": after,
        "template": data.template,
        "verified_solutions": {
            "rows": len(data.sources),
            "content_hash": content_hash(sorted((s.verified_id, s.code, s.reasoning, s.prompt) for s in data.sources)),
        },
        "tests": {"problems": tests_problems, "content_hash": tests_hash},
        "benchmark_problems": plan.benchmark_problems,
        "rows_read": rows_read,
    }
    folder = Path(folder)
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        part_manifest = write_layout(tmp, key, examples, rl, settings, counter, created_from, tests_of=data.tests_of)
        # each file's ids in file order, so a mixture never reads a shard file (only its own part's, once, here)
        ids = shard_file_ids(tmp, part_manifest)
        write_parquet(
            pl.DataFrame(
                [(path, i) for path, values in ids.items() for i in values], schema=FILE_IDS_SCHEMA, orient="row"
            ),
            tmp / FILE_IDS,
            FILE_IDS_SCHEMA,
        )
        frame = pl.DataFrame(
            [example_record(o, tokens.get(o.example_id), source_of) for o in plan.outcomes],
            schema=TRAINING_SHARDS.schema,
        )
        write_parquet(frame, tmp / EXAMPLES, TRAINING_SHARDS.schema)
        kept_by_problem: dict[str, list[str]] = {}
        for o in kept:
            kept_by_problem.setdefault(o.source.problem_id, []).append(o.source.verified_id)
        rl_rows = [
            {
                "example_id": p.example_id,
                "problem_id": p.problem_id,
                "status": "kept",
                "split": p.split,
                "mode": p.mode,
                "func_name": p.func_name,
                "tests": p.test_count,
                "tokens": counter.count(p.prompt),
                "verified_ids": kept_by_problem[p.problem_id],
            }
            for p in rl
        ] + [
            {
                "example_id": make_id("rl", {"no_tests": True}, [pid]),
                "problem_id": pid,
                "status": "no_tests",
                "split": split_of(pid, settings.validation_share),
                "tests": 0,
                "tokens": 0,
                "verified_ids": kept_by_problem[pid],
            }
            for pid in without_tests
        ]
        write_parquet(
            pl.DataFrame([{c: r.get(c) for c in TRAINING_RL.schema} for r in rl_rows], schema=TRAINING_RL.schema),
            tmp / RL,
            TRAINING_RL.schema,
        )
        if folder.exists():  # an unfinished part of an earlier run (no index rows): replaced
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    index.add_part(key, batch, plan.unique_problems)
    return plan


def _lazy(data: BatchData) -> bool:
    return isinstance(data.tests_of, BatchTests)


def read_part_manifest(folder: Path) -> dict[str, Any]:
    """A part's manifest as written (a ManifestError naming it when it cannot be read)."""
    return read_manifest(folder, "training_shards part").data


# ---- a version ------------------------------------------------------------------------------------


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links (or across devices): a copy, same bytes
        shutil.copy2(src, dst)


def assemble_version(
    folder: Path,
    version: str,
    parts: Sequence[tuple[Path, Mapping[str, Any]]],
    settings: ShardSettings,
    counter: TokenCounter,
    created_from: Mapping[str, Any],
    index: ShardIndex | None = None,
) -> dict[str, Any]:
    """The version folder from the parts' files (folder, manifest), in part order: each file hard-linked
    under the name a single writer would give it (`sft/<format>/<split>-<NNNNN>.<container>`, numbered on
    across parts), the manifest with the parts' sha256, rows and tokens (no file is read); each entry also
    names its part and its path there. An existing version folder with a manifest is the same version (its
    name is the hash of what made it): kept. With `index`, the files' sha256 are recorded in its cache."""
    folder = Path(folder)
    if (folder / MANIFEST).is_file():
        return read_manifest(folder).data
    files: list[dict[str, Any]] = []
    numbers: dict[tuple[str, str], int] = {}
    totals: dict[str, Any] = {
        "examples": {"train": 0, "validation": 0},
        "problems": {"train": 0, "validation": 0},
        "rl_problems": {"train": 0, "validation": 0},
        "tokens": {f"{k}_{s}": 0 for k in ("sft", "rl_prompt") for s in ("train", "validation")},
    }
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        for part_folder, manifest in parts:
            stems: dict[str, str] = {}  # a part's stem -> its name in the version (all containers alike)
            for entry in manifest["files"]:
                stem = entry["path"].rsplit(".", 1)[0]
                if stem not in stems:
                    rel_dir = stem.rsplit("/", 1)[0]
                    number = numbers.get((rel_dir, entry["split"]), 0)
                    numbers[(rel_dir, entry["split"])] = number + 1
                    stems[stem] = f"{rel_dir}/{entry['split']}-{number:05d}"
                rel = f"{stems[stem]}.{entry['container']}"
                _link(Path(part_folder) / entry["path"], tmp / rel)
                files.append({**entry, "path": rel, "part": Path(part_folder).name, "part_path": entry["path"]})
            for group in ("examples", "problems", "rl_problems", "tokens"):
                for k, v in manifest["totals"][group].items():
                    totals[group][k] = totals[group].get(k, 0) + v
        order = {fmt: i for i, fmt in enumerate(FORMATS)}
        files.sort(key=lambda f: (order[f["format"]], f["split"] != "train", f["path"]))
        manifest = manifest_of(version, created_from, settings, counter, files, totals)
        write_manifest(manifest, tmp / MANIFEST)
        try:
            os.rename(tmp, folder)
        except OSError:  # another run assembled the same version first: the same content
            if not (folder / MANIFEST).is_file():
                raise
        if index is not None:
            index.remember([(folder / f["path"], f["sha256"]) for f in files])
        return manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ---- retention ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    kept: list[str]
    removed: list[str]
    protected: list[str]  # kept because a trained model's run recorded them
    parts_removed: int


def trained_versions(data_dir: Path) -> set[str]:
    """The shards versions trained models' runs recorded (trained_model/<run>/settings.json; a mixture's
    version is `<shards version>-<mixture>`)."""
    out: set[str] = set()
    for path in sorted((Path(data_dir) / TRAINED_MODEL_DIR).glob("*/settings.json")):
        try:
            version = json.loads(path.read_text(encoding="utf-8")).get("shards", {}).get("shards_version")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(version, str) and version:
            out.add(version)
    return out


def _ledger(root: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads((Path(root) / LEDGER).read_text(encoding="utf-8"))
        return [e for e in data if isinstance(e, dict) and isinstance(e.get("version"), str)]
    except (OSError, ValueError, TypeError):
        return []


def apply_retention(
    root: Path,
    mixtures_root: Path,
    current: str,
    parts: Sequence[str],
    keep_versions: int,
    trained: set[str],
    index: ShardIndex | None = None,
) -> Retention:
    """Record `current` as the latest version, then keep the last `keep_versions` versions (current among
    them) and every version a trained model recorded; remove the other version folders (with their
    mixtures) and the parts no kept version is made of. Version folders the ledger does not know (an older
    layout) count as older than every version it knows, newest by manifest time first."""
    root = Path(root)
    ledger = [e for e in _ledger(root) if e["version"] != current]
    ledger.append({"version": current, "parts": list(parts)})
    known = {e["version"] for e in ledger}
    untracked = sorted(
        (p.parent.name for p in root.glob(f"*/{MANIFEST}") if p.parent.name[0] not in "._"),
        key=lambda name: (root / name / MANIFEST).stat().st_mtime,
    )
    order = [v for v in untracked if v not in known] + [e["version"] for e in ledger]
    is_trained = lambda v: any(t == v or t.startswith(f"{v}-") for t in trained)  # noqa: E731
    keep = set(order[-max(1, keep_versions) :]) | {v for v in order if is_trained(v)} | {current}
    removed = [v for v in order if v not in keep]
    for version in removed:
        shutil.rmtree(root / version, ignore_errors=True)
        shutil.rmtree(Path(mixtures_root) / version, ignore_errors=True)
    ledger = [e for e in ledger if e["version"] in keep]
    write_text(json.dumps(ledger, indent=1) + "\n", root / LEDGER)
    wanted = {p for e in ledger for p in e.get("parts", [])}
    gone = []
    parts_dir = root / PARTS_DIR
    if parts_dir.is_dir():
        for folder in parts_dir.iterdir():
            if folder.name not in wanted:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder.name)
    if index is not None:
        stale = [p for p in index.parts() if p not in wanted]
        with index.con:
            index.forget(stale)
        gone = sorted(set(gone) | set(stale))
    return Retention(
        kept=[v for v in order if v in keep],
        removed=removed,
        protected=sorted(v for v in keep if is_trained(v)),
        parts_removed=len(gone),
    )


def version_file_ids(root: Path, folder: Path, manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """The example ids of every file of a version, in file order, from its parts' file_ids (no shard file
    read); entries without a part (a version of the earlier layout) are read from the file as before."""
    out: dict[str, list[str]] = {}
    by_part: dict[str, list[Mapping[str, Any]]] = {}
    for entry in manifest["files"]:
        if entry.get("part"):
            by_part.setdefault(entry["part"], []).append(entry)
    for part, entries in by_part.items():
        path = Path(root) / PARTS_DIR / part / FILE_IDS
        try:
            frame = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ShardIndexError(f"{path}: the part's file ids cannot be read ({exc})") from None
        ids: dict[str, list[str]] = {}
        for file_path, example_id in frame.iter_rows():
            ids.setdefault(file_path, []).append(example_id)
        for entry in entries:
            out[entry["path"]] = ids.get(entry["part_path"], [])
    rest = [e for e in manifest["files"] if not e.get("part")]
    if rest:
        out.update(shard_file_ids(folder, {**manifest, "files": rest}))
    return out


def open_index(root: Path, settings: ShardSettings) -> ShardIndex:
    return ShardIndex(Path(root) / INDEX_FILE, settings.problem_near_threshold, settings.decontamination.num_perm)


def read_part_rows(folders: Sequence[Path], name: str, schema: pl.Schema) -> pl.DataFrame:
    """The parts' rows of one table, in part order (Parquet, read as it is: no planning)."""
    frames = [pl.read_parquet(Path(f) / name) for f in folders]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=schema)


# ---- a run: the parts of the batches, a version, its tables ------------------------------------------------


class Steps:
    """Seconds per step of a run, for the metadata (what a nightly run spends where)."""

    def __init__(self) -> None:
        self.started = self._mark = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._mark, 3)
        self._mark = now

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


class DecontaminatorLoader:
    """The benchmark's decontamination index, loaded (or built, once per benchmark) only when a batch is planned."""

    def __init__(self, root: Path, texts: Sequence[BenchmarkText], settings: DecontaminationSettings):
        self.root, self.texts, self.settings = Path(root), texts, settings
        self.fingerprint = benchmark_fingerprint(texts, settings)
        self.loaded: Decontaminator | None = None
        self.built = False

    def __call__(self) -> Decontaminator:
        if self.loaded is None:
            self.loaded, _, self.built = load_decontaminator(self.root, self.texts, self.settings)
        return self.loaded

    def describe(self) -> str:
        if self.loaded is None:
            return "not needed (no batch planned)"
        return "built now" if self.built else "stored (built before for this benchmark)"


@dataclass
class Parts:
    """The batches training_shards takes, each as its part: planned now or found from an earlier run."""

    read: list[str] = field(default_factory=list)  # batches with verified solutions, in order
    planned: list[str] = field(default_factory=list)  # of those, planned in this run (new or changed)
    empty: list[str] = field(default_factory=list)  # batches added but not verified yet
    blocked: dict[str, str] = field(default_factory=dict)  # batches whose blocking check failed
    keys: list[str] = field(default_factory=list)  # the part of each read batch
    folders: list[Path] = field(default_factory=list)
    manifests: list[dict[str, Any]] = field(default_factory=list)
    rows_read: Counter = field(default_factory=Counter)

    def none_read(self) -> str:
        """Why no batch could be taken (for the failure)."""
        blocked = ", ".join(f"{k} ({r})" for k, r in self.blocked.items())
        return (
            "no generation batch has verified solutions yet"
            + (f"; blocked: {blocked}" if self.blocked else "")
            + (f" (batches without them: {', '.join(self.empty)})" if self.empty else "")
            + ("" if self.empty or self.blocked else " (no batch added yet)")
            + ": materialize verified_solutions for a batch first"
        )


def build_parts(
    batches: Mapping[str, Path],
    root: Path,
    settings: ShardSettings,
    counter: TokenCounter,
    decontaminator: Callable[[], Decontaminator],
    benchmark: str,
    source_of: Mapping[str, str],
    index: ShardIndex,
    log: Callable[[str], Any],
) -> Parts:
    """The part of every batch (key -> its folder, in order): found, or planned now (new or changed batches)."""
    parts = Parts()
    parts_root = Path(root) / PARTS_DIR
    after: str | None = None
    meter = ProgressMeter(
        "training_shards: batches", log, new="planned", cached="parts found (planned before, not read again)"
    )
    for number, (key, folder) in enumerate(batches.items()):
        meter.update(number, len(batches), cached=number - len(parts.planned))
        if not VERIFIED_SOLUTIONS.path(folder).exists():
            parts.empty.append(key)
            continue
        gate = verification_gate(folder)
        if gate is not None and not gate.passed:
            parts.blocked[key] = gate.reason
            continue
        part = part_key(key, batch_inputs(folder, index), settings, benchmark, counter.name, after)
        part_folder = parts_root / part
        if not (index.has_part(part) and (part_folder / MANIFEST).is_file()):
            data = read_batch(folder)
            log(f"training_shards: planning batch {key} ({len(data.sources)} verified solutions)")
            plan_part(
                part_folder, part, key, after, parts.keys, data, settings, decontaminator(), counter, index, source_of
            )
            parts.planned.append(key)
            parts.rows_read.update(data.rows_read)
        parts.read.append(key)
        parts.keys.append(part)
        parts.folders.append(part_folder)
        parts.manifests.append(read_part_manifest(part_folder))
        after = part
    meter.finish(len(batches), len(batches), cached=len(batches) - len(parts.planned))
    return parts


DROPPED_SHOWN = 20  # dropped examples listed in the metadata
IDS_SHOWN = 20  # ids a check lists (defs/checks.LISTED_ROWS)
DROPPED_COLUMNS = ["example_id", "status", "reason", "duplicate_of", "benchmark_question_id", "contamination_score"]


@dataclass
class ShardsTally:
    """What training_shards reports of its rows, counted while they are written (ids and counters only)."""

    rows: int = 0
    statuses: Counter = field(default_factory=Counter)
    problems: set[str] = field(default_factory=set)
    kept_problems: set[str] = field(default_factory=set)
    reasons: Counter = field(default_factory=Counter)  # by reason, the benchmark id left out
    kept_tokens: Counter = field(default_factory=Counter)  # tokens -> kept examples with that many
    sample: dict[str, Any] | None = None  # the first kept row
    dropped: pl.DataFrame | None = None  # the first DROPPED_SHOWN non-kept rows by (status, example_id)
    contaminated: int = 0
    contaminated_ids: list[str] = field(default_factory=list)
    benchmark_questions: set[str] = field(default_factory=set)
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    duplicate_reasons: Counter = field(default_factory=Counter)
    duplicate_problems: set[str] = field(default_factory=set)
    rl_rows: int = 0
    rl_without_tests: int = 0

    def add(self, frame: pl.DataFrame) -> None:
        self.rows += frame.height
        self.statuses.update(frame["status"].to_list())
        self.problems.update(frame["problem_id"].to_list())
        kept = frame.filter(pl.col("status") == "kept")
        self.kept_problems.update(kept["problem_id"].to_list())
        self.kept_tokens.update(kept["tokens"].fill_null(0).to_list())
        if self.sample is None and kept.height:
            self.sample = kept.row(0, named=True)
        self.reasons.update(r.split(" with benchmark")[0] for r in frame["reason"].drop_nulls().to_list())
        dropped = frame.filter(pl.col("status") != "kept").select(DROPPED_COLUMNS)
        both = dropped if self.dropped is None else pl.concat([self.dropped, dropped])
        self.dropped = both.sort("status", "example_id").head(DROPPED_SHOWN)
        flagged = frame.filter(pl.col("benchmark_question_id").is_not_null())
        self.contaminated += flagged.height
        self.contaminated_ids += flagged["example_id"].head(IDS_SHOWN - len(self.contaminated_ids)).to_list()
        self.benchmark_questions.update(flagged["benchmark_question_id"].to_list())
        dups = frame.filter(pl.col("status") == "duplicate")
        self.duplicates += dups.height
        self.duplicate_ids += dups["example_id"].head(IDS_SHOWN - len(self.duplicate_ids)).to_list()
        self.duplicate_reasons.update(dups["reason"].to_list())
        self.duplicate_problems.update(frame.filter(pl.col("reason").str.ends_with("_problem"))["problem_id"].to_list())

    def add_rl(self, frame: pl.DataFrame) -> None:
        self.rl_rows += frame.height
        self.rl_without_tests += frame.filter(pl.col("status") == "no_tests").height


def _part_batches(path: Path, rows: int) -> Iterable[pl.DataFrame]:
    """A part's rows, at most `rows` at a time (read a row group at a time: a part's files hold no tests)."""
    for frame in row_group_frames(path):
        for start in range(0, frame.height, max(1, rows)):
            yield frame.slice(start, max(1, rows))


def write_version_tables(
    folders: Sequence[Path], examples: Any, rl: Any, version: str, run_id: str, chunk_rows: int = 1024
) -> ShardsTally:
    """training_shards and training_shards__rl of a version: the parts' rows in part order, stamped with the
    version and run, through the given writers (store/streaming.TableWriter) `chunk_rows` at a time, counted
    as they go."""
    tally = ShardsTally()
    stamp = [pl.lit(version).alias("shards_version"), pl.lit(run_id).alias("run_id")]
    for folder in folders:
        for frame in _part_batches(Path(folder) / EXAMPLES, chunk_rows):
            frame = frame.with_columns(stamp)
            tally.add(frame)
            examples.write(frame)
        for frame in _part_batches(Path(folder) / RL, chunk_rows):
            frame = frame.with_columns(stamp)
            tally.add_rl(frame)
            rl.write(frame)
    return tally


@dataclass
class Version:
    version: str
    folder: Path
    manifest: dict[str, Any]
    created_from: dict[str, Any]
    tally: ShardsTally


def build_version(
    root: Path,
    parts: Parts,
    settings: ShardSettings,
    counter: TokenCounter,
    benchmark: Mapping[str, Any],
    index: ShardIndex,
    writers: tuple[Any, Any],
    run_id: str,
    steps: Callable[[str], None] = lambda _: None,
) -> Version:
    """The version of these parts: its folder (linked from the parts' files) and its two tables, written
    through `writers` (training_shards', training_shards__rl's)."""
    manifests = parts.manifests
    created_from = {
        "verified_solutions": {
            "rows": sum(m["created_from"]["verified_solutions"]["rows"] for m in manifests),
            "content_hash": content_hash([m["created_from"]["verified_solutions"]["content_hash"] for m in manifests]),
        },
        "tests": {
            "problems": sum(m["created_from"]["tests"]["problems"] for m in manifests),
            "content_hash": content_hash([m["created_from"]["tests"]["content_hash"] for m in manifests]),
        },
        "benchmark": dict(benchmark),
        "template": ", ".join(sorted({m["created_from"]["template"] for m in manifests})),
        "batches": parts.read,
        "parts": dict(zip(parts.read, parts.keys)),
    }
    version = shards_version(settings, created_from, counter.name)
    folder = Path(root) / version
    manifest = assemble_version(
        folder, version, list(zip(parts.folders, manifests)), settings, counter, created_from, index
    )
    steps("assemble")
    tally = write_version_tables(parts.folders, writers[0], writers[1], version, run_id)
    return Version(version, folder, manifest, created_from, tally)


# ---- training_mixtures ----------------------------------------------------------------------------------


def build_mixtures(
    shards_table: Path, rl_table: Path, shards_root: Path, mixtures_root: Path, specs: Sequence[Any], run_id: str
) -> tuple[str, list[dict[str, Any]], list[tuple[str, str]]]:
    """Every mixture of the latest shards version (its kept rows' ids from the training_shards tables, its
    files checked against the manifest by the index's sha256 cache, the ids from the parts' id lists: no shard
    file is read again). Returns the version, the training_mixtures rows and the (smaller, larger) mixture
    pairs that are not nested (none, when all is well)."""
    # only the columns the choice needs (ids, tasks, splits, ranks, tokens), the kept rows filtered in the scan
    columns = ["example_id", "problem_id", "split", "rank", "tokens", "shards_version"]
    kept = scan(shards_table, lambda q: q.filter(pl.col("status") == "kept").select(columns).sort("problem_id", "rank"))
    if not kept.height:
        raise ShardInputError("training_shards has no kept rows")
    version = kept["shards_version"][0]
    folder = Path(shards_root) / version
    try:
        read = read_manifest(folder)
        index = ShardIndex(Path(shards_root) / INDEX_FILE, 0.8, 128)
        try:  # every file there with its sha256, from the index's cache (a file is hashed again only when changed)
            check_files(read, sha256=index.file_sha256, rows=False)
        finally:
            index.close()
        manifest = read.data
        file_ids = version_file_ids(Path(shards_root), folder, manifest)
    except (ShardInputError, ShardIndexError, FileNotFoundError, ValueError) as exc:
        raise ShardInputError(f"shards {version}: {exc}") from None
    examples = [RowRef(r["example_id"], r["problem_id"], r["split"]) for r in kept.iter_rows(named=True)]
    rl_kept = scan(
        rl_table,
        lambda q: q.filter((pl.col("status") == "kept") & (pl.col("shards_version") == version)).select(
            "example_id", "problem_id", "split", "tokens"
        ),
    )
    rl = [RowRef(r["example_id"], r["problem_id"], r["split"]) for r in rl_kept.iter_rows(named=True)]
    tokens = {
        **dict(zip(kept["example_id"], kept["tokens"].fill_null(0))),
        **dict(zip(rl_kept["example_id"], rl_kept["tokens"].fill_null(0))),
    }
    rows, members = [], {}
    for spec in specs:
        subset, rl_subset = mixture(examples, rl, spec)
        out = Path(mixtures_root) / version / spec.name
        mix_manifest = write_mixture(out, folder, manifest, file_ids, spec, subset, rl_subset, tokens)
        train = [e for e in subset if e.split == "train"]
        members[spec] = {e.example_id for e in train}
        rows.append(
            {
                "mixture_id": make_id("mix", {"name": spec.name}, [version]),
                "name": spec.name,
                "shards_version": version,
                "task_share": spec.task_share,
                "solutions_per_task": spec.solutions_per_task,
                "train_tasks": len({e.problem_id for e in train}),
                "train_examples": len(train),
                "validation_examples": len(subset) - len(train),
                "rl_problems": len(rl_subset),
                "train_tokens": mix_manifest["totals"]["tokens"]["sft_train"],
                "manifest_path": str(out / MANIFEST),
                "manifest_sha256": file_sha256(out / MANIFEST),
                "run_id": run_id,
            }
        )
    not_nested = [
        (a.name, b.name)
        for a in specs
        for b in specs
        if a.task_share <= b.task_share
        and a.solutions_per_task <= b.solutions_per_task
        and not members[a] <= members[b]
    ]
    return version, rows, not_nested
