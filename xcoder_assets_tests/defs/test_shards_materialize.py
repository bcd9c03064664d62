"""training_shards and training_mixtures materialized on the offline simulator's verified solutions."""

import json
import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from xcoder_assets.defs import benchmark, features, seed, shards, synthesis, verification
from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource
from xcoder_assets.launched.shards import load_shards
from xcoder_assets.store.ids import file_sha256
from xcoder_assets.recipe import shards as recipe
from xcoder_assets_tests.batches import materialize as materialize_in_batch
from xcoder_assets.store import warehouse
from xcoder_assets.store.tables import (
    ASSET_TABLES,
    PROBLEMS,
    TRAINING_MIXTURES,
    TRAINING_RL,
    TRAINING_SHARDS,
    VERIFIED_SOLUTIONS,
)
from xcoder_assets.store.tables import batch_dir
from xcoder_assets_tests.batches import TEST_BATCH

MODULES = [seed, features, synthesis, verification, benchmark, shards]
OURS = ["training_shards", "training_mixtures"]


def materialize(data_dir, selection, run_config=None, raise_on_error=True):
    assets = dg.load_assets_from_modules(MODULES)
    checks = dg.load_asset_checks_from_modules(MODULES)
    return materialize_in_batch(
        [*assets, *checks],
        selection=selection,
        run_config=run_config,
        raise_on_error=raise_on_error,
        resources={
            "storage": StorageResource(data_dir=str(data_dir)),
            "llm": LLMGatewayResource(),
            "sandbox": SandboxResource(),
        },
    )


def metadata_of(result, asset):
    (event,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in event.metadata.items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_data):
    """A copy of the session's demo (the synthesis chain, verified) with lcb_problems, then ours."""
    data_dir = demo_data.copy(tmp_path_factory.mktemp("shards") / "data")
    materialize(data_dir, ["lcb_problems"])
    first = materialize(data_dir, OURS)
    return data_dir, first


def folder_of(data_dir):
    version = pl.read_parquet(TRAINING_SHARDS.path(data_dir))["shards_version"][0]
    return data_dir / "training_shards" / version


def test_shards_materialize_with_checks_and_ui_metadata(built):
    data_dir, result = built
    assert result.success
    for check in result.get_asset_check_evaluations():
        assert check.passed, (check.check_name, check.metadata)
    meta = metadata_of(result, "training_shards")
    for key in ("funnel", "funnel_chart", "manifest", "token_histogram", "sample_example", "files"):
        assert meta[key], key
    assert "data:image/svg+xml;base64," in meta["funnel_chart"] and "in shards" in meta["funnel"]
    assert "estimate" in meta["tokenizer"]
    frame = pl.read_parquet(TRAINING_SHARDS.path(data_dir))
    verified = pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(data_dir, TEST_BATCH))).filter(
        pl.col("status") == "verified"
    )
    assert frame.height == verified.height  # every verified solution is a row, kept or not
    assert set(frame["verified_id"]) == set(verified["verified_id"])
    assert meta["examples_in_shards"] == frame.filter(pl.col("status") == "kept").height > 0
    dropped = frame.filter(pl.col("status") != "kept")
    assert dropped["reason"].null_count() == 0
    dups = frame.filter(pl.col("status") == "duplicate")
    assert dups["duplicate_of"].null_count() == 0
    kept_ids = set(frame.filter(pl.col("status") == "kept")["example_id"])
    assert set(dups.filter(pl.col("reason").str.ends_with("_solution"))["duplicate_of"]) <= kept_ids
    mixtures = pl.read_parquet(TRAINING_MIXTURES.path(data_dir))
    assert mixtures.height == 9 and set(mixtures["name"]) >= {"tasks025-sols1", "tasks100-sols8"}
    for path in mixtures["manifest_path"]:
        recipe.verify_mixture(Path(path).parent)


