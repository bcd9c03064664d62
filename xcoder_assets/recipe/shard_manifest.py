"""The one reader of a shards folder's manifest.json: a training_shards version, a batch's part, or a
training_mixtures folder (a manifest of chosen ids over a shards folder), typed and checked.

recipe/shards.py writes these manifests; every reader (recipe/shards.py, recipe/shard_index.py and the
trainer's launched/shards.py) reads them here. The trainer starts from this module, so it imports only the
standard library and store/ids.py (recipe/shards.py loads polars, pyarrow and the LLM gateway); a Parquet
file's row count loads pyarrow when one is counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xcoder_assets.store.ids import file_sha256

MANIFEST = "manifest.json"
MIXTURE_LAYOUT = "xcoder-mixture/1"  # a mixture's manifest says so in its `layout`


class ShardInputError(ValueError):
    """A setting or an input the shards cannot be built from: the message names it."""


class ManifestError(ShardInputError):
    """A manifest.json, or a file it lists, that cannot be trusted: the message names the file and what is wrong."""


@dataclass(frozen=True)
class ManifestFile:
    """One shard file as a manifest lists it (path relative to the shards folder)."""

    path: str
    format: str
    split: str
    container: str
    rows: int
    sha256: str
    tokens: int


@dataclass(frozen=True)
class MixtureOf:
    """What a mixture's manifest adds: the shards folder it chooses from and the ids it chose."""

    name: str
    shards_dir: Path  # absolute: the folder the manifest's relative shards_dir names
    shards_manifest_sha256: str
    ids: dict[str, dict[str, list[str]]]  # "sft" (every SFT format) or "rl" -> split -> ids in shard row order


@dataclass(frozen=True)
class Manifest:
    path: Path  # the manifest.json
    version: str
    created_from: dict[str, Any]
    tokenizer: dict[str, Any]
    files: tuple[ManifestFile, ...]
    mixture: MixtureOf | None  # None: a shards folder
    data: dict[str, Any]  # the JSON as written: what a version or mixture made from this one copies

    @property
    def files_root(self) -> Path:
        """The folder the files' paths are relative to: the shards folder (a mixture's own, for a mixture)."""
        return self.mixture.shards_dir if self.mixture else self.path.parent


def read_manifest(folder: str | Path, what: str = "training_shards") -> Manifest:
    """`folder/manifest.json`, typed: a ManifestError naming the file when it is missing, not JSON, or lacks
    or mistypes a field (`what`: the folder's kind, for the message)."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{folder}: no {MANIFEST} (not a {what} folder)") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ManifestError(f"{path}: no files list")
    try:
        files = tuple(_file(entry) for entry in data["files"])
        mixture = _mixture(folder, data) if data.get("layout") == MIXTURE_LAYOUT else None
        return Manifest(
            path=path,
            version=str(data.get("shards_version") or ""),
            created_from=dict(data.get("created_from") or {}),
            tokenizer=dict(data.get("tokenizer") or {}),
            files=files,
            mixture=mixture,
            data=data,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ManifestError(f"{path}: a field is missing or mistyped ({type(exc).__name__}: {exc})") from None


def read_mixture_manifest(
    folder: str | Path, verify: bool = True, only: Callable[[ManifestFile], bool] | None = None
) -> Manifest:
    """A training_mixtures folder's manifest (ManifestError when it is a shards folder's); with `verify`, its
    shards folder holds the manifest it was made from and every file it refers to (or those `only` selects: what
    a reader is about to read) lies inside that folder with the sha256 it had (rows are counted by whoever reads
    them)."""
    manifest = read_manifest(folder, "training_mixtures")
    if manifest.mixture is None:
        raise ManifestError(f"{manifest.path}: not a mixture manifest (layout {MIXTURE_LAYOUT})")
    if verify:
        mixture_shards(manifest)
        check_files(manifest, rows=False, only=only)
    return manifest


def _file(entry: Any) -> ManifestFile:
    try:
        return ManifestFile(
            path=str(entry["path"]),
            format=str(entry["format"]),
            split=str(entry["split"]),
            container=str(entry["container"]),
            rows=int(entry["rows"]),
            sha256=str(entry["sha256"]),
            tokens=int(entry.get("tokens") or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"a files entry lacks or mistypes {exc} ({entry!r:.200})") from None


def _mixture(folder: Path, data: dict[str, Any]) -> MixtureOf:
    ids = data["ids"]
    if not isinstance(ids, dict) or not all(isinstance(v, dict) for v in ids.values()):
        raise ValueError(f"ids: expected group -> split -> ids, got {ids!r:.200}")
    return MixtureOf(
        name=str((data.get("mixture") or {}).get("name") or folder.name),
        shards_dir=folder / str(data["shards_dir"]),
        shards_manifest_sha256=str(data["shards_manifest_sha256"]),
        ids={group: {split: list(v) for split, v in splits.items()} for group, splits in ids.items()},
    )


def count_rows(path: Path, container: str) -> int:
    """The rows of a shard file: JSON lines, or a Parquet file's row count from its footer."""
    if container == "jsonl":
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    if container == "parquet":
        import pyarrow.parquet as pq  # only where a Parquet file is counted: the trainer reads JSONL

        return pq.ParquetFile(path).metadata.num_rows
    raise ManifestError(f"{path}: unknown container {container!r} in the manifest (jsonl or parquet)")


