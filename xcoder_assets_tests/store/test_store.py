import base64
import json
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import polars as pl
import pytest

from xcoder_assets.store import warehouse
from xcoder_assets.store.checkpoints import JsonlCheckpoint
from xcoder_assets.present.figures import LLMFigures, SandboxFigures
from xcoder_assets.store.ids import kind_of, make_id
from xcoder_assets.store.parquet import SchemaMismatch, conform, write_parquet, write_table
from xcoder_assets.present.progress import ProgressMeter, accepts_progress, with_progress
from xcoder_assets.store.settings import read_settings, record_settings
from xcoder_assets.store.tables import FEATURES, SEED_PROBLEMS, SEED_REJECTS
from xcoder_assets.present.ui import bar_panels, column_chart, line_chart, markdown_image, table_or_none


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
    return {
        "seed_id": seed_id,
        "source": "s",
        "source_line": 1,
        "question": question,
        "solution": "print(1)",
        "solutions_count": 1,
        "difficulty": None,
        "run_id": "r1",
    }


def test_views_lineage_and_trace(data_dir):
    seed = make_id("seed", "q1")
    write_parquet(pl.DataFrame([_seed_row(seed, "q1")], schema=SEED_PROBLEMS.schema), SEED_PROBLEMS.path(data_dir))
    feat = make_id("feat", "f", [seed])
    write_parquet(
        pl.DataFrame(
            [
                {
                    "feature_id": feat,
                    "seed_id": seed,
                    "status": "ok",
                    "error": None,
                    "tree_json": "{}",
                    "leaf_count": 0,
                    "categories": [],
                    "llm_call_id": "call-0000000000000001",
                    "model": "m",
                    "template": "t@v1",
                    "run_id": "r1",
                }
            ],
            schema=FEATURES.schema,
        ),
        FEATURES.path(data_dir),
    )
    con = warehouse.connect(data_dir)
    assert dict(warehouse.funnel(con)) == {
        "seed_problems": 1,
        "features": 1,
        "feature_tree": 0,
        "evolved_pool": 0,
        "feature_configs": 0,
        "problems": 0,
        "test_inputs": 0,
        "candidate_solutions": 0,
        "verified_solutions": 0,
        "training_shards": 0,
        "lcb_problems": 0,
        "benchmark_scores": 0,
        "trained_model_scores": 0,
    }
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


# ---- progress, figures, charts, settings records, checkpoints -------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_meter_is_throttled_and_closes_once():
    clock, lines = Clock(), []
    meter = ProgressMeter("verified_solutions: sandbox runs", lines.append, interval_s=5.0, clock=clock)
    clock.now = 1.0
    meter.update(100, 2751, 90)  # too soon: nothing
    clock.now = 6.0
    meter.update(1200, 2751, 900)
    assert lines == [
        "verified_solutions: sandbox runs 1,200/2,751 (44%), 300 new at 50/s, 900 from cache (identical to earlier work)"
    ]
    clock.now = 7.0
    meter.update(1300, 2751, 900)  # within 5 s of the last line
    clock.now = 12.0
    meter.update(2751, 2751, 900)  # the end: the closing line, at once
    meter.finish(2751, 2751, 900)  # and only once
    assert len(lines) == 2 and lines[1].endswith("900 from cache (identical to earlier work) in 12.0 s")
    assert "1,851 new at 154/s" in lines[1]


def test_progress_meter_counts_runs_not_run_apart_and_says_nothing_for_no_work():
    lines = []
    meter = ProgressMeter("sandbox runs", lines.append, new="run", cached="from cache (identical to an earlier run)")
    meter.finish(2785, 2785, 2726, not_run=59)
    assert lines[0].startswith("sandbox runs 2,785/2,785 (100%), 0 run at 0.0/s, 2,726 from cache")
    assert "59 not run (skipped after a time limit" in lines[0]
    idle = []
    ProgressMeter("LLM calls", idle.append).finish(0, 0, 0)
    assert idle == []


