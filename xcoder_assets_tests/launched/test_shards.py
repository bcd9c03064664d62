"""The trainer's manifest verification: every listed file, its sha256 and its rows, before any training."""

import json

import pytest

from xcoder_assets.launched.shards import MANIFEST, ShardError, load_shards, require
from xcoder_assets_tests.launched.shard_data import PROBLEMS, make_shards


def test_a_good_folder_loads_with_its_rows(tmp_path):
    shards = load_shards(make_shards(tmp_path))
    assert shards.version == "v-test"
    assert len(require(shards, "messages")) == 2 * len(PROBLEMS)
    assert [r["problem_id"] for r in require(shards, "rl")] == [p[0] for p in PROBLEMS]
    assert set(shards.data_versions()["files"]) == {"sft/messages/train-00000.jsonl", "rl/train-00000.jsonl"}


def test_changed_bytes_fail_naming_the_file(tmp_path):
    root = make_shards(tmp_path)
    path = root / "sft" / "messages" / "train-00000.jsonl"
    path.write_text(path.read_text().replace("sum", "Sum", 1))
    with pytest.raises(ShardError, match=r"train-00000\.jsonl: sha256 .* does not match"):
        load_shards(root)
    assert load_shards(root, verify=False).version == "v-test"  # only verification looks at the bytes


def test_missing_file_and_missing_manifest(tmp_path):
    root = make_shards(tmp_path)
    (root / "rl" / "train-00000.jsonl").unlink()
    with pytest.raises(ShardError, match=r"rl/train-00000\.jsonl: listed in manifest\.json but missing"):
        load_shards(root)
    with pytest.raises(ShardError, match="no manifest.json"):
        load_shards(tmp_path / "elsewhere")


def test_a_path_outside_the_folder_is_refused(tmp_path):
    root = make_shards(tmp_path)
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["files"][0]["path"] = "../../outside.jsonl"
    (root / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match="outside the shards folder"):
        load_shards(root)


def test_a_malformed_entry_names_the_field(tmp_path):
    root = make_shards(tmp_path)
    manifest = json.loads((root / MANIFEST).read_text())
    del manifest["files"][1]["sha256"]
    (root / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match="sha256"):
        load_shards(root)


def test_an_empty_split_is_an_error_for_the_stage_that_needs_it(tmp_path):
    shards = load_shards(make_shards(tmp_path))
    with pytest.raises(ShardError, match="no messages rows in the validation split"):
        require(shards, "messages", "validation")