def check_files(
    manifest: Manifest,
    sha256: Callable[[Path], str] = file_sha256,
    rows: bool = True,
    only: Callable[[ManifestFile], bool] | None = None,
) -> Manifest:
    """Every file the manifest lists (or those `only` selects: what a reader is about to read) lies inside its
    shards folder, is there, has its sha256 (`sha256`: how to hash a file, a cache's for instance) and, with
    `rows`, its row count; a ManifestError naming the file otherwise. Returns the manifest."""
    root = manifest.files_root
    inside = root.resolve()
    for entry in manifest.files if only is None else filter(only, manifest.files):
        path = root / entry.path
        if not path.resolve().is_relative_to(inside):
            raise ManifestError(f"{manifest.path}: {entry.path} lies outside the shards folder {root}")
        if not path.is_file():
            raise ManifestError(f"{path}: listed in {MANIFEST} but missing" + _of_mixture(manifest))
        actual = sha256(path)
        if actual != entry.sha256:
            raise ManifestError(
                f"{path}: sha256 {actual[:12]}... does not match the manifest's {entry.sha256[:12]}..."
                + _of_mixture(manifest)
            )
        if rows:
            counted = count_rows(path, entry.container)
            if counted != entry.rows:
                raise ManifestError(f"{path}: {counted} rows, the manifest says {entry.rows}" + _of_mixture(manifest))
    return manifest


def _of_mixture(manifest: Manifest) -> str:
    return f" (mixture {manifest.path.parent})" if manifest.mixture else ""


def mixture_shards(manifest: Manifest, verify: bool = True) -> Manifest:
    """The manifest of the shards folder a mixture chose from; with `verify`, it must be the very manifest the
    mixture was made from (its sha256). ManifestError naming the folder otherwise."""
    assert manifest.mixture is not None, "mixture_shards of a shards folder's manifest"
    shards_dir = manifest.mixture.shards_dir
    if not (shards_dir / MANIFEST).is_file():
        raise ManifestError(f"{manifest.path.parent}: its shards folder {shards_dir} has no {MANIFEST}")
    if verify and file_sha256(shards_dir / MANIFEST) != manifest.mixture.shards_manifest_sha256:
        raise ManifestError(
            f"{shards_dir / MANIFEST}: not the shards manifest mixture {manifest.path.parent} was made from"
        )
    return read_manifest(shards_dir)
