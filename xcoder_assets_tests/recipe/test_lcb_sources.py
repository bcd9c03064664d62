"""lcb_problems from stored per-source rows (recipe/lcb_sources.py): the same table load_problems gives, with
only new or changed files parsed."""

import json
import os
from datetime import date

import polars as pl
import pytest

from xcoder_assets.recipe import lcb_sources
from xcoder_assets.recipe.benchmark import BenchmarkInputError, load_problems
from xcoder_assets.recipe.evaluation import problem_rows
from xcoder_assets.store.tables import LCB_PROBLEMS
from xcoder_assets_tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "xcoder_assets" / "data" / "lcb" / "code_generation_lite_sample.jsonl"


def copy_of(path, tmp_path, name, suffix, date_text):
    """The sample's rows under other question ids and one contest date."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    for row in rows:
        row["question_id"] = f"{row['question_id']}-{suffix}"
        row["contest_date"] = date_text
    out = tmp_path / name
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def expected(sources, **window):
    loaded = load_problems(sources, **window)
    return pl.DataFrame(problem_rows(loaded.problems, "run"), schema=LCB_PROBLEMS.schema), loaded


def test_the_table_equals_one_load_and_only_new_or_changed_files_are_parsed(tmp_path):
    cache = tmp_path / "cache"
    night1 = copy_of(SAMPLE, tmp_path, "night1.jsonl", "n1", "2025-01-10T00:00:00")
    sources = [(SAMPLE, "sample"), (night1, "verified")]
    first = lcb_sources.assemble(sources, cache, "run")
    table, _ = expected(sources)
    assert first.problems.equals(table) and first.parsed == [str(SAMPLE), str(night1)]
    again = lcb_sources.assemble(sources, cache, "run")
    assert again.parsed == [] and again.reused == 2 and again.problems.equals(table)
    night2 = copy_of(SAMPLE, tmp_path, "night2.jsonl", "n2", "2025-02-10T00:00:00")
    sources.append((night2, "verified"))
    second = lcb_sources.assemble(sources, cache, "run")
    assert second.parsed == [str(night2)] and second.rows_parsed == 3 and second.reused == 2
    assert second.problems.equals(expected(sources)[0])
    # night1 rewritten (a batch re-materialized): parsed again, its new rows in the table
    rewritten = copy_of(SAMPLE, tmp_path, "night1.jsonl", "n1b", "2025-01-11T00:00:00")
    os.utime(rewritten, ns=(10**18, 10**18))
    third = lcb_sources.assemble(sources, cache, "run")
    assert third.parsed == [str(night1)] and third.problems.equals(expected(sources)[0])
    assert lcb_sources.prune(cache, sources, False) == 1  # the old night1's stored rows
    assert len(list(cache.glob("*.parquet"))) == 2 * len(sources)


def test_window_and_repeated_question_ids_as_load_problems(tmp_path):
    cache = tmp_path / "cache"
    a = copy_of(SAMPLE, tmp_path, "a.jsonl", "x", "2025-01-10T00:00:00")
    b = copy_of(SAMPLE, tmp_path, "b.jsonl", "x", "2025-03-10T00:00:00")  # the same ids again: a's win
    c = copy_of(SAMPLE, tmp_path, "c.jsonl", "y", "2025-03-10T00:00:00")
    sources = [(SAMPLE, "sample"), (a, "a"), (b, "b"), (c, "c")]
    for window in ({}, {"start": date(2025, 2, 1)}, {"end": date(2025, 2, 1)}):
        got = lcb_sources.assemble(sources, cache, "run", **window)
        table, loaded = expected(sources, **window)
        assert got.problems.equals(table), window
        assert (got.outside_window, got.duplicates) == (loaded.outside_window, loaded.duplicates), window


def test_a_bad_row_fails_naming_the_file_or_becomes_a_stored_reject(tmp_path):
    cache = tmp_path / "cache"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question_id": "q"\n')
    with pytest.raises(BenchmarkInputError, match=r"bad\.jsonl:1"):
        lcb_sources.assemble([(SAMPLE, "sample"), (bad, "bad")], cache, "run")
    skipped = lcb_sources.assemble([(SAMPLE, "sample"), (bad, "bad")], cache, "run", skip_bad_records=True)
    assert skipped.rejects.height == 1 and skipped.rejects["location"][0].endswith("bad.jsonl:1")
    again = lcb_sources.assemble([(SAMPLE, "sample"), (bad, "bad")], cache, "run", skip_bad_records=True)
    assert again.parsed == [] and again.rejects.height == 1
    with pytest.raises(BenchmarkInputError, match="missing.jsonl"):
        lcb_sources.assemble([(tmp_path / "missing.jsonl", "x")], cache, "run")
