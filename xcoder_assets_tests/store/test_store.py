import polars as pl
import pytest

from xcoder_assets.store import warehouse
from xcoder_assets.store.ids import kind_of, make_id
from xcoder_assets.store.parquet import SchemaMismatch, conform, write_parquet
from xcoder_assets.store.tables import FEATURES, SEED_PROBLEMS


def test_ids_are_stable_and_depend_on_content_and_parents():
    a = make_id("seed", {"q": "x"})
    assert a == make_id("seed", {"q": "x"})
    assert a != make_id("seed", {"q": "y"})
    assert make_id("feat", "c", ["seed-1"]) != make_id("feat", "c", ["seed-2"])
    assert make_id("feat", "c", ["a", "b"]) == make_id("feat", "c", ["b", "a"])
    assert kind_of(a) == "seed" and a.startswith("seed-") and len(a) == len("seed-") + 16


def test_kind_of_rejects_non_ids():
    assert kind_of("seed-xyz") is None
    assert kind_of("nope-0123456789abcdef") is None
    assert kind_of("seed-0123456789abcdeg") is None
    with pytest.raises(ValueError, match="unknown id kind"):
        make_id("bogus", "x")


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    write_parquet(pl.DataFrame({"a": [1, 2]}), path)

    def explode(self, file, **kwargs):
        open(file, "wb").write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pl.DataFrame, "write_parquet", explode)
    with pytest.raises(KeyboardInterrupt):
        write_parquet(pl.DataFrame({"a": [3]}), path)
    monkeypatch.undo()
    assert pl.read_parquet(path)["a"].to_list() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_conform_names_missing_and_extra_columns():
    with pytest.raises(SchemaMismatch, match=r"missing columns \['b'\], unexpected columns \['c'\]"):
        conform(pl.DataFrame({"a": [1], "c": [2]}), {"a": pl.Int64, "b": pl.Int64}, "demo")
    with pytest.raises(SchemaMismatch, match="declared types"):
        conform(pl.DataFrame({"a": ["x"]}), {"a": pl.Int64}, "demo")


def _seed_row(seed_id, question):
    return {"seed_id": seed_id, "source": "s", "source_line": 1, "question": question, "solution": "print(1)",
            "solutions_count": 1, "difficulty": None, "run_id": "r1"}


def test_views_lineage_and_trace(data_dir):
    seed = make_id("seed", "q1")
    write_parquet(pl.DataFrame([_seed_row(seed, "q1")], schema=SEED_PROBLEMS.schema), SEED_PROBLEMS.path(data_dir))
    feat = make_id("feat", "f", [seed])
    write_parquet(
        pl.DataFrame([{"feature_id": feat, "seed_id": seed, "status": "ok", "error": None, "tree_json": "{}",
                       "leaf_count": 0, "categories": [], "llm_call_id": "call-0000000000000001", "model": "m",
                       "template": "t@v1", "run_id": "r1"}], schema=FEATURES.schema),
        FEATURES.path(data_dir),
    )
    con = warehouse.connect(data_dir)
    assert dict(warehouse.funnel(con)) == {"seed_problems": 1, "features": 1, "feature_tree": 0, "evolved_pool": 0,
                                           "feature_configs": 0, "problems": 0, "test_inputs": 0,
                                           "candidate_solutions": 0, "verified_solutions": 0}
    chain = warehouse.trace(con, feat)
    assert [(s["asset"], s["row_id"]) for s in chain] == [("features", feat), ("seed_problems", seed)]
    assert chain[0]["parent_ids"] == [seed]
    assert warehouse.trace(con, "seed-0000000000000000") == []
    path = warehouse.refresh_warehouse_file(data_dir)
    import duckdb

    with duckdb.connect(str(path), read_only=True) as persisted:
        assert persisted.execute("SELECT count(*) FROM seed_problems").fetchone()[0] == 1


def test_connect_names_a_missing_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        warehouse.connect(tmp_path / "nope")
