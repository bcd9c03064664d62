"""lcb_problems a few rows at a time (recipe/lcb_sources.py): a chunk of one row gives the same table, rejects
and counts as one chunk of every row, and the stored rows are really written in chunks."""

import json

import pyarrow.parquet as pq

from xcoder_assets.recipe import lcb_sources
from xcoder_assets.recipe.benchmark import BenchmarkInputError
from xcoder_assets_tests.recipe.test_lcb_sources import SAMPLE, copy_of, expected


def sources_of(tmp_path):
    """Four files: the sample, two dated copies (the second repeating the first's ids: the first wins, a
    within-file repeat too) and one with a malformed row."""
    a = copy_of(SAMPLE, tmp_path, "a.jsonl", "x", "2025-01-10T00:00:00")
    b = copy_of(SAMPLE, tmp_path, "b.jsonl", "x", "2025-03-10T00:00:00")
    with open(a, "a") as handle:  # a question id the file repeats: its first row counts
        handle.write(a.read_text().splitlines()[0] + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(SAMPLE.read_text().splitlines()[0].replace('"question_id"', '"qid_renamed"') + "\n{not json\n")
    return [(SAMPLE, "sample"), (a, "a"), (b, "b"), (bad, "bad")]


def test_a_chunk_of_one_row_gives_the_same_table_as_one_chunk(tmp_path):
    sources = sources_of(tmp_path)
    whole = lcb_sources.assemble(sources, tmp_path / "whole", "run", skip_bad_records=True, chunk_rows=10_000)
    small = lcb_sources.assemble(sources, tmp_path / "small", "run", skip_bad_records=True, chunk_rows=1)
    assert small.problems.equals(whole.problems) and small.rejects.equals(whole.rejects)
    assert {**vars(small.tally), "parsed": None} == {**vars(whole.tally), "parsed": None}  # (other cache paths)
    good = [(p, label) for p, label in sources if label != "bad"]
    table, loaded = expected(good)
    assert whole.problems.equals(table) and whole.tally.outside_window == loaded.outside_window
    assert whole.tally.problems == table.height and whole.tally.rejected == whole.rejects.height == 2
    assert whole.tally.by_source == dict(table.group_by("source").len().iter_rows())
    assert whole.tally.undated == table["contest_date"].null_count()
    assert whole.tally.date_range() == f"{table['contest_date'].min()} .. {table['contest_date'].max()}"
    # the stored rows of a file were written a row at a time (a row group each), not held whole
    stored = [p for p in (tmp_path / "small").glob("*.parquet") if not p.name.endswith(".rejects.parquet")]
    assert max(pq.ParquetFile(p).num_row_groups for p in stored) == 3


def test_the_window_and_first_file_wins_hold_across_chunks(tmp_path):
    from datetime import date

    sources = sources_of(tmp_path)[:3]
    for window in ({"start": date(2025, 2, 1)}, {"end": date(2025, 2, 1)}):
        got = lcb_sources.assemble(sources, tmp_path / "cache", "run", chunk_rows=1, **window)
        whole = lcb_sources.assemble(sources, tmp_path / "cache", "run", chunk_rows=10_000, **window)
        assert got.problems.equals(expected(sources, **window)[0]) and got.problems.equals(whole.problems), window
        # (a row a file repeats is dropped when the file is parsed, before the window: not counted outside it)
        assert (got.outside_window, got.duplicates) == (whole.outside_window, whole.duplicates), window


def test_a_failing_file_stores_nothing_and_the_table_is_not_written(tmp_path):
    bad = tmp_path / "bad.jsonl"
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    rows[-1].pop("question_id")
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = tmp_path / "cache"
    try:
        lcb_sources.assemble([(bad, "bad")], cache, "run", chunk_rows=1)
    except BenchmarkInputError as exc:
        assert "bad.jsonl:3" in str(exc)
    else:
        raise AssertionError("a malformed row must fail the file")
    assert not list(cache.glob("*.parquet")) and not list(tmp_path.glob("**/.tmp-*"))
