"""The one reader of a shards folder's (or a mixture's) manifest.json (recipe/shard_manifest.py): typed, every
error one message naming the file and what is wrong, and light enough for the trainer to start from."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest

from xcoder_assets.launched.shards import ShardError
from xcoder_assets.recipe import shard_manifest as sm
from xcoder_assets.recipe.shards import ShardInputError, verify_manifest
from xcoder_assets.store.ids import file_sha256
from xcoder_assets_tests.conftest import PROJECT_ROOT
from xcoder_assets_tests.launched.shard_data import PROBLEMS, make_shards

SFT = "sft/messages/train-00000.jsonl"


def _edit(folder, change) -> None:
    path = folder / sm.MANIFEST
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_manifest_reads_typed_and_as_written(tmp_path):
    folder = make_shards(tmp_path)
    manifest = sm.read_manifest(folder)
    assert manifest.version == "v-test" and manifest.mixture is None and manifest.files_root == folder
    assert manifest.created_from == {"verified_solutions": "dv-test"}
    first = manifest.files[0]
    assert (first.path, first.format, first.split, first.container) == (SFT, "messages", "train", "jsonl")
    assert first.rows == 2 * len(PROBLEMS) and first.sha256 == file_sha256(folder / SFT)
    assert manifest.data == json.loads((folder / sm.MANIFEST).read_text())
    assert sm.check_files(manifest) is manifest


# (what breaks a shards folder, the error it gives, whether reading the manifest or checking its files finds it)
BROKEN = {
    "no manifest": (
        lambda f: (f / sm.MANIFEST).unlink(),
        r"v-test: no manifest\.json \(not a training_shards folder\)",
        "read",
    ),
    "not JSON": (
        lambda f: (f / sm.MANIFEST).write_text("{not json"),
        r"manifest\.json: cannot be read as JSON",
        "read",
    ),
    "no files": (lambda f: _edit(f, lambda d: d.pop("files")), r"manifest\.json: no files list", "read"),
    "no sha256": (
        lambda f: _edit(f, lambda d: d["files"][1].pop("sha256")),
        r"manifest\.json: a field is missing or mistyped .*lacks or mistypes 'sha256'",
        "read",
    ),
    "rows not a number": (
        lambda f: _edit(f, lambda d: d["files"][0].update(rows="many")),
        r"manifest\.json: a field is missing or mistyped",
        "read",
    ),
    "outside": (
        lambda f: _edit(f, lambda d: d["files"][0].update(path="../../outside.jsonl")),
        r"manifest\.json: \.\./\.\./outside\.jsonl lies outside the shards folder",
        "check",
    ),
    "missing file": (
        lambda f: (f / SFT).unlink(),
        r"train-00000\.jsonl: listed in manifest\.json but missing",
        "check",
    ),
    "changed bytes": (
        lambda f: (f / SFT).write_text((f / SFT).read_text().replace("sum", "Sum", 1)),
        r"train-00000\.jsonl: sha256 \w+\.\.\. does not match the manifest's \w+\.\.\.",
        "check",
    ),
    "other rows": (
        lambda f: _edit(f, lambda d: d["files"][0].update(rows=3)),
        rf"train-00000\.jsonl: {2 * len(PROBLEMS)} rows, the manifest says 3",
        "check",
    ),
    "unknown container": (
        lambda f: _edit(f, lambda d: d["files"][0].update(container="csv")),
        r"train-00000\.jsonl: unknown container 'csv'",
        "check",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_folder_is_one_error_naming_the_file_and_what_is_wrong(tmp_path, case):
    breaks, message, found_by = BROKEN[case]
    folder = make_shards(tmp_path)
    breaks(folder)
    if found_by == "read":
        with pytest.raises(sm.ManifestError, match=message):
            sm.read_manifest(folder)
    else:
        with pytest.raises(sm.ManifestError, match=message):
            sm.check_files(sm.read_manifest(folder))
    # every reader says the same: the recipe's (launched/shards.py's in its own tests)
    with pytest.raises(ShardInputError, match=message):
        verify_manifest(folder)


def test_the_error_is_the_recipes_and_the_trainers():
    assert issubclass(sm.ManifestError, ShardInputError) and ShardError is sm.ManifestError


def test_rows_can_be_left_uncounted_and_hashing_left_to_a_cache(tmp_path):
    folder = make_shards(tmp_path)
    _edit(folder, lambda d: d["files"][0].update(rows=3))
    hashed = []

    def cached(path):
        hashed.append(path.name)
        return file_sha256(path)

    sm.check_files(sm.read_manifest(folder), sha256=cached, rows=False)  # the rows are not counted
    assert hashed == ["train-00000.jsonl", "train-00000.jsonl"]


def test_a_parquet_file_is_counted_from_its_footer(tmp_path):
    path = tmp_path / "rows.parquet"
    pl.DataFrame({"example_id": [f"e{i}" for i in range(7)]}).write_parquet(path)
    assert sm.count_rows(path, "parquet") == 7


def _mixture(tmp_path):
    shards = make_shards(tmp_path)
    folder = tmp_path / "training_mixtures" / "v-test" / "tasks050-sols1"
    folder.mkdir(parents=True)
    entry = json.loads((shards / sm.MANIFEST).read_text())["files"][0]
    (folder / sm.MANIFEST).write_text(
        json.dumps(
            {
                "layout": sm.MIXTURE_LAYOUT,
                "mixture": {"name": "tasks050-sols1"},
                "shards_dir": "../../../training_shards/v-test",
                "shards_manifest_sha256": file_sha256(shards / sm.MANIFEST),
                "shards_version": "v-test",
                "ids": {"sft": {"train": ["ex-0"]}, "rl": {}},
                "files": [{**entry, "selected": 1}],
            }
        )
    )
    return shards, folder


def test_a_mixture_reads_its_shards_folder_and_checks_it_is_the_one_it_was_made_from(tmp_path):
    shards, folder = _mixture(tmp_path)
    mixture = sm.read_mixture_manifest(folder)
    assert mixture.mixture is not None and mixture.mixture.name == "tasks050-sols1"
    assert mixture.files_root.resolve() == shards.resolve() and mixture.mixture.ids["sft"] == {"train": ["ex-0"]}
    assert sm.mixture_shards(mixture).version == "v-test"
    sm.check_files(mixture)
    with pytest.raises(sm.ManifestError, match=r"v-test/manifest\.json: not a mixture manifest"):
        sm.read_mixture_manifest(shards)
    (shards / SFT).write_text((shards / SFT).read_text() + "\n")
    for check in (lambda: sm.check_files(mixture), lambda: sm.read_mixture_manifest(folder)):
        with pytest.raises(sm.ManifestError, match=r"sha256 .* does not match .*\(mixture .*tasks050-sols1\)"):
            check()
    assert sm.read_mixture_manifest(folder, verify=False).files == mixture.files  # reading alone checks no file
    _edit(shards, lambda d: d.update(note="changed"))
    for check in (lambda: sm.mixture_shards(mixture), lambda: sm.read_mixture_manifest(folder)):
        with pytest.raises(sm.ManifestError, match=r"not the shards manifest mixture .*tasks050-sols1 was made from"):
            check()
    assert sm.mixture_shards(mixture, verify=False).version == "v-test"
    (shards / sm.MANIFEST).unlink()
    with pytest.raises(sm.ManifestError, match=r"tasks050-sols1: its shards folder .* has no manifest\.json"):
        sm.mixture_shards(mixture)


def test_a_mixture_without_its_ids_is_one_error(tmp_path):
    _, folder = _mixture(tmp_path)
    _edit(folder, lambda d: d.pop("ids"))
    with pytest.raises(sm.ManifestError, match=r"manifest\.json: a field is missing or mistyped .*'ids'"):
        sm.read_manifest(folder)


def test_the_trainer_reads_manifests_without_the_recipes_libraries():
    code = (
        "import sys, xcoder_assets.launched.shards\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'polars', 'pyarrow', 'litellm', 'numpy', 'duckdb'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
