"""training_shards a few problems at a time (recipe/shard_index.py): a batch's tests are read back per chunk of
problems (BatchTests) and equal what reading its whole tables gives; a part planned with tests read a problem
at a time writes the same files as one planned with every test in memory; the version's tables written a few
rows at a time equal them written whole, and so do their counts."""

import json

import polars as pl
import pyarrow.parquet as pq
import pytest

from xcoder_assets.recipe import shard_index, shards
from xcoder_assets.recipe.decontamination import BenchmarkText, DecontaminationSettings
from xcoder_assets.store.ids import content_hash
from xcoder_assets.store.streaming import TableWriter
from xcoder_assets.store.tables import (
    TEST_INPUTS,
    TRAINING_RL,
    TRAINING_SHARDS,
    VERIFIED_SOLUTIONS,
    batch_dirs,
    verified_problems_path,
)


def whole_tests(folder):
    """A batch's tests per problem read from its whole tables (training_shards' reading before it streamed)."""
    verified = pl.read_parquet(VERIFIED_SOLUTIONS.path(folder)).filter(pl.col("status") == "verified")
    votes_of = {}
    for row in verified.filter(pl.col("is_golden")).iter_rows(named=True):
        votes = json.loads(row["votes_json"] or "{}")
        if votes and all("voted_output" in v for v in votes.values()):
            votes_of[row["problem_id"]] = votes
    inputs = dict(pl.read_parquet(TEST_INPUTS.path(folder)).select("test_id", "input").iter_rows())
    out = {
        pid: tuple((inputs[t], v["voted_output"]) for t, v in votes.items() if v["verified"] and t in inputs)
        for pid, votes in votes_of.items()
    }
    read = sum(len(tests) for tests in out.values())
    for line in verified_problems_path(folder).read_text().splitlines():
        record = json.loads(line) if line.strip() else None
        if record and record.get("question_id") not in out:
            out[record["question_id"]] = shards.rl_tests_from_lcb_row(record)
    return out, read


@pytest.fixture(scope="module")
def batch(demo_data):
    """The demo's batch folder (read only)."""
    folders = [f for f in batch_dirs(demo_data.data).values() if VERIFIED_SOLUTIONS.path(f).exists()]
    assert folders, "the demo has a verified batch"
    return folders[0]


def test_a_batchs_tests_read_a_problem_at_a_time_equal_its_whole_tables(batch, tmp_path):
    expected, read = whole_tests(batch)
    tests = shard_index.BatchTests(batch, chunk=1)
    assert len(tests) == len(expected) and set(tests.keys()) == set(expected)
    assert tests.load(sorted(expected)) == expected
    assert all(expected.values()), "the demo's problems have tests"
    assert tests.digest() == content_hash(sorted(expected.items())) and tests.inputs_read == read
    assert tests.load(["no-such-problem"]) == {}
    # spilled (each problem's tests read once, into a file of its own): the same tests, hash and count
    spilled = shard_index.BatchTests(batch, chunk=2)
    spilled.spill(tmp_path / "spill")
    assert len(list((tmp_path / "spill").iterdir())) == len(expected) and spilled.inputs_read == read
    assert spilled.load(sorted(expected)) == expected
    assert spilled.digest() == content_hash(sorted(expected.items()))


def test_the_streamed_hash_is_the_content_hash():
    tests = {f"p{i}": tuple((f"in {i} {j}\n", f"out é {j}") for j in range(i % 3)) for i in range(7)}
    for chunk in (1, 2, 100):
        got = shard_index.streamed_tests_hash(tests, lambda ids: {i: tests[i] for i in ids}, chunk)
        assert got == content_hash(sorted(tests.items()))


def plan(batch, tmp_path, name, data):
    settings = shards.ShardSettings(shard_size=3)  # several shard files, so files roll over mid-chunk
    index = shard_index.open_index(tmp_path / name, settings)
    counter = shards.load_token_counter(None)
    benchmark = shard_index.Decontaminator([BenchmarkText("q", "lcb", "unrelated words")], DecontaminationSettings())
    folder = tmp_path / name / "part"
    try:
        shard_index.plan_part(folder, "part", "b", None, [], data, settings, benchmark, counter, index, {})
    finally:
        index.close()
    return folder


