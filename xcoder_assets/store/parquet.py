"""One atomic writer for every file.

A write goes to a temporary name in the same directory, is flushed to disk, then renamed over the
target: readers see the old file or the new one, never half a file, and an interrupted run leaves
only a `.tmp-*` file that no reader matches.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import polars as pl

if TYPE_CHECKING:
    from xcoder_assets.store.tables import Table


class SchemaMismatch(ValueError):
    pass


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; data files are shared like any other
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def conform(frame: pl.DataFrame, schema: pl.Schema | dict[str, pl.DataType], what: str) -> pl.DataFrame:
    """Return `frame` with exactly `schema`'s columns and types, or say what differs."""
    schema = pl.Schema(schema)
    missing = [name for name in schema if name not in frame.columns]
    extra = [name for name in frame.columns if name not in schema]
    if missing or extra:
        raise SchemaMismatch(f"{what}: missing columns {missing}, unexpected columns {extra}")
    try:
        return frame.select([pl.col(name).cast(dtype, strict=True) for name, dtype in schema.items()])
    except Exception as exc:  # polars raises several types for failed casts
        raise SchemaMismatch(f"{what}: columns do not match the declared types: {exc}") from exc


def write_parquet(frame: pl.DataFrame, path: Path, schema: pl.Schema | dict | None = None) -> Path:
    if schema is not None:
        frame = conform(frame, schema, str(path))
    return _atomic(path, lambda tmp: frame.write_parquet(tmp, compression="zstd", statistics=True))


def write_table(table: "Table", frame: pl.DataFrame, data_dir: Path) -> Path:
    """A table's file: its schema enforced and, for tables with unique ids, no id twice (lineage joins on it)."""
    path = table.path(data_dir)
    if table.unique_ids and table.id_column in frame.columns and frame.height:
        ids = frame[table.id_column]
        repeated = ids.filter(ids.is_duplicated()).unique().head(5).to_list()
        if ids.null_count() or repeated:
            raise SchemaMismatch(
                f"{path}: column {table.id_column} must hold one distinct id per row; "
                f"{ids.null_count()} null, repeated: {repeated}"
            )
    return write_parquet(frame, path, table.schema)


def write_text(text: str, path: Path) -> Path:
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


class DamagedFile(ValueError):
    """A data file that exists but cannot be read (truncated, overwritten): says which file, which asset
    and batch wrote it, and the command that writes it again."""


def owner_of(path: Path) -> tuple[str, str | None]:
    """The asset that writes a data file and its generation batch (None: not batched), from the layout:
    `[batches/batch=KEY/][llm_calls/]<asset>[__part].parquet`."""
    path = Path(path)
    batch = next((p.name.split("=", 1)[1] for p in path.parents if p.name.startswith("batch=")), None)
    return path.stem.split("__")[0], batch


def rebuild_command(path: Path) -> str:
    asset, batch = owner_of(path)
    return f"xcoder materialize --select {asset}" + (f" --batch {batch}" if batch else "")


def damage_of(path: Path, exc: BaseException) -> dict[str, Any]:
    """What is known of a damaged file: its path, asset and batch, why it cannot be read, the rebuild command."""
    asset, batch = owner_of(path)
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return {"path": str(path), "asset": asset, "batch": batch, "reason": reason, "rebuild": rebuild_command(path)}


def damaged(path: Path, exc: BaseException) -> DamagedFile:
    d = damage_of(path, exc)
    where = f"asset {d['asset']}" + (f", batch {d['batch']}" if d["batch"] else "")
    return DamagedFile(f"{path} ({where}) cannot be read ({d['reason']}): rebuild it with `{d['rebuild']}`")


def read_parquet(path: Path, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A table's file (or some of its columns), or one error naming the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: materialize its asset first")
    try:
        return pl.read_parquet(path, columns=list(columns) if columns is not None else None)
    except Exception as exc:  # polars' ComputeError for a truncated file, OSError, ...: one message naming it
        raise damaged(path, exc) from None


def unreadable(path: Path) -> BaseException | None:
    """Why a Parquet file's footer cannot be read, or None (cheap: the footer only)."""
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception as exc:
        return exc
    return None
