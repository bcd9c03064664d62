"""Tables written and read a chunk at a time (store/streaming.py), one progress line over chunks, and the
prefetch that overlaps a chunk's LLM answers with the previous chunk's sandbox runs."""

import threading

import polars as pl
import pyarrow.parquet as pq
import pytest

from xcoder_assets.recipe.stage import prefetched
from xcoder_assets.store.parquet import SchemaMismatch
from xcoder_assets.present.progress import StageProgress
from xcoder_assets.store.streaming import (
    KeyedRows,
    LinesWriter,
    RowsParquetWriter,
    TableWriter,
    row_chunks,
    row_group_rows,
)
from xcoder_assets.store.tables import TEST_INPUTS


def _inputs(problem: str, n: int, size: int = 10) -> list[dict]:
    return [
        {
            "test_id": f"{problem}-t{i}",
            "problem_id": problem,
            "kind": "random",
            "case_index": i,
            "status": "valid",
            "reason": None,
            "input": "x" * size,
            "input_bytes": size,
            "generator_call_id": "c",
            "run_id": "r",
        }
        for i in range(n)
    ]


def test_a_table_written_in_chunks_appears_whole_and_only_when_closed(tmp_path):
    writer = TableWriter(TEST_INPUTS, tmp_path)
    for problem in ("p1", "p2", "p3"):
        writer.write(_inputs(problem, 4))
        assert not writer.path.exists()  # readers see the old file or the whole new one
    path = writer.close()
    frame = pl.read_parquet(path)
    assert frame.height == 12 and frame.schema == TEST_INPUTS.schema
    assert pq.ParquetFile(path).num_row_groups == 3  # one per chunk: a reader can take one chunk back
    assert writer.first is not None and writer.first.height == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_failed_stage_leaves_the_old_file_and_no_temporary(tmp_path):
    TableWriter(TEST_INPUTS, tmp_path).close()  # an earlier, empty materialization
    before = TEST_INPUTS.path(tmp_path).read_bytes()
    with pytest.raises(RuntimeError):
        with TableWriter(TEST_INPUTS, tmp_path) as writer:
            writer.write(_inputs("p1", 2))
            raise RuntimeError("the sandbox broke")
    assert TEST_INPUTS.path(tmp_path).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test_inputs.parquet"]


def test_ids_repeated_across_chunks_are_refused(tmp_path):
    writer = TableWriter(TEST_INPUTS, tmp_path)
    writer.write(_inputs("p1", 2))
    writer.write(_inputs("p1", 1))
    with pytest.raises(SchemaMismatch, match="p1-t0"):
        writer.close()
    assert not TEST_INPUTS.path(tmp_path).exists() and not list(tmp_path.iterdir())


def test_big_rows_make_small_row_groups():
    frame = pl.DataFrame({"input": ["x" * 1000] * 100})
    assert row_group_rows(frame, target_bytes=10_000) == 10
    assert row_group_rows(frame.head(3), target_bytes=10_000) == 3


def test_keyed_rows_read_only_the_row_groups_of_the_asked_keys(tmp_path, monkeypatch):
    with TableWriter(TEST_INPUTS, tmp_path) as writer:
        for problem in ("p1", "p2", "p3", "p4"):
            writer.write(_inputs(problem, 3))
    keyed = KeyedRows(TEST_INPUTS.path(tmp_path), "problem_id", ["test_id", "problem_id", "input"])
    read: list[list[int]] = []
    original = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(
        pq.ParquetFile,
        "read_row_groups",
        lambda self, groups, **kw: read.append(list(groups)) or original(self, groups, **kw),
    )
    groups = keyed.groups(["p3", "p2", "nope"])
    assert list(groups) == ["p3", "p2"]  # the asked order; a key without rows is left out
    assert groups["p3"]["test_id"].to_list() == ["p3-t0", "p3-t1", "p3-t2"]
    assert read == [[1, 2]]
    assert keyed.rows([]).height == 0 and keyed.rows([]).columns == ["test_id", "problem_id", "input"]