def test_progress_meter_takes_updates_from_threads():
    lines = []
    meter = ProgressMeter("runs", lines.append, interval_s=0.0)
    done = iter(range(1, 1001))
    lock = threading.Lock()

    def worker():
        for _ in range(250):
            with lock:
                n = next(done)
            meter.update(n, 1000, 0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    meter.finish()
    assert sum(1 for line in lines if " in " in line.rsplit(",", 1)[-1]) == 1


def test_progress_is_passed_only_to_callees_that_take_it():
    def with_hook(items, on_progress=None):
        for i, _ in enumerate(items, 1):
            on_progress(i, len(items), 0)
        return len(items)

    def without_hook(items):
        return len(items)

    lines = []
    assert accepts_progress(with_hook) and not accepts_progress(without_hook)
    meter = ProgressMeter("x", lines.append, interval_s=1e9)
    assert with_progress(with_hook, meter, [1, 2, 3]) == 3 and lines[-1].startswith("x 3/3 (100%)")
    meter = ProgressMeter("y", lines.append, interval_s=1e9)
    assert with_progress(without_hook, meter, [1, 2]) == 2 and not lines[-1].startswith("y")


@dataclass
class Call:
    cache_hit: bool = False
    attempts: int = 1
    error: str | None = None
    truncated: bool = False
    prompt_tokens: int = 10
    completion_tokens: int = 5
    cost_usd: float = 0.01


def test_llm_figures_add_up_and_keep_cached_tokens_apart():
    calls = [
        Call(),
        Call(attempts=3, error="timeout", prompt_tokens=0, completion_tokens=0, cost_usd=0.0),
        Call(cache_hit=True, attempts=0, prompt_tokens=100, completion_tokens=50),
        Call(attempts=0, error="shared request failed", prompt_tokens=0, completion_tokens=0, cost_usd=0.0),
    ]
    figures = LLMFigures.of(calls)
    assert (figures.requests, figures.made, figures.from_cache, figures.not_sent) == (4, 2, 1, 1)
    assert figures.failed == 1 and figures.retries == 2
    assert (figures.prompt_tokens_spent, figures.prompt_tokens_cached, figures.completion_tokens_cached) == (
        10,
        100,
        50,
    )
    meta = figures.metadata()
    assert (
        meta["llm_requests_sum"]
        == "4 requests = 2 calls made + 1 from the cache + 1 not sent (an identical request failed)"
    )
    assert (figures + figures).requests == 8


@dataclass
class Outcome:
    status: str


@dataclass
class Stats:
    runs: int
    executed: int
    cached: int
    seconds: float = 2.0


def test_sandbox_figures_name_every_run():
    outcomes = [
        [Outcome("ok"), Outcome("time_limit"), Outcome("abandoned"), Outcome("abandoned")],
        [Outcome("compile_error"), Outcome("compile_error")],
        [Outcome("ok"), Outcome("sandbox_failure")],
    ]
    figures = SandboxFigures.of(Stats(runs=8, executed=3, cached=0), outcomes)
    assert (figures.executed, figures.skipped, figures.not_compiled, figures.sandbox_failures) == (3, 2, 2, 1)
    meta = figures.metadata()
    assert meta["sandbox_runs"] == 8 and meta["sandbox_runs_sum"].startswith(
        "8 runs = 3 executed + 0 from the run cache"
    )
    assert figures.unexplained == 0
    wrong = SandboxFigures.of(Stats(runs=8, executed=8, cached=3), outcomes)  # a counting bug is shown, not hidden
    assert wrong.unexplained == -6 and wrong.metadata()["sandbox_runs_sum"].endswith("+ -6 unexplained")


def _svg_of(markdown: str) -> ET.Element:
    data = markdown.split("data:image/svg+xml;base64,", 1)[1].rstrip(")")
    return ET.fromstring(base64.b64decode(data))


def test_charts_are_svg_images_in_markdown():
    svg = bar_panels(
        "funnel",
        [
            ("problems", [("problems", 48), ("with tests", 40)]),
            ("solutions", [("usable candidates", 300), ("verified solutions", 120)]),
        ],
    )
    image = markdown_image(svg, "verification funnel")
    assert image.startswith("![verification funnel](data:image/svg+xml;base64,")
    root = _svg_of(image)
    bars = [float(r.get("width")) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    # each panel on its own scale: the largest bar of each is full width
    assert bars[0] == bars[2] and bars[1] < bars[0] and bars[3] < bars[2]
    for chart in (
        column_chart("agreement", [("0-0.5", 3), ("0.5-1", 0)], "agreement", "tests"),
        line_chart("pool", [(1, 10), (2, 14), (3, 20)], "round", "features"),
        line_chart("empty", [], "x", "y"),
    ):
        ET.fromstring(chart)  # well-formed


SVG = "{http://www.w3.org/2000/svg}"


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def test_a_line_chart_of_one_point_shows_the_point_on_a_real_axis():
    root = ET.fromstring(line_chart("history", [(1.0, 60.94)], "run", "pass@1 %", note="one run so far"))
    (dot,) = list(root.iter(f"{SVG}circle"))
    assert 30 <= float(dot.get("cy")) <= 30 + 166  # inside the plot, not on its edge
    labels = _texts(root)
    assert "one run so far" in labels and "60.94" in labels
    top, bottom = float(labels[labels.index("60.94") + 1].replace(",", "")), float(labels[labels.index("60.94") + 2])
    assert bottom < 60.94 < top  # an axis around the value, not 60.94 .. 60.94
    fixed = ET.fromstring(line_chart("h", [(1.0, 60.94)], "run", "%", y_range=(0, 100)))
    assert {"0", "100"} <= set(_texts(fixed))
    several = ET.fromstring(line_chart("h", [(1, 10), (2, 14), (3, 20)], "run", "n"))
    assert len(list(several.iter(f"{SVG}circle"))) == 3 and list(several.iter(f"{SVG}polyline"))
    assert "no data" in _texts(ET.fromstring(line_chart("empty", [], "x", "y")))


def test_a_bar_without_a_value_says_so_instead_of_drawing_zero():
    root = ET.fromstring(
        bar_panels(
            "pass@1", [("by window", [("v5 (3 problems)", 50.0), ("v6 (0 problems)", None)])], missing="no problems"
        )
    )
    assert len(list(root.iter(f"{SVG}rect"))) == 1  # only the window with problems has a bar
    labels = _texts(root)
    assert "no problems" in labels and "0" not in labels


def test_benchmark_charts_name_empty_windows_and_a_single_run():
    import polars as pl

    from xcoder_assets.defs.benchmark import _chart, _history_chart

    scored = {
        "n": 2,
        "model": "m",
        "by_difficulty": {"easy": 0.5},
        "by_window": {
            "v5": {"pass@1": 0.25, "problems": 4, "start": "2024-08-01", "end": "2025-02-01"},
            "v6": {"pass@1": None, "problems": 0, "start": "2025-02-01", "end": "2025-05-01"},
        },
    }
    chart = _texts(_svg_of(_chart(scored)))
    assert "no problems" in chart and "25" in chart and "0" not in chart
    history = pl.DataFrame({"group": ["overall"], "evaluated_at": ["2026-12-06"], "pass_at_1": [0.6094]})
    markdown = _history_chart(history)
    assert "one run so far" in markdown and list(_svg_of(markdown).iter(f"{SVG}circle"))


def test_empty_tables_say_none():
    assert (
        table_or_none([], ["reason", "problems"], "none: no problem was rejected") == "_none: no problem was rejected_"
    )
    assert table_or_none([("x", 1)], ["reason", "problems"]).startswith("| reason | problems |")


def test_settings_record_keeps_run_config_apart(tmp_path):
    record_settings(
        tmp_path, "verified_solutions", {"min_agreement": 0.5}, {"sandbox": {"cpu_s": 2.0}}, {"template": "solve@v1"}
    )
    record = read_settings(tmp_path, "verified_solutions")
    assert record["run_config"] == {"min_agreement": 0.5} and record["resources"] == {"sandbox": {"cpu_s": 2.0}}
    assert record["made_with"] == {"template": "solve@v1"} and "run config" in record["note"]
    with pytest.raises(FileNotFoundError, match="materialize features first"):
        read_settings(tmp_path, "features")


def test_checkpoint_replays_its_own_records_only(tmp_path):
    path = tmp_path / "c.jsonl"
    checkpoint = JsonlCheckpoint(path, "a")
    checkpoint.start()
    checkpoint.append({"round": 1})
    checkpoint.append({"round": 2})
    with open(path, "a") as handle:
        handle.write('{"round": 3, "cut o')  # interrupted mid-line
    assert JsonlCheckpoint(path, "a").records() == [{"round": 1}, {"round": 2}]
    assert JsonlCheckpoint(path, "b").records() == [] and not path.exists()  # another computation's


def test_write_table_refuses_repeated_ids(tmp_path):
    rows = [
        {
            "seed_id": "seed-1",
            "source": "s",
            "source_line": 1,
            "question": "q",
            "solution": "print(1)",
            "solutions_count": 1,
            "difficulty": None,
            "run_id": "r",
        }
    ]
    write_table(SEED_PROBLEMS, pl.DataFrame(rows, schema=SEED_PROBLEMS.schema), tmp_path)
    with pytest.raises(SchemaMismatch, match="repeated: \\['seed-1'\\]"):
        write_table(SEED_PROBLEMS, pl.DataFrame(rows * 2, schema=SEED_PROBLEMS.schema), tmp_path)
    rejects = [
        {"source": "a", "source_line": 1, "reason": "x", "raw": "{", "run_id": "r"},
        {"source": "b", "source_line": 1, "reason": "x", "raw": "{", "run_id": "r"},
    ]
    write_table(SEED_REJECTS, pl.DataFrame(rejects, schema=SEED_REJECTS.schema), tmp_path)  # lines repeat across files
    assert json.loads(json.dumps(SEED_PROBLEMS.columns))["seed_id"]
