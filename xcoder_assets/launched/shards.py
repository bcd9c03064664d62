"""The training shards as the trainer reads them (the `training_shards` layout), or a training mixture
of them (`training_mixtures`: a manifest of chosen row ids over a shards folder, not a copy).

Before any training starts, every file the manifest lists is checked: it exists, its bytes hash to the
manifest's sha256, and it holds the manifest's row count; a mixture's shards folder must still hold the
manifest it was made from. A mismatch is one ShardError naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from xcoder_assets.store.ids import file_sha256

MANIFEST = "manifest.json"
MIXTURE_LAYOUT = "xcoder-mixture/1"  # recipe/shards.py writes it
ShardFormat = Literal["messages", "query_response", "sharegpt", "rl"]


class ShardError(ValueError):
    """The shards cannot be trained on: the message names the folder or file and what is wrong."""


@dataclass(frozen=True)
class ShardFile:
    path: str
    format: str
    split: str
    container: str
    rows: int
    sha256: str
    tokens: int


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


def _count_rows(path: Path, container: str) -> int:
    if container == "jsonl":
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    if container == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    raise ShardError(f"{path}: unknown container {container!r} in the manifest (jsonl or parquet)")


def _file(entry: Any, manifest: Path) -> ShardFile:
    try:
        return ShardFile(
            path=str(entry["path"]),
            format=str(entry["format"]),
            split=str(entry["split"]),
            container=str(entry["container"]),
            rows=int(entry["rows"]),
            sha256=str(entry["sha256"]),
            tokens=int(entry.get("tokens") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ShardError(f"{manifest}: a files entry lacks or mistypes {exc} ({entry!r:.200})") from None


def load_shards(root: str | Path, verify: bool = True) -> Shards:
    """Read `root/manifest.json`; with verify, check every listed file's sha256 and row count."""
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise ShardError(f"{root}: no {MANIFEST} (not a training_shards folder)")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ShardError(f"{manifest}: not JSON ({exc.msg})") from None
    if isinstance(data, dict) and data.get("layout") == MIXTURE_LAYOUT:
        return _load_mixture(root, data, verify)
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ShardError(f"{manifest}: no files list")
    files = tuple(_file(entry, manifest) for entry in data["files"])
    shards = Shards(
        root=root,
        version=str(data.get("shards_version") or ""),
        created_from=data.get("created_from") or {},
        tokenizer=data.get("tokenizer") or {},
        files=files,
    )
    if verify:
        for shard in files:
            path = root / shard.path
            if not path.resolve().is_relative_to(root.resolve()):
                raise ShardError(f"{manifest}: {shard.path} lies outside the shards folder")
            if not path.is_file():
                raise ShardError(f"{path}: listed in {MANIFEST} but missing")
            actual = file_sha256(path)
            if actual != shard.sha256:
                raise ShardError(
                    f"{path}: sha256 {actual[:12]}... does not match the manifest's {shard.sha256[:12]}..."
                )
            rows = _count_rows(path, shard.container)
            if rows != shard.rows:
                raise ShardError(f"{path}: {rows} rows, the manifest says {shard.rows}")
    return shards


def _load_mixture(root: Path, data: dict[str, Any], verify: bool) -> Shards:
    """A mixture: its shards folder (checked as any), the mixture's own version, and its chosen ids."""
    shards_dir = root / str(data.get("shards_dir") or "")
    if not (shards_dir / MANIFEST).is_file():
        raise ShardError(f"{root}: the mixture's shards folder {shards_dir} has no {MANIFEST}")
    if verify and file_sha256(shards_dir / MANIFEST) != data.get("shards_manifest_sha256"):
        raise ShardError(f"{shards_dir / MANIFEST}: not the shards manifest mixture {root} was made from")
    shards = load_shards(shards_dir, verify=verify)
    name = (data.get("mixture") or {}).get("name") or root.name
    # its own version: two mixtures of one shards folder must not resume each other's checkpoints
    return replace(shards, version=f"{shards.version}-{name}", ids=data.get("ids") or {})


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