def test_a_part_planned_a_problem_at_a_time_writes_what_one_with_every_test_in_memory_writes(
    batch, tmp_path, monkeypatch
):
    whole, read = whole_tests(batch)
    lazy = shard_index.read_batch(batch, chunk=1)
    in_memory = shard_index.BatchData(
        lazy.sources, lazy.problems, whole, lazy.template, {**lazy.rows_read, "test_inputs": read}
    )
    one = plan(batch, tmp_path, "memory", in_memory)
    monkeypatch.setattr(shards, "TESTS_CHUNK", 1)
    other = plan(batch, tmp_path, "stream", lazy)
    manifest = json.loads((one / shard_index.MANIFEST).read_text())
    assert json.loads((other / shard_index.MANIFEST).read_text()) == manifest
    rl_files = [f for f in manifest["files"] if f["format"] == "rl"]
    assert len(rl_files) >= 2 and all(f["sha256"] for f in rl_files)  # every file's bytes alike (sha256)
    rl_rows = [r for f in rl_files if f["container"] == "jsonl" for r in map(json.loads, open(one / f["path"]))]
    assert rl_rows and all(r["tests"] for r in rl_rows)
    assert {r["problem_id"]: [(t["input"], t["output"]) for t in r["tests"]] for r in rl_rows} == {
        r["problem_id"]: list(whole[r["problem_id"]]) for r in rl_rows
    }
    for name in (shard_index.EXAMPLES, shard_index.RL):
        assert pl.read_parquet(other / name).equals(pl.read_parquet(one / name))


def test_rl_parquet_row_groups_depend_on_the_rows_alone(tmp_path):
    rows = [
        {"example_id": f"e{i}", "problem_id": "p", "query": "q" * i, "response": "r", "system": None} for i in range(9)
    ]
    from xcoder_assets.store.streaming import RowsParquetWriter

    paths = []
    for name in ("a", "b"):
        writer = RowsParquetWriter(tmp_path / f"{name}.parquet", shards.PARQUET_SCHEMAS["query_response"], 40)
        for row in rows:
            writer.write(row, len(json.dumps(row)))
        paths.append(writer.close())
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert pq.ParquetFile(paths[0]).num_row_groups > 1
    assert pl.read_parquet(paths[0]).to_dicts() == rows


def test_the_version_tables_written_a_few_rows_at_a_time_equal_them_written_whole(batch, tmp_path):
    lazy = shard_index.read_batch(batch)
    folder = plan(batch, tmp_path, "parts", lazy)
    out = {}
    for chunk in (2, 100_000):
        target = tmp_path / f"tables-{chunk}"
        with TableWriter(TRAINING_SHARDS, target) as examples, TableWriter(TRAINING_RL, target) as rl:
            tally = shard_index.write_version_tables([folder], examples, rl, "v1", "run", chunk_rows=chunk)
        out[chunk] = (pl.read_parquet(examples.path), pl.read_parquet(rl.path), tally)
        assert chunk > 2 or pq.ParquetFile(examples.path).num_row_groups > 1
    (small, small_rl, small_tally), (whole, whole_rl, whole_tally) = out[2], out[100_000]
    assert small.equals(whole) and small_rl.equals(whole_rl)
    assert small_tally.dropped.equals(whole_tally.dropped)
    assert {**vars(small_tally), "dropped": None} == {**vars(whole_tally), "dropped": None}
    expected = pl.read_parquet(folder / shard_index.EXAMPLES)
    assert whole.drop("shards_version", "run_id").equals(expected.drop("shards_version", "run_id"))
    assert whole_tally.rows == whole.height and whole_tally.statuses == dict(whole.group_by("status").len().iter_rows())