def test_row_chunks_keep_only_what_is_asked_in_lists_of_the_size(tmp_path):
    with TableWriter(TEST_INPUTS, tmp_path) as writer:
        writer.write(_inputs("p1", 7))
        writer.write(_inputs("p2", 6))
    chunks = list(row_chunks(TEST_INPUTS.path(tmp_path), 4, keep=lambda row: row["case_index"] % 2 == 0))
    assert [len(c) for c in chunks] == [4, 3]
    assert {r["test_id"] for c in chunks for r in c} == {"p1-t0", "p1-t2", "p1-t4", "p1-t6", "p2-t0", "p2-t2", "p2-t4"}


def test_lines_writer_is_atomic(tmp_path):
    path = tmp_path / "lcb" / "verified_problems.jsonl"
    with LinesWriter(path) as out:
        out.write([{"a": 1}])
        out.write([{"a": 2}])
        assert not path.exists()
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n' and out.records == 2


# Each streaming writer, opened on a path that holds an older file, and one write of its kind.
WRITERS = {
    "table": (lambda path: TableWriter(TEST_INPUTS, path.parent, path), lambda w: w.write(_inputs("p1", 2))),
    "lines": (LinesWriter, lambda w: w.write([{"a": 1}])),
    "rows": (
        lambda path: RowsParquetWriter(path, pl.Schema({"a": pl.Int64}), target_bytes=1),
        lambda w: w.write({"a": 1}, 8),
    ),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_every_writer_aborts_alike_leaving_the_old_file_and_nothing_else(tmp_path, kind):
    make, write = WRITERS[kind]
    path = tmp_path / "out.file"
    path.write_bytes(b"old")
    writer = make(path)
    write(writer)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-out.file.")]  # written aside
    writer.abort()
    writer.abort()  # twice: nothing more to undo
    assert writer.close() == path and path.read_bytes() == b"old"  # closing an aborted writer publishes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.file"]
    with pytest.raises(RuntimeError):
        with make(path) as writer:
            write(writer)
            raise RuntimeError("the stage broke")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.file"] and path.read_bytes() == b"old"
    with make(path) as writer:
        write(writer)
    assert path.read_bytes() != b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.file"]


def test_a_writer_whose_handle_cannot_open_leaves_no_temporary(tmp_path, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(LinesWriter, "_open", refuse)
    with pytest.raises(OSError, match="disk full"):
        LinesWriter(tmp_path / "x.jsonl")
    assert not list(tmp_path.iterdir())


def test_one_progress_line_adds_the_chunks_up():
    lines: list[str] = []
    stage = StageProgress("verified_solutions: sandbox runs", lines.append, units=4, new="run", cached="from cache")
    first = stage.part(2)
    first.update(10, 10, 4)  # a finished chunk: not the closing line, chunks remain
    first.finish(10, 10, 4, 0)
    assert not any(" in " in line.rsplit(",", 1)[-1] for line in lines)
    second = stage.part(2)
    second.update(3, 12, 1, 1)
    second.finish(12, 12, 2, 1)
    stage.finish()
    closing = [line for line in lines if " in " in line.rsplit(",", 1)[-1]]
    assert len(closing) == 1
    assert closing[0].startswith("verified_solutions: sandbox runs 22/22 (100%), 15 run at")
    assert "6 from cache, 1 not run" in closing[0]


def test_prefetched_fetches_the_next_item_while_the_caller_works():
    started = {i: threading.Event() for i in range(3)}

    def fetch(item: int) -> int:
        started[item].set()
        return item * 10

    seen = []
    for value in prefetched(range(3), fetch):
        if value == 0:
            assert started[1].wait(5)  # fetched while the caller still holds item 0
        seen.append(value)
    assert seen == [0, 10, 20]
    assert list(prefetched([], fetch)) == []
