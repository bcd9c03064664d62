import json
import os
import subprocess
import sys

import polars as pl
import pytest

from xcoder_assets.recipe.seeds import (
    BUNDLED_SEEDS,
    SeedLoadError,
    SeedRecord,
    SeedReject,
    describe_rejects,
    load_seeds,
    reject_rows,
    reject_share,
    seed_rows,
)

GOOD = {"question": "Add two numbers.", "solutions": json.dumps(["print(sum(map(int, input().split())))", "x"])}


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_solutions_as_list_or_json_string(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl", [GOOD, {"question": "Q2", "solutions": ["print(2)"], "difficulty": "EASY"}]
    )
    records, rejects = load_seeds([path])
    assert not rejects
    assert [r.solution for r in records] == ["print(sum(map(int, input().split())))", "print(2)"]
    assert records[0].solutions_count == 2 and records[1].difficulty == "EASY"
    assert [r.line for r in records] == [1, 2]


def test_bad_records_are_reported_with_line_and_reason(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            GOOD,
            "{not json",
            {"question": "", "solutions": ["x"]},
            {"question": "Q", "solutions": "not json either"},
            {"question": "Q", "solutions": []},
            {"question": "Q", "solutions": 5},
            "[1, 2]",
        ],
    )
    records, rejects = load_seeds([path])
    assert len(records) == 1
    assert [(r.line, r.reason.split(":")[0]) for r in rejects] == [
        (2, "not valid JSON"),
        (3, "field 'question' is missing or empty"),
        (4, "field 'solutions' is a string but not JSON"),
        (5, "field 'solutions' holds no non-empty solution"),
        (6, "field 'solutions' must be a list of strings (or its JSON), got int"),
        (7, "record is a list, not an object"),
    ]
    message = describe_rejects(rejects, limit=2)
    assert f"{path}:2: not valid JSON" in message and "and 4 more" in message


def test_parquet_source_and_limit(tmp_path):
    path = tmp_path / "s.parquet"
    pl.DataFrame([GOOD, {**GOOD, "question": "Other"}]).write_parquet(path)
    records, rejects = load_seeds([path], limit=1)
    assert len(records) == 1 and not rejects and records[0].source == str(path)


def test_unreadable_sources_fail_clearly(tmp_path):
    with pytest.raises(SeedLoadError, match="no such file"):
        load_seeds([tmp_path / "missing.jsonl"])
    (tmp_path / "s.csv").write_text("a,b")
    with pytest.raises(SeedLoadError, match="unknown format '.csv'"):
        load_seeds([tmp_path / "s.csv"])
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(SeedLoadError, match="not a readable Parquet file"):
        load_seeds([tmp_path / "bad.parquet"])
    with pytest.raises(SeedLoadError, match="no seed source"):
        load_seeds([])


def test_hugging_face_path_on_a_local_dataset_folder(tmp_path, monkeypatch):
    """The dataset-id path runs `datasets.load_dataset` for real, on a local folder in TACO's format."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    folder = tmp_path / "taco-like"
    folder.mkdir()
    write_jsonl(
        folder / "train.jsonl", [GOOD, {"question": "Q2", "solutions": json.dumps(["print(2)"])}, {"question": "Q3"}]
    )
    records, rejects = load_seeds(dataset_id=str(folder), split="train")
    assert [r.question for r in records] == ["Add two numbers.", "Q2"]
    assert records[0].source == f"hf:{folder}[train]"
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "field 'solutions' must be a list of strings (or its JSON), got NoneType")
    ]


def test_hugging_face_failure_names_the_dataset(tmp_path, monkeypatch):
    def refuse(dataset_id, split):
        raise ConnectionError("no network")

    with pytest.raises(SeedLoadError, match="dataset 'org/taco' .* could not be loaded: no network"):
        load_seeds(dataset_id="org/taco", load_dataset=refuse)


def test_bundled_seed_solutions_pass_their_examples(tmp_path):
    """The shipped seed set is our own code: its solutions must solve their own examples."""
    records, rejects = load_seeds([BUNDLED_SEEDS])
    assert len(records) >= 30 and not rejects
    raw = [json.loads(line) for line in BUNDLED_SEEDS.read_text().splitlines()]
    for record, row in zip(records, raw):
        io = json.loads(row["input_output"])
        for given, expected in zip(io["inputs"], io["outputs"]):
            run = subprocess.run(
                [sys.executable, "-I", "-c", record.solution],
                input=given,
                capture_output=True,
                text=True,
                timeout=20,
                env={"PATH": os.environ.get("PATH", "")},
                cwd=tmp_path,
            )
            assert run.returncode == 0, (row["name"], run.stderr)
            assert run.stdout.split() == expected.split(), row["name"]


def test_seed_rows_drop_repeated_records_and_rejects_keep_their_line():
    record = SeedRecord("a.jsonl", 1, "Q", "print(1)", 1, None)
    rows, dropped = seed_rows(
        [
            record,
            SeedRecord("a.jsonl", 2, "Q", "print(1)", 1, None),
            SeedRecord("a.jsonl", 3, "Q2", "print(2)", 2, "easy"),
        ],
        "run",
    )
    assert dropped == 1 and [r["source_line"] for r in rows] == [1, 3] and rows[0]["seed_id"].startswith("seed-")
    assert reject_rows([SeedReject("a.jsonl", 4, "not valid JSON", "{")], "run")[0]["source_line"] == 4
    assert reject_share(3, 1) == 0.25 and reject_share(0, 0) == 0.0
