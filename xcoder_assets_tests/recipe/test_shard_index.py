"""Incremental training_shards (recipe/shard_index.py): parts planned one batch at a time against the on-disk
index equal one plan over every batch; a changed batch is planned again; versions link the parts' files and
load with the trainer's reader and HF datasets; the retention policy; the benchmark index built once."""

import json
import os
import random

import polars as pl
import pytest

from xcoder_assets.launched.shards import load_shards, require
from xcoder_assets.recipe import shard_index, shards
from xcoder_assets.recipe.decontamination import BenchmarkText, DecontaminationSettings
from xcoder_assets_tests.recipe.test_shards import code_of, no_benchmark, problem, source

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
    "romeo sierra tango uniform victor whiskey xray yankee zulu amber basil cedar dahlia elder fennel ginger hazel"
).split()


def statement(i):
    """A long statement of its own words per i (near copies need more than the shared template text)."""
    rng = random.Random(i)
    return f"Story {i}: " + " ".join(rng.choice(WORDS) for _ in range(60))


def batches():
    """Three batches whose problem ids rise with the batch (so one plan over all, which orders problems by id,
    takes them in batch order): batch 1 repeats a batch-0 problem exactly, batch 2 nearly repeats a batch-1
    problem (one word changed) and repeats one of its own."""
    out = []
    for b in range(3):
        problems = [problem(i, statement=statement(i)) for i in range(b * 5, b * 5 + 5)]
        if b == 1:
            problems.append(problem(20, statement=problems[0]["statement"].replace("Story 5", "Story 0")))
            problems.append(problem(21, statement=statement(1)))  # exact copy of batch 0's problem 1
        if b == 2:
            words = statement(6).split()
            words[20] = "zeppelin"
            problems.append(problem(30, statement=" ".join(words)))  # near copy of batch 1's problem 6
            problems.append(problem(31, statement=statement(11)))  # exact copy within the batch
        sources = []
        for p in problems:
            i = int(p["problem_id"][-12:], 16)
            sources += [source(p, 0, True, code_of(i)), source(p, 1, False, code_of(i, 1))]
        out.append(({p["problem_id"]: p for p in problems}, sources))
    return out


def fates(rows):
    return sorted(
        (r["example_id"], r["status"], r["reason"], r["duplicate_of"], r["duplicate_score"], r["split"]) for r in rows
    )


def plan_all(tmp_path, data, settings, name="parts", chain_start=None):
    index = shard_index.open_index(tmp_path / name, settings)
    counter = shards.load_token_counter(None)
    keys, folders, after = [], [], chain_start
    for b, (problems, sources) in enumerate(data):
        key = shard_index.part_key(
            f"b{b}", {"sources": str(len(sources)), "id": sources[0].verified_id}, settings, "x", counter.name, after
        )
        folder = tmp_path / name / shard_index.PARTS_DIR / key
        if not index.has_part(key):
            shard_index.plan_part(
                folder,
                key,
                f"b{b}",
                after,
                keys,
                shard_index.BatchData(sources, problems, {}, "solve"),
                settings,
                no_benchmark(),
                counter,
                index,
                {},
            )
        keys.append(key)
        folders.append(folder)
        after = key
    return index, keys, folders


def test_batches_one_by_one_equal_one_plan_over_all_with_the_earlier_batch_winning(tmp_path):
    data = batches()
    settings = shards.ShardSettings(validation_share=0.2)
    index, keys, folders = plan_all(tmp_path, data, settings)
    incremental = pl.concat([pl.read_parquet(f / shard_index.EXAMPLES) for f in folders]).to_dicts()
    once = shards.plan_examples([s for _, sources in data for s in sources], settings, no_benchmark())
    expected = [
        {
            "example_id": o.example_id,
            "status": o.status,
            "reason": o.reason,
            "duplicate_of": o.duplicate_of,
            "duplicate_score": o.duplicate_score,
            "split": o.split,
        }
        for o in once.outcomes
    ]
    assert fates(incremental) == fates(expected)
    by_problem = {r["problem_id"]: r for r in incremental if r["rank"] == 0}
    assert by_problem["prob-0000000000000015"]["reason"] == "exact_duplicate_problem"
    assert by_problem["prob-0000000000000015"]["duplicate_of"] == "prob-0000000000000001"  # batch 0 wins
    near = by_problem["prob-000000000000001e"]
    assert (near["reason"], near["duplicate_of"]) == ("near_duplicate_problem", "prob-0000000000000006")
    assert 0.8 <= near["duplicate_score"] < 1.0
    assert by_problem["prob-000000000000001f"]["duplicate_of"] == "prob-000000000000000b"  # within batch 2
    # the index holds only what each part kept (no duplicate), and a part is read back, not planned, once done
    problems_kept = index.con.execute("SELECT count(*) FROM problem").fetchone()[0]
    assert problems_kept == len({r["problem_id"] for r in incremental if r["status"] != "duplicate"})
    assert all(index.has_part(k) for k in keys)
    index.close()


