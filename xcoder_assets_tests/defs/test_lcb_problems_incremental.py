"""lcb_problems materialized night after night: only the new batch's verified problems are parsed, the table
holds every source's rows as one load of all of them would."""

import shutil

import dagster as dg
import polars as pl

from xcoder_assets.defs.benchmark import BUNDLED_LABEL, BUNDLED_SAMPLE, VERIFIED_LABEL, lcb_problems
from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.recipe.benchmark import load_problems
from xcoder_assets.store.tables import LCB_PROBLEMS, batch_dir, verified_problems_path
from xcoder_assets_tests.recipe.test_lcb_sources import copy_of


def run(data_dir, config=None):
    result = dg.materialize(
        [lcb_problems],
        resources={"storage": StorageResource(data_dir=str(data_dir))},
        run_config={"ops": {"lcb_problems": {"config": config or {}}}},
    )
    (event,) = result.asset_materializations_for_node("lcb_problems")
    return {k: v.value for k, v in event.metadata.items()}


def add_night(data_dir, tmp_path, night):
    path = verified_problems_path(batch_dir(data_dir, f"night-{night}"))
    path.parent.mkdir(parents=True)
    shutil.copy(copy_of(BUNDLED_SAMPLE, tmp_path, f"n{night}.jsonl", f"n{night}", f"2025-0{night}-01T00:00:00"), path)
    return path


def test_each_night_parses_only_its_own_file(tmp_path):
    data_dir = tmp_path / "data"
    first = add_night(data_dir, tmp_path, 1)
    one = run(data_dir)
    assert one["sources_parsed"] == [str(BUNDLED_SAMPLE), str(first)] and one["problems"] == 6
    second = add_night(data_dir, tmp_path, 2)
    two = run(data_dir)
    assert two["sources_parsed"] == [str(second)] and two["sources_reused"] == 2 and two["rows_parsed"] == 3
    table = pl.read_parquet(LCB_PROBLEMS.path(data_dir))
    expected = load_problems([(BUNDLED_SAMPLE, BUNDLED_LABEL), (first, VERIFIED_LABEL), (second, VERIFIED_LABEL)])
    assert table["question_id"].to_list() == [p.question_id for p in expected.problems]
    assert table["run_id"].n_unique() == 1  # every row stamped with this run, stored or parsed
    # a window is applied at assembly: nothing parsed again
    window = run(data_dir, {"start_date": "2025-02-01"})
    assert (
        window["sources_parsed"] == [] and window["problems"] == 3 and window["outside_window"] == 6
    )  # night 1 and the undated sample
