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

On disk, under the shards root (`training_shards/`):
- `_parts/<part>/`: a shards folder of the batch's kept examples (manifest.json and the files, the same
  layout as a version), `examples.parquet` and `rl.parquet` (its training_shards and training_shards__rl rows).
- `_index.sqlite`: the problem index, the parts finished, and the input files' hashes by (size, mtime).
- `_benchmark/<fingerprint>.pickle`: the decontamination index of a benchmark, built once.
- `<version>/`: what a trainer reads. Its files are hard links to the parts' files (no byte copied, a copy
  only where the file system cannot link), numbered in batch order, so jobs/shards.py, the HF `datasets`
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
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import polars as pl
from datasketch import MinHash

from xcoder_assets.recipe.decontamination import BenchmarkText, DecontaminationSettings, Decontaminator, Prepared
from xcoder_assets.recipe.dedup import NearDuplicateIndex, exact_key
from xcoder_assets.recipe.shards import (
    FORMATS,
    Plan,
    ShardSettings,
    SourceExample,
    TokenCounter,
    example_of,
    manifest_of,
    plan_examples,
    rl_problems,
    shard_file_ids,
    split_of,
    write_layout,
    write_manifest,
)
from xcoder_assets.store.ids import content_hash, make_id, file_sha256
from xcoder_assets.store.parquet import write_parquet, write_text
from xcoder_assets.store.tables import TRAINING_RL, TRAINING_SHARDS

PART_LAYOUT = "xcoder-shard-part/1"  # part of every part key: a layout change plans every batch again
PARTS_DIR = "_parts"
BENCHMARK_DIR = "_benchmark"
INDEX_FILE = "_index.sqlite"
LEDGER = "versions.json"
MANIFEST = "manifest.json"
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
    """What a batch contributes, read by the caller (only for a batch that must be planned)."""

    sources: list[SourceExample]
    problems: dict[str, Mapping[str, Any]]
    tests_of: dict[str, tuple[tuple[str, str], ...]]
    template: str
    rows_read: dict[str, int] = field(default_factory=dict)


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
    kept = plan.kept()
    examples = [example_of(o, settings.include_system) for o in kept]
    rl, without_tests = rl_problems(kept, data.problems, data.tests_of)
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
        "tests": {"problems": len(data.tests_of), "content_hash": content_hash(sorted(data.tests_of.items()))},
        "benchmark_problems": plan.benchmark_problems,
        "rows_read": dict(data.rows_read),
    }
    folder = Path(folder)
    tmp = folder.with_name(f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        part_manifest = write_layout(tmp, key, examples, rl, settings, counter, created_from)
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
                "tests": len(p.tests),
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


def read_part_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShardIndexError(f"{path}: a part's manifest cannot be read ({exc})") from None


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
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
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


def verify_files(folder: Path, manifest: Mapping[str, Any], index: ShardIndex) -> None:
    """Every file of a version is there with its manifest's sha256 (the index's cache: a file is hashed
    again only when its size or modification time changed)."""
    for entry in manifest["files"]:
        path = Path(folder) / entry["path"]
        if not path.is_file():
            raise ShardIndexError(f"{path}: listed in the manifest but missing")
        if index.file_sha256(path) != entry["sha256"]:
            raise ShardIndexError(f"{path}: sha256 differs from the manifest")


def open_index(root: Path, settings: ShardSettings) -> ShardIndex:
    return ShardIndex(Path(root) / INDEX_FILE, settings.problem_near_threshold, settings.decontamination.num_perm)


def read_part_rows(folders: Sequence[Path], name: str, schema: pl.Schema) -> pl.DataFrame:
    """The parts' rows of one table, in part order (Parquet, read as it is: no planning)."""
    frames = [pl.read_parquet(Path(f) / name) for f in folders]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=schema)
