"""One id function for every row: stable, derived from content and the ids of the parents.

An id is `<kind>-<16 hex>`: the kind prefix tells `xcoder trace` which table holds the row, the hash
covers the row's defining content and its parents' ids, so the same input always gives the same id
and two rows with different ancestry never share one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

ID_KINDS = {
    "seed": "seed_problems",
    "feat": "features",
    "node": "feature_tree",
    "pool": "evolved_pool",
    "cfg": "feature_configs",
    "prob": "problems",
    "test": "test_inputs",
    "cand": "candidate_solutions",
    "ver": "verified_solutions",
    "call": "llm_calls",
    "lcb": "lcb_problems",
    "score": "benchmark_scores",
    "bsum": "benchmark_summary",
    "eval": "benchmark_scores",  # an evaluation's settings (the evaluation_id column)
    "tscore": "trained_model_scores",
    "sft": "training_shards",
    "rl": "training_shards__rl",
    "mix": "training_mixtures",
}


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


def make_id(kind: str, content: Any, parents: Iterable[str] = ()) -> str:
    if kind not in ID_KINDS:
        raise ValueError(f"unknown id kind {kind!r}; known kinds: {sorted(ID_KINDS)}")
    return f"{kind}-{content_hash({'content': content, 'parents': sorted(parents)})}"


def kind_of(row_id: str) -> str | None:
    prefix, sep, digest = row_id.partition("-")
    if not sep or prefix not in ID_KINDS or len(digest) != 16:
        return None
    try:
        int(digest, 16)
    except ValueError:
        return None
    return prefix


def _hash_file_into(digest: Any, path: Path) -> None:
    with open(path, "rb") as handle:  # a megabyte at a time: shard files and checkpoints are large
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (hex): manifests and shard files."""
    digest = hashlib.sha256()
    _hash_file_into(digest, path)
    return digest.hexdigest()


def named_files_sha256(files: Iterable[tuple[str, Path]]) -> str:
    """One sha256 (hex) over (name, file) pairs in the order given: each name, a NUL, the file's bytes. A
    folder's identity (a checkpoint, a benchmark release) that a renamed or changed file alters."""
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0")
        _hash_file_into(digest, path)
    return digest.hexdigest()
