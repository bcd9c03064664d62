"""Tables written and read a chunk at a time, so that a stage's memory does not grow with its batch.

`TableWriter` writes a table as row groups of one Parquet file while the stage works through its
problems chunk by chunk, and keeps none of the rows it wrote; the file appears whole (atomically, like
every write in store/parquet.py) when the writer closes without error. `KeyedRows` reads back the rows
of some keys (the problems of a chunk) from only the row groups that hold them: a table written chunk
by chunk in the order the next stage reads it costs that stage one row group per chunk.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from xcoder_assets.store.parquet import SchemaMismatch, _umask, conform, damaged
from xcoder_assets.store.tables import Table

# Rows per row group are chosen by size: a chunk of problems with megabyte test inputs must not make a
# row group that a reader has to hold whole, nor tiny rows thousands of row groups.
ROW_GROUP_BYTES = 32 << 20


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    os.close(fd)
    return Path(name)


def _publish(tmp: Path, path: Path) -> None:
    os.chmod(tmp, 0o666 & ~_umask())
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def row_group_rows(frame: pl.DataFrame, target_bytes: int = ROW_GROUP_BYTES) -> int:
    """How many of `frame`'s rows make a row group of about `target_bytes`."""
    size = frame.estimated_size()
    if not frame.height or size <= target_bytes:
        return max(frame.height, 1)
    return max(1, int(frame.height * target_bytes / size))


class AtomicFile:
    """A file written under a temporary name beside its place and put there whole by `close()`; `abort()`, or
    an error inside `with`, removes it, so an aborted writer leaves nothing. A writer says how to open its
    handle on the temporary file (`_open`), what to write of what it still holds before closing (`_flush`)
    and what refuses the finished file (`_check`, before it is put in place)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._tmp = _temporary(self.path)
        self._done = False
        try:
            self._handle: Any = self._open(self._tmp)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def _open(self, tmp: Path) -> Any:
        raise NotImplementedError

    def _flush(self) -> None:
        pass

    def _check(self) -> None:
        pass

    def _close_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def close(self) -> Path:
        """Finish the file and put it in place; on any error it is removed and the error raised."""
        if self._done:
            return self.path
        try:
            self._flush()
            self._close_handle()
            self._check()
            _publish(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def abort(self) -> None:
        self._done = True
        self._close_handle()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


class _ParquetFile(AtomicFile):
    """An AtomicFile of Parquet row groups of one schema."""

    def __init__(self, path: Path, schema: pl.Schema):
        self._arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
        super().__init__(path)

    def _open(self, tmp: Path) -> pq.ParquetWriter:
        return pq.ParquetWriter(tmp, self._arrow_schema, compression="zstd", write_statistics=True)

    def _write_frame(self, frame: pl.DataFrame, row_group_size: int) -> None:
        assert self._handle is not None, "write after close"
        self._handle.write_table(frame.to_arrow().cast(self._arrow_schema), row_group_size=row_group_size)


class TableWriter(_ParquetFile):
    """One table's Parquet file, written chunk by chunk (schema enforced on every chunk, ids unique
    over the whole file, checked at close from the id column alone)."""

    def __init__(self, table: Table, folder: Path, path: Path | None = None):
        self.table = table
        self.rows = 0
        self.first: pl.DataFrame | None = None  # the first chunk's first rows: the UI's sample rows
        super().__init__(Path(path) if path is not None else table.path(folder), table.schema)

    def write(self, rows: Sequence[dict[str, Any]] | pl.DataFrame) -> None:
        frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(list(rows), schema=self.table.schema)
        if not frame.height:
            return
        frame = conform(frame, self.table.schema, str(self.path))
        if self.first is None:
            self.first = frame.head(5)
        self._write_frame(frame, row_group_rows(frame))
        self.rows += frame.height

    def _check(self) -> None:
        """A file whose ids repeat is refused."""
        if self.table.unique_ids and self.rows:
            ids = pl.scan_parquet(self._tmp).select(self.table.id_column).collect().to_series()
            repeated = ids.filter(ids.is_duplicated()).unique().head(5).to_list()
            if ids.null_count() or repeated:
                raise SchemaMismatch(
                    f"{self.path}: column {self.table.id_column} must hold one distinct id per row; "
                    f"{ids.null_count()} null, repeated: {repeated}"
                )


class LinesWriter(AtomicFile):
    """A JSON Lines file written record by record, in place atomically when closed."""

    def __init__(self, path: Path, ensure_ascii: bool = True):
        self.records, self.ensure_ascii = 0, ensure_ascii
        super().__init__(path)

    def _open(self, tmp: Path) -> Any:
        return open(tmp, "w", encoding="utf-8")

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write_line(json.dumps(record, ensure_ascii=self.ensure_ascii) + "\n")

    def write_line(self, line: str) -> None:
        """One record already as its line (with the newline)."""
        self._handle.write(line)
        self.records += 1


class RowsParquetWriter(_ParquetFile):
    """A Parquet file of plain rows (dicts, not a project table: the shard files), written as they come in row
    groups of about `target_bytes` of their JSON text, so that where a group ends depends on the rows alone (the
    same rows give the same bytes however the caller chunked them); in place atomically when closed."""

    def __init__(self, path: Path, schema: pl.Schema, target_bytes: int = ROW_GROUP_BYTES):
        self.schema, self.target_bytes = schema, target_bytes
        self.rows = 0
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        super().__init__(path, schema)

    def write(self, row: dict[str, Any], size: int) -> None:
        """One row; `size`: its JSON text's length (what the row group budget counts)."""
        self._pending.append({c: row.get(c) for c in self.schema})
        self._pending_bytes += size
        self.rows += 1
        if self._pending_bytes >= self.target_bytes:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._write_frame(pl.DataFrame(self._pending, schema=self.schema), len(self._pending))
            self._pending, self._pending_bytes = [], 0


