"""The training shards as the trainer reads them (the `training_shards` layout), or a training mixture
of them (`training_mixtures`: a manifest of chosen row ids over a shards folder, not a copy).

Before any training starts, every file the manifest lists is checked (recipe/shard_manifest.py, the one
reader of a manifest): it lies in the shards folder, exists, its bytes hash to the manifest's sha256, and it
holds the manifest's row count; a mixture's shards folder must still hold the manifest it was made from. A
mismatch is one ShardError naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from xcoder_assets.recipe.shard_manifest import (
    MANIFEST,
    ManifestError,
    ManifestFile,
    check_files,
    mixture_shards,
    read_manifest,
)
from xcoder_assets.store.ids import file_sha256

ShardFormat = Literal["messages", "query_response", "sharegpt", "rl"]
# The shards cannot be trained on: the message names the folder or file and what is wrong. The manifest
# reader's own error, so the trainer catches one type whichever check failed.
ShardError = ManifestError
ShardFile = ManifestFile


@dataclass(frozen=True)
class Shards:
    root: Path
    version: str
    created_from: dict[str, Any]
    tokenizer: dict[str, Any]
    files: tuple[ShardFile, ...]
    # A mixture's chosen ids per group ("sft": every SFT format, "rl") and split; None: every row.
    ids: dict[str, dict[str, list[str]]] | None = None

    def select(self, fmt: str, split: str = "train") -> list[ShardFile]:
        # JSONL and Parquet copies hold the same rows: read the JSONL ones (no pyarrow needed by the trainer)
        return [f for f in self.files if f.format == fmt and f.split == split and f.container == "jsonl"]

    def rows(self, fmt: str, split: str = "train") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for shard in self.select(fmt, split):
            out.extend(_jsonl_rows(self.root / shard.path))
        if self.ids is None:
            return out
        wanted = self.ids.get("rl" if fmt == "rl" else "sft", {}).get(split, [])
        by_id = {row.get("example_id"): row for row in out}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise ShardError(f"{self.root}: the mixture's {fmt} {split} ids {missing[:3]} are in no shard file")
        return [by_id[i] for i in wanted]

    def data_versions(self) -> dict[str, Any]:
        return {
            "shards_version": self.version,
            "created_from": self.created_from,
            "files": {f.path: f.sha256 for f in self.files},
        }


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ShardError(f"{path}: line {number} is not JSON ({exc.msg})") from None
    return rows


def load_shards(root: str | Path, verify: bool = True) -> Shards:
    """Read `root/manifest.json` (a shards folder's or a mixture's); with verify, check every listed file's
    sha256 and row count, and that a mixture's shards folder holds the manifest it was made from."""
    root = Path(root)
    manifest = read_manifest(root)
    mixture = manifest.mixture
    shards = mixture_shards(manifest, verify) if mixture else manifest
    if verify:
        check_files(shards)
    loaded = Shards(
        root=shards.path.parent,
        version=shards.version,
        created_from=shards.created_from,
        tokenizer=shards.tokenizer,
        files=shards.files,
    )
    if mixture is None:
        return loaded
    # its own version: two mixtures of one shards folder must not resume each other's checkpoints
    return replace(loaded, version=f"{loaded.version}-{mixture.name}", ids=mixture.ids)


def require(shards: Shards, fmt: str, split: str = "train") -> list[dict[str, Any]]:
    rows = shards.rows(fmt, split)
    if not rows:
        raise ShardError(f"{shards.root}: no {fmt} rows in the {split} split")
    return rows


def write_shards(
    root: str | Path,
    files: dict[str, tuple[str, str, list[dict[str, Any]]]],
    version: str = "test",
    created_from: dict[str, Any] | None = None,
) -> Path:
    """Write a shards folder in the training_shards layout: {relative path: (format, split, rows)} as JSONL.

    For tests and the GPU check (which make their own small data); training_shards writes the real ones.
    """
    root = Path(root)
    entries = []
    for rel, (fmt, split, rows) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        entries.append(
            {
                "path": rel,
                "format": fmt,
                "split": split,
                "container": "jsonl",
                "rows": len(rows),
                "sha256": file_sha256(path),
                "tokens": sum(len(json.dumps(r)) // 4 for r in rows),
            }
        )
    manifest = {
        "shards_version": version,
        "created_from": created_from or {},
        "settings": {},
        "tokenizer": {"name": "estimate", "kind": "estimate"},
        "files": entries,
        "totals": {},
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return root