def _bytes_on_disk(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def test_mixtures_copy_no_shard_bytes(built):
    data_dir, _ = built
    folder = folder_of(data_dir)
    mixtures = data_dir / "training_mixtures" / folder.name
    files = [p for p in mixtures.rglob("*") if p.is_file()]
    assert sorted(p.parent.name for p in files) == sorted(pl.read_parquet(TRAINING_MIXTURES.path(data_dir))["name"])
    assert {p.name for p in files} == {"manifest.json"}  # one manifest per mixture, no shard file
    shard_hashes = {e["sha256"] for e in recipe.verify_manifest(folder)["files"]}
    assert not {file_sha256(p) for p in files} & shard_hashes
    assert all(p.stat().st_nlink == 1 for p in files)  # no hard link to a shard either
    # nine mixtures together take a small part of what the one shards folder they choose from takes
    assert _bytes_on_disk(mixtures) < _bytes_on_disk(folder) / 20, (_bytes_on_disk(mixtures), _bytes_on_disk(folder))


def test_a_mixture_manifest_resolves_to_the_shard_rows(built):
    data_dir, _ = built
    folder = folder_of(data_dir)
    manifest = recipe.verify_manifest(folder)
    shard_rows = {}  # (format, split, container) -> the shards folder's rows, in file order
    for entry in manifest["files"]:
        path = folder / entry["path"]
        rows = (
            [json.loads(x) for x in path.read_text().splitlines()]
            if entry["container"] == "jsonl"
            else pl.read_parquet(path).to_dicts()
        )
        shard_rows.setdefault((entry["format"], entry["split"], entry["container"]), []).extend(rows)
    kept = pl.read_parquet(TRAINING_SHARDS.path(data_dir)).filter(pl.col("status") == "kept").sort("problem_id", "rank")
    rl = pl.read_parquet(TRAINING_RL.path(data_dir)).filter(pl.col("status") == "kept")
    refs = [recipe.RowRef(r["example_id"], r["problem_id"], r["split"]) for r in kept.iter_rows(named=True)]
    rl_refs = [recipe.RowRef(r["example_id"], r["problem_id"], r["split"]) for r in rl.iter_rows(named=True)]
    mixtures = pl.read_parquet(TRAINING_MIXTURES.path(data_dir))
    for row in mixtures.iter_rows(named=True):
        mixture_dir = Path(row["manifest_path"]).parent
        assert row["manifest_sha256"] == file_sha256(mixture_dir / "manifest.json")
        subset, rl_subset = recipe.mixture(
            refs, rl_refs, recipe.MixtureSpec(row["task_share"], row["solutions_per_task"])
        )
        chosen = {e.example_id for e in subset} | {p.example_id for p in rl_subset}
        for (fmt, split, container), rows in shard_rows.items():
            got = recipe.mixture_rows(mixture_dir, fmt, split, container)
            assert got == [r for r in rows if r["example_id"] in chosen], (row["name"], fmt, split, container)
        train = recipe.mixture_rows(mixture_dir, "messages", "train")
        assert len(train) == row["train_examples"] and len({r["problem_id"] for r in train}) == row["train_tasks"]
        assert len(recipe.mixture_rows(mixture_dir, "messages", "validation")) == row["validation_examples"]
        rl_rows = recipe.mixture_rows(mixture_dir, "rl", "train") + recipe.mixture_rows(mixture_dir, "rl", "validation")
        assert len(rl_rows) == row["rl_problems"] and all(r["tests"] for r in rl_rows)
    whole = mixtures.filter(pl.col("name") == "tasks100-sols8").row(0, named=True)
    assert whole["train_tokens"] == manifest["totals"]["tokens"]["sft_train"]
    # the trainer's own reader (launched/shards.py) takes a mixture folder as its shards: the same rows
    from xcoder_assets.launched.shards import load_shards

    versions = set()
    for row in mixtures.iter_rows(named=True):
        mixture_dir = Path(row["manifest_path"]).parent
        shards = load_shards(mixture_dir, verify=True)
        versions.add(shards.version)
        for fmt, split in (("messages", "train"), ("rl", "train"), ("sharegpt", "validation")):
            assert shards.rows(fmt, split) == recipe.mixture_rows(mixture_dir, fmt, split), (row["name"], fmt)
    assert len(versions) == mixtures.height  # each mixture its own run key
    assert whole["train_examples"] == manifest["totals"]["examples"]["train"]


def test_shards_follow_the_layout_and_hold_exactly_the_kept_examples(built):
    data_dir, _ = built
    folder = folder_of(data_dir)
    manifest = recipe.verify_manifest(folder)
    assert manifest["shards_version"] == folder.name and set(manifest["created_from"]) >= {
        "verified_solutions",
        "benchmark",
    }
    frame = pl.read_parquet(TRAINING_SHARDS.path(data_dir))
    kept = frame.filter(pl.col("status") == "kept")
    problems = {
        r["problem_id"]: r
        for r in pl.read_parquet(PROBLEMS.path(batch_dir(data_dir, TEST_BATCH))).iter_rows(named=True)
    }
    for fmt in recipe.SFT_FORMATS:
        for container in ("jsonl", "parquet"):
            ids, splits = [], {}
            for entry in manifest["files"]:
                if entry["format"] != fmt or entry["container"] != container:
                    continue
                assert re.fullmatch(rf"sft/{fmt}/(train|validation)-\d{{5}}\.{container}", entry["path"])
                path = folder / entry["path"]
                rows = (
                    [json.loads(x) for x in path.read_text().splitlines()]
                    if container == "jsonl"
                    else pl.read_parquet(path).to_dicts()
                )
                ids += [r["example_id"] for r in rows]
                for r in rows:
                    splits.setdefault(r["problem_id"], set()).add(entry["split"])
            assert sorted(ids) == sorted(kept["example_id"]), (fmt, container)
            assert all(len(s) == 1 for s in splits.values())  # no problem straddles the split
    first = json.loads((folder / manifest["files"][0]["path"]).read_text().splitlines()[0])
    row = kept.filter(pl.col("example_id") == first["example_id"]).row(0, named=True)
    assert first["messages"][1]["content"] == row["prompt"] and first["messages"][2]["content"] == row["response"]
    assert row["prompt"].startswith("### Question:\n# " + problems[row["problem_id"]]["title"])
    rl = pl.read_parquet(TRAINING_RL.path(data_dir))
    assert set(rl.filter(pl.col("status") == "kept")["problem_id"]) == set(kept["problem_id"])
    rl_file = next(f for f in manifest["files"] if f["format"] == "rl" and f["container"] == "jsonl")
    rl_row = json.loads((folder / rl_file["path"]).read_text().splitlines()[0])
    assert rl_row["tests"] and rl_row["reward"]["kind"] == "sandbox_pass_rate"


def test_rematerializing_writes_identical_shards(built):
    data_dir, _ = built
    before = json.loads((folder_of(data_dir) / "manifest.json").read_text())
    again = materialize(data_dir, ["training_shards"])
    assert again.success
    after = json.loads((folder_of(data_dir) / "manifest.json").read_text())
    assert after["shards_version"] == before["shards_version"]
    assert [(f["path"], f["sha256"]) for f in after["files"]] == [(f["path"], f["sha256"]) for f in before["files"]]


def test_every_shard_example_traces_back_to_its_seed(built):
    data_dir, _ = built
    con = warehouse.connect(data_dir)
    present = warehouse.existing_tables(data_dir)
    for name in ("training_shards", "training_shards__rl"):  # their views, as the warehouse builds them
        con.execute(warehouse.sql_text(f"views/{name}.sql").replace("{data_dir}", str(data_dir.resolve())))
    parts = [
        warehouse.sql_text(f"lineage/{t.name}.sql").strip().rstrip(";")
        for t in ASSET_TABLES
        if t.name in present and t.name != "training_shards"
    ]
    parts.append(warehouse.sql_text("lineage/training_shards.sql").strip().rstrip(";"))
    con.execute("CREATE OR REPLACE VIEW lineage AS\n" + "\nUNION ALL\n".join(parts))
    frame = pl.read_parquet(TRAINING_SHARDS.path(data_dir)).filter(pl.col("status") == "kept")
    rl = pl.read_parquet(TRAINING_RL.path(data_dir))
    for example_id in [*frame["example_id"].head(3), rl["example_id"][0]]:
        chain = warehouse.trace(con, example_id)
        assets = {step["asset"] for step in chain}
        assert {
            "training_shards",
            "verified_solutions",
            "candidate_solutions",
            "problems",
            "seed_problems",
        } <= assets, (example_id, assets)
    assert isinstance(con, duckdb.DuckDBPyConnection)


def paraphrase(statement: str) -> str:
    """Sentences reversed, numbers changed, single-letter names renamed."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", statement) if s]
    text = " ".join(reversed(sentences))
    text = re.sub(r"\d+", lambda m: str(int(m.group()) * 3 + 1), text)
    return re.sub(r"\b([a-z])\b", lambda m: {"n": "m", "k": "q", "a": "b", "i": "j"}.get(m.group(1), m.group(1)), text)


def test_a_planted_paraphrase_in_a_benchmark_file_is_flagged_and_excluded(built, tmp_path):
    data_dir, _ = built
    frame = pl.read_parquet(TRAINING_SHARDS.path(data_dir))
    target = frame.filter(pl.col("status") == "kept")["problem_id"][0]
    problem = (
        pl.read_parquet(PROBLEMS.path(batch_dir(data_dir, TEST_BATCH)))
        .filter(pl.col("problem_id") == target)
        .row(0, named=True)
    )
    row = {
        "question_title": "Planted",
        "question_content": paraphrase(problem["statement"] + "\n" + (problem["input_format"] or "")),
        "platform": "codeforces",
        "question_id": "planted_1",
        "contest_id": "1",
        "contest_date": "2025-03-01",
        "starter_code": "",
        "difficulty": "hard",
        "metadata": "{}",
        "public_test_cases": json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}]),
    }
    bench = tmp_path / "planted.jsonl"
    bench.write_text(json.dumps(row) + "\n")
    out_dir = tmp_path / "copy"
    import shutil

    shutil.copytree(data_dir, out_dir)
    result = materialize(
        out_dir,
        ["training_shards"],
        run_config={"ops": {"training_shards": {"config": {"benchmark_paths": [str(bench)]}}}},
    )
    assert result.success
    after = pl.read_parquet(TRAINING_SHARDS.path(out_dir))
    flagged = after.filter(pl.col("benchmark_question_id") == "planted_1")
    # the target; and any other generated problem that shares whole sentences (13-word runs) with it
    assert target in set(flagged["problem_id"])
    assert flagged.filter(pl.col("problem_id") == target)["status"].is_in(["contaminated", "duplicate"]).all()
    assert set(flagged["status"]) <= {"contaminated", "duplicate"} and "contaminated" in set(flagged["status"])
    assert flagged["contamination_method"][0] in ("ngram", "minhash") and flagged["contamination_score"][0] > 0
    manifest = recipe.verify_manifest(folder_of(out_dir))
    for entry in manifest["files"]:
        if entry["container"] == "jsonl":
            text = (folder_of(out_dir) / entry["path"]).read_text()
            assert target not in text, entry["path"]


@pytest.mark.parametrize(
    "config, pattern",
    [
        ({"tokenizer": "/no/such/tokenizer-dir"}, r"setting tokenizer='/no/such/tokenizer-dir'"),
        ({"keep": "best"}, r"setting keep"),
    ],
)
def test_bad_settings_fail_with_one_message(built, config, pattern):
    data_dir, _ = built
    result = materialize(
        data_dir, ["training_shards"], run_config={"ops": {"training_shards": {"config": config}}}, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert re.search(pattern, failure.step_failure_data.error.message), failure.step_failure_data.error.message


def test_malformed_benchmark_file_fails_naming_the_file(built, tmp_path):
    data_dir, _ = built
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"question_id": "x"\n')
    result = materialize(
        data_dir,
        ["training_shards"],
        raise_on_error=False,
        run_config={"ops": {"training_shards": {"config": {"benchmark_paths": [str(bad)]}}}},
    )
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert re.search(r"benchmark_paths.*broken\.jsonl:1", failure.step_failure_data.error.message)


# ---- generation batches ----------------------------------------------------------------------------

BATCH_STAGE = ["feature_configs", "problems", "test_inputs", "candidate_solutions", "verified_solutions"]


def _copy(data_dir, tmp_path):
    out = tmp_path / "data"
    shutil.copytree(data_dir, out)
    return out


def test_training_shards_read_every_batch_or_the_selected_ones(built, tmp_path):
    data_dir = _copy(built[0], tmp_path)
    second = materialize_in_batch(
        [*dg.load_assets_from_modules(MODULES), *dg.load_asset_checks_from_modules(MODULES)],
        selection=BATCH_STAGE,
        batch="second",
        run_config={"ops": {"feature_configs": {"config": {"count": 12}}}},
        resources={
            "storage": StorageResource(data_dir=str(data_dir)),
            "llm": LLMGatewayResource(),
            "sandbox": SandboxResource(),
        },
    )
    assert second.success
    # the batches draw apart (their own seed offsets): no configuration of one is in the other
    configs = {
        k: pl.read_parquet(synthesis.FEATURE_CONFIGS.path(batch_dir(data_dir, k))) for k in (TEST_BATCH, "second")
    }
    assert configs["second"].height == 12
    assert not set(configs["second"]["config_id"]) & set(configs[TEST_BATCH]["config_id"])
    assert configs["second"]["seed"][0] != configs[TEST_BATCH]["seed"][0]

    both = metadata_of(materialize(data_dir, ["training_shards"]), "training_shards")
    assert both["batches_read"] == sorted(["second", TEST_BATCH])
    # incremental: demo's part was planned by the first materialization; only the new batch is read now
    assert (
        both["batches_planned"] == ["second"]
        and both["rows_read"]["verified_solutions"]
        == (
            pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(data_dir, "second"))).filter(
                pl.col("status") == "verified"
            )
        ).height
    )
    incremental = pl.read_parquet(TRAINING_SHARDS.path(data_dir)).drop("run_id")
    # the same batches from nothing (no part, no index): the same rows and the same version, file for file
    scratch = tmp_path / "scratch"
    shutil.copytree(data_dir, scratch, ignore=shutil.ignore_patterns("training_shards", "training_mixtures"))
    fresh = metadata_of(materialize(scratch, ["training_shards"]), "training_shards")
    assert fresh["batches_planned"] == sorted(["second", TEST_BATCH])
    assert pl.read_parquet(TRAINING_SHARDS.path(scratch)).drop("run_id").equals(incremental)
    assert fresh["manifest"] == both["manifest"]
    version = both["shards_version"]
    for entry in both["manifest"]["files"]:  # the version's files are the parts' files, linked
        assert (data_dir / "training_shards" / version / entry["path"]).samefile(
            data_dir / "training_shards" / "_parts" / entry["part"] / entry["part_path"]
        )
    assert load_shards(data_dir / "training_shards" / version).version == version
    verified = {
        k: pl.read_parquet(VERIFIED_SOLUTIONS.path(batch_dir(data_dir, k))).filter(pl.col("status") == "verified")
        for k in (TEST_BATCH, "second")
    }
    shards = pl.read_parquet(TRAINING_SHARDS.path(data_dir))
    assert set(shards["verified_id"]) == set(verified[TEST_BATCH]["verified_id"]) | set(
        verified["second"]["verified_id"]
    )

    only = materialize(
        data_dir,
        ["training_shards", "training_mixtures"],
        run_config={"ops": {"training_shards": {"config": {"batches": ["second"], "keep_versions": 1}}}},
    )
    only_meta = metadata_of(only, "training_shards")
    assert only_meta["batches_read"] == ["second"]
    assert only_meta["batches_planned"] == ["second"]  # first in its chain now: planned against nothing before it
    # retention keep_versions=1: the other versions, their mixtures and the parts only they used are gone
    assert (
        only_meta["retention"]["kept"] == [only_meta["shards_version"]] and version in only_meta["retention"]["removed"]
    )
    on_disk = {p.name for p in (data_dir / "training_shards").iterdir() if (p / "manifest.json").is_file()}
    assert on_disk == {only_meta["shards_version"]}
    assert {p.name for p in (data_dir / "training_mixtures").iterdir()} == {only_meta["shards_version"]}
    assert [p.name for p in (data_dir / "training_shards" / "_parts").iterdir()] == [
        only_meta["manifest"]["created_from"]["parts"]["second"]
    ]
    assert set(pl.read_parquet(TRAINING_SHARDS.path(data_dir))["verified_id"]) == set(verified["second"]["verified_id"])

    unknown = materialize(
        data_dir,
        ["training_shards"],
        raise_on_error=False,
        run_config={"ops": {"training_shards": {"config": {"batches": ["nope"]}}}},
    )
    (failure,) = [e for e in unknown.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "setting batches: unknown batch(es) nope: the batches are demo, second" in (
        failure.step_failure_data.user_failure_data.description
    )
    # a part is keyed by content: the same bytes written again (a new mtime) plan nothing; other rows re-plan it
    path = VERIFIED_SOLUTIONS.path(batch_dir(data_dir, "second"))
    original = pl.read_parquet(path)
    rebuilt = metadata_of(materialize(data_dir, ["training_shards"]), "training_shards")
    # keep_versions=1 removed both's parts: planned again, to the same version
    assert rebuilt["batches_planned"] == sorted(["second", TEST_BATCH])
    assert rebuilt["shards_version"] == both["shards_version"]
    path.write_bytes(path.read_bytes())
    again = metadata_of(materialize(data_dir, ["training_shards"]), "training_shards")
    assert again["batches_planned"] == [] and again["shards_version"] == both["shards_version"]
    dropped = verified["second"]["verified_id"][0]
    original.filter(pl.col("verified_id") != dropped).write_parquet(path)
    changed = metadata_of(materialize(data_dir, ["training_shards"]), "training_shards")
    assert changed["batches_planned"] == ["second"] and changed["shards_version"] != both["shards_version"]
    assert dropped not in set(pl.read_parquet(TRAINING_SHARDS.path(data_dir))["verified_id"])


def test_a_failed_blocking_check_stops_training_shards_and_leaves_the_batch_out(built, tmp_path):
    data_dir = _copy(built[0], tmp_path)
    gate = {"ops": {"verified_solutions": {"config": {"min_verified_test_share": 1.01}}}}
    result = materialize(data_dir, ["verified_solutions", "training_shards"], run_config=gate, raise_on_error=False)
    (check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "verified_test_share"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert [e.asset_key.path[-1] for e in result.get_asset_materialization_events()] == ["verified_solutions"]
    # verified_solutions' rows are kept (nothing is lost), but no later training_shards reads the batch
    assert VERIFIED_SOLUTIONS.path(batch_dir(data_dir, TEST_BATCH)).exists()
    later = materialize(data_dir, ["training_shards"], raise_on_error=False)
    (failure,) = [e for e in later.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert "no generation batch has verified solutions yet; blocked: demo (verified_test_share" in message
    assert "< 1.01)" in message