def test_a_changed_batch_is_planned_again_and_what_it_kept_is_replaced(tmp_path):
    data = batches()
    settings = shards.ShardSettings(validation_share=0.0)
    index, keys, _ = plan_all(tmp_path, data, settings)
    index.close()
    # batch 0 re-materialized without problem 1: batch 1's copy of it is no longer a duplicate
    problems0, sources0 = data[0]
    data[0] = (problems0, [s for s in sources0 if s.problem_id != "prob-0000000000000001"])
    index, new_keys, folders = plan_all(tmp_path, data, settings)
    assert new_keys[0] != keys[0] and new_keys[1] != keys[1]  # the changed batch and every later one
    rows = pl.read_parquet(folders[1] / shard_index.EXAMPLES)
    copy = rows.filter(pl.col("problem_id") == "prob-0000000000000015").row(0, named=True)
    assert copy["status"] == "kept" and copy["duplicate_of"] is None
    # retention drops the old chain's parts from disk and from the index
    out = shard_index.apply_retention(tmp_path / "parts", tmp_path / "mixtures", "v-new", new_keys, 1, set(), index)
    assert set(index.parts()) == set(new_keys) and out.parts_removed == 3
    assert {p.name for p in (tmp_path / "parts" / shard_index.PARTS_DIR).iterdir()} == set(new_keys)
    index.close()


def test_a_version_links_the_parts_files_and_loads_with_the_trainers_reader_and_hf_datasets(tmp_path):
    data = batches()
    settings = shards.ShardSettings(validation_share=0.2, shard_size=3)
    index, keys, folders = plan_all(tmp_path, data, settings)
    index.close()
    manifests = [shard_index.read_part_manifest(f) for f in folders]
    counter = shards.load_token_counter(None)
    version = tmp_path / "parts" / "v1"
    manifest = shard_index.assemble_version(
        version, "v1", list(zip(folders, manifests)), settings, counter, {"parts": keys}
    )
    assert shards.verify_manifest(version) == manifest
    loaded = load_shards(version, verify=True)
    kept = [r for f in folders for r in pl.read_parquet(f / shard_index.EXAMPLES).to_dicts() if r["status"] == "kept"]
    train = require(loaded, "messages", "train")
    assert sorted(r["example_id"] for r in train) == sorted(r["example_id"] for r in kept if r["split"] == "train")
    assert manifest["totals"]["examples"]["train"] == len(train)
    for entry in manifest["files"]:
        linked = version / entry["path"]
        assert linked.stat().st_nlink >= 2  # the part's file itself, not a copy
    part_file = folders[0] / manifests[0]["files"][0]["path"]
    assert any(os.path.samefile(part_file, version / e["path"]) for e in manifest["files"])
    datasets = pytest.importorskip("datasets")
    jsonl = [str(version / e["path"]) for e in manifest["files"] if e["format"] == "messages" and e["split"] == "train"]
    parquet = [p.replace(".jsonl", ".parquet") for p in jsonl if p.endswith(".jsonl")]
    jsonl = [p for p in jsonl if p.endswith(".jsonl")]
    for builder, files in (("json", jsonl), ("parquet", parquet)):
        ds = datasets.load_dataset(builder, data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
        assert sorted(ds["example_id"]) == sorted(r["example_id"] for r in train)
        assert ds[0]["messages"][-1]["role"] == "assistant"
    # the same parts give the same version folder (kept as it is)
    again = shard_index.assemble_version(
        version, "v1", list(zip(folders, manifests)), settings, counter, {"parts": keys}
    )
    assert again == manifest


def _version(root, name):
    (root / name).mkdir(parents=True)
    (root / name / "manifest.json").write_text(json.dumps({"shards_version": name, "files": []}))


def test_retention_keeps_the_last_n_and_every_version_a_trained_model_recorded(tmp_path):
    data_dir = tmp_path / "data"
    root, mixtures = data_dir / "training_shards", data_dir / "training_mixtures"
    _version(root, "old-layout")  # a folder written before the ledger: older than every version it knows
    run = data_dir / "trained_model" / "run-1"
    run.mkdir(parents=True)
    (run / "settings.json").write_text(json.dumps({"shards": {"shards_version": "v1-tasks100-sols8"}}))
    trained = shard_index.trained_versions(data_dir)
    assert trained == {"v1-tasks100-sols8"}
    for n in range(1, 6):
        _version(root, f"v{n}")
        (mixtures / f"v{n}" / "tasks100-sols8").mkdir(parents=True)
        out = shard_index.apply_retention(root, mixtures, f"v{n}", [f"p{n}"], 2, trained)
    assert out.kept == ["v1", "v4", "v5"] and out.protected == ["v1"]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["v1", "v4", "v5"]
    assert sorted(p.name for p in mixtures.iterdir()) == ["v1", "v4", "v5"]
    ledger = json.loads((root / shard_index.LEDGER).read_text())
    assert [e["version"] for e in ledger] == ["v1", "v4", "v5"]
    # re-materializing an older kept version makes it the latest
    out = shard_index.apply_retention(root, mixtures, "v4", ["p4"], 2, trained)
    assert out.kept == ["v1", "v5", "v4"] and out.removed == []


def test_the_benchmark_index_is_built_once_per_fingerprint(tmp_path):
    texts = [BenchmarkText("lcb_1", "v6", statement(3)), BenchmarkText("lcb_2", "v6", statement(4))]
    settings = DecontaminationSettings()
    first, fingerprint, built = shard_index.load_decontaminator(tmp_path, texts, settings)
    second, again, rebuilt = shard_index.load_decontaminator(tmp_path, texts, settings)
    assert built and not rebuilt and fingerprint == again
    probe = [("c", statement(3).replace("Story", "Tale"))]
    assert first.check_many(probe) == second.check_many(probe) and second.check_many(probe)[0] is not None
    other = shard_index.load_decontaminator(tmp_path, texts[:1], settings)
    assert other[1] != fingerprint and other[2]