class KeyedRows:
    """The rows of a Parquet file for given keys, reading only the row groups that hold them.

    Opening reads the key column alone (one small column) to learn which row groups hold each key;
    `rows(keys)` then reads the other columns of just those row groups."""

    def __init__(self, path: Path, key: str, columns: Sequence[str] | None = None):
        self.path, self.key = Path(path), key
        try:
            self._file = pq.ParquetFile(self.path)
            self.columns = list(columns) if columns is not None else list(self._file.schema_arrow.names)
            self._groups: dict[str, list[int]] = {}
            for group in range(self._file.num_row_groups):
                for value in set(self._file.read_row_group(group, columns=[key]).column(0).to_pylist()):
                    self._groups.setdefault(value, []).append(group)
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.path} does not exist: materialize its asset first") from None
        except (OSError, pa.ArrowException) as exc:
            raise damaged(self.path, exc) from None

    def keys(self) -> set[str]:
        return set(self._groups)

    def rows(self, keys: Iterable[str]) -> pl.DataFrame:
        wanted = [k for k in dict.fromkeys(keys) if k in self._groups]
        groups = sorted({g for k in wanted for g in self._groups[k]})
        table = self._file.read_row_groups(groups, columns=self.columns) if groups else None
        frame = pl.DataFrame(pl.from_arrow(table if table is not None else self._file.schema_arrow.empty_table()))
        return frame.select(self.columns).filter(pl.col(self.key).is_in(wanted))

    def groups(self, keys: Sequence[str]) -> dict[str, pl.DataFrame]:
        """`rows(keys)` split by key, in the order of `keys` (keys without rows are left out); each key's
        rows in file order."""
        by_key = {key: group for (key,), group in self.rows(keys).group_by(self.key, maintain_order=True)}
        return {key: by_key[key] for key in keys if key in by_key}


def row_group_frames(path: Path, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
    """A Parquet file's rows a row group at a time (only `columns`, when given): memory of one row group, which
    TableWriter keeps near ROW_GROUP_BYTES. (pyarrow's iter_batches is not used for this: the memory it holds
    grows with the part of the file read, 0.2 GB for 0.4 GB of LiveCodeBench rows.)"""
    try:
        file = pq.ParquetFile(path)
        for group in range(file.num_row_groups):
            table = file.read_row_group(group, columns=list(columns) if columns is not None else None)
            yield pl.DataFrame(pl.from_arrow(table))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: materialize its asset first") from None
    except (OSError, pa.ArrowException) as exc:
        raise damaged(Path(path), exc) from None


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`items` in consecutive slices of at most `size` (at least 1)."""
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def row_chunks(
    path: Path,
    size: int,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    columns: Sequence[str] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """A Parquet file's rows (those `keep` accepts; only `columns`, when given) in lists of `size`, read a record
    batch at a time."""
    try:
        file = pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: materialize its asset first") from None
    except (OSError, pa.ArrowException) as exc:
        raise damaged(Path(path), exc) from None
    pending: list[dict[str, Any]] = []
    for batch in file.iter_batches(batch_size=max(1, size), columns=list(columns) if columns is not None else None):
        pending += [row for row in batch.to_pylist() if keep is None or keep(row)]
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending
