"""LiveCodeBench as data and as a benchmark: rows, releases, extraction, scores, and parity of whole
evaluations with the official harness (run live, in a process of its own)."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from xcoder_assets.recipe.benchmark import (
    PAPER_WINDOWS,
    BenchmarkInputError,
    DateWindow,
    Generation,
    ProblemResult,
    eval_all_file,
    extract_lcb_code,
    generation_from_answer,
    load_problems,
    parse_windows,
    problem_from_record,
    release_files,
    scores,
)
from xcoder_assets.recipe.evaluation import evaluate_generations, problem_from_row, problem_rows, write_lcb_outputs
from xcoder_assets_tests.lcb_cases import LCB_SAMPLES, parity_inputs, stdin_problem
from xcoder_assets_tests.recipe.official_scores import official_scores

HERE = Path(__file__).resolve().parent


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


# ---- releases and rows ---------------------------------------------------------------------------


def test_release_tags_name_the_dataset_files():
    assert release_files("release_v1") == ["test.jsonl"]
    assert release_files("release_v3") == ["test.jsonl", "test2.jsonl", "test3.jsonl"]
    assert release_files("release_latest")[-1] == "test6.jsonl"
    assert release_files("v5") == ["test5.jsonl"]
    assert release_files("v4_v6") == ["test4.jsonl", "test5.jsonl", "test6.jsonl"]


@pytest.mark.parametrize("tag", ["release_v7", "v0", "latest", "v6_v5", ""])
def test_an_unknown_release_is_one_clear_error(tag):
    with pytest.raises(BenchmarkInputError, match="unknown LiveCodeBench release"):
        release_files(tag)


def test_the_real_sample_rows_load_with_their_hidden_tests():
    loaded = load_problems([(LCB_SAMPLES, "sample")])
    by_id = {p.question_id: p for p in loaded.problems}
    assert set(by_id) == {"1873_A", "2727", "abc301_a"}
    assert by_id["2727"].mode == "functional" and by_id["2727"].func_name == "countSeniors"
    assert by_id["1873_A"].mode == "stdin" and by_id["1873_A"].platform == "codeforces"
    for problem in by_id.values():
        assert problem.public_tests and problem.private_tests  # private ones decoded from base64/zlib/pickle
        assert problem.location.startswith(str(LCB_SAMPLES))


def test_rows_round_trip_through_the_table():
    problems = load_problems([(LCB_SAMPLES, "sample")]).problems
    back = [problem_from_row(r) for r in pl.DataFrame(problem_rows(problems, "run")).iter_rows(named=True)]
    assert back == problems


def test_a_malformed_row_names_file_and_line(tmp_path):
    good = json.loads(LCB_SAMPLES.read_text().splitlines()[0])
    path = _write_jsonl(tmp_path / "test.jsonl", [good, "{not json", dict(good, question_id="x", difficulty="brutal")])
    with pytest.raises(BenchmarkInputError, match=rf"{path}:2: .*not valid JSON"):
        load_problems([(path, "v1")])
    loaded = load_problems([(path, "v1")], skip_bad_records=True)
    assert [p.question_id for p in loaded.problems] == ["1873_A"]
    assert [(r.location, r.question_id) for r in loaded.rejected] == [(f"{path}:2", None), (f"{path}:3", "x")]
    assert "difficulty 'brutal'" in loaded.rejected[1].reason


def test_a_row_without_tests_is_refused(tmp_path):
    row = dict(stdin_problem("empty", []), question_content="say hi")
    with pytest.raises(ValueError, match="no tests"):
        problem_from_record(row, source="x", location="here")
    path = _write_jsonl(tmp_path / "t.jsonl", [row])
    assert load_problems([(path, "x")], skip_bad_records=True).rejected[0].reason.startswith("the row has no tests")


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(BenchmarkInputError, match="no such file"):
        load_problems([(tmp_path / "absent.jsonl", "v1")])


def test_date_window_filter_is_inclusive_and_parquet_reads_the_same(tmp_path):
    base = json.loads(LCB_SAMPLES.read_text().splitlines()[2])
    rows = [dict(base, question_id=f"q{d}", contest_date=f"2024-08-0{d}T00:00:00") for d in (1, 2, 3)]
    jsonl = _write_jsonl(tmp_path / "test5.jsonl", rows)
    parquet = tmp_path / "test5.parquet"
    pl.DataFrame(rows).write_parquet(parquet)
    for path in (jsonl, parquet):
        loaded = load_problems([(path, "v5")], start=date(2024, 8, 2), end=date(2024, 8, 3))
        assert [p.question_id for p in loaded.problems] == ["q2", "q3"] and loaded.outside_window == 1


def test_windows_parse_and_refuse_bad_dates():
    windows = parse_windows(PAPER_WINDOWS)
    assert windows[0] == DateWindow("v5", date(2024, 8, 1), date(2025, 2, 1))
    assert windows[0].holds(date(2025, 2, 1)) and not windows[0].holds(date(2025, 2, 2)) and not windows[0].holds(None)
    with pytest.raises(BenchmarkInputError, match="window 'x'.*not an ISO date"):
        parse_windows({"x": ["2024-13-01", None]})
    with pytest.raises(BenchmarkInputError, match="after end"):
        parse_windows({"x": ["2025-01-01", "2024-01-01"]})


# ---- answers --------------------------------------------------------------------------------------

ANSWERS = [
    "```python\nprint(1)\n```",
    "Idea first.\n```python\nprint(1)\n```\nthen a better one\n```python\nprint(2)\n```\n",
    "<think>```python\nprint(0)\n```</think>\nfinal:\n```\nprint(3)\n```",
    "no code at all",
    "```python\nprint(1)",  # cut off: one fence line
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_code_extraction_is_the_official_one(answer):
    from livecodebench.lm_styles import LMStyle
    from livecodebench.utils.extraction_utils import extract_code

    assert extract_lcb_code(answer) == extract_code(answer, LMStyle.OpenAIChat)


def test_failed_generations_are_typed():
    assert generation_from_answer(None, None, "HTTP 500").status == "error"
    assert generation_from_answer("prose", "stop", None).status == "no_code"
    assert generation_from_answer("```python\nprint(1)\n```", "length", None).status == "truncated"
    assert generation_from_answer("```python\nprint(1)\n```", "stop", None) == Generation(
        "```python\nprint(1)\n```", "print(1)", "ok"
    )


# ---- scores ---------------------------------------------------------------------------------------


def _result(
    qid: str, difficulty: str, when: date | None, graded: list[bool], platform: str = "atcoder"
) -> ProblemResult:
    row = dict(
        stdin_problem(qid, [("1\n", "1\n")]),
        difficulty=difficulty,
        platform=platform,
        contest_date=when.isoformat() if when else "",
    )
    problem = problem_from_record(row, source="t", location="t")
    ok = Generation("x", "x", "ok")
    return ProblemResult(
        problem, tuple(ok for _ in graded), tuple(graded), tuple((True,) for _ in graded), tuple({} for _ in graded)
    )


def test_scores_average_per_problem_then_over_problems():
    results = [
        _result("a", "easy", date(2024, 9, 1), [True, True, True, False]),  # 0.75
        _result("b", "easy", date(2025, 3, 1), [False, False, False, False]),  # 0.0
        _result("c", "hard", date(2024, 7, 1), [True, False, False, False], platform="leetcode"),  # 0.25
        _result("d", "medium", None, [True, True, True, True]),  # 1.0, no date
    ]
    scored = scores(results, parse_windows(PAPER_WINDOWS), cutoff=date(2024, 8, 15))
    assert scored["pass@1"] == pytest.approx(0.5) and scored["problems"] == 4 and scored["n"] == 4
    assert scored["by_difficulty"] == {"easy": pytest.approx(0.375), "hard": 0.25, "medium": 1.0}
    assert scored["by_platform"] == {"atcoder": pytest.approx(7 / 12), "leetcode": 0.25}
    assert scored["by_window"]["v5"]["pass@1"] == 0.75 and scored["by_window"]["v5"]["problems"] == 1
    assert scored["by_window"]["v6"]["pass@1"] == 0.0
    gap = scored["contamination"]
    assert (gap["pass@1_before"], gap["pass@1_after"]) == (0.25, pytest.approx(0.375)) and gap["gap"] == pytest.approx(
        -0.125
    )
    assert scored["undated_problems"] == 1


# ---- whole evaluations against the official harness -------------------------------------------------


@pytest.fixture(scope="module")
def parity(bwrap_backend, tmp_path_factory):
    """Every known case (the three real problems and our own edge problems, correct and wrong programs),
    grouped into code lists per problem, scored by us and by the official custom-evaluator code."""
    pytest.importorskip("livecodebench.evaluation.compute_code_generation_metrics")
    chosen, code_lists = parity_inputs()
    official = official_scores(
        chosen, [code_lists[r["question_id"]] for r in chosen], tmp_path_factory.mktemp("official") / "scores.json"
    )
    problems = [problem_from_record(r, source="t", location=r["question_id"]) for r in chosen]
    ours = evaluate_generations(problems, code_lists, bwrap_backend, workers=2)
    return chosen, official, ours


def test_evaluation_gives_the_official_pass_at_1_per_problem_and_overall(parity):
    chosen, official, ours = parity
    by_id = {r.problem.question_id: r for r in ours.results}
    for index, row in enumerate(chosen):
        assert by_id[row["question_id"]].pass_at_1 == pytest.approx(official["detail"][str(index)]), row["question_id"]
        assert [list(t) for t in by_id[row["question_id"]].test_results] == official["results"][str(index)]
    assert scores(ours.results, [])["pass@1"] == pytest.approx(official["pass@1"])


def test_the_official_compute_scores_reads_our_files_unchanged(parity, tmp_path):
    _, official, ours = parity
    files = write_lcb_outputs(ours.results, scores(ours.results, []), tmp_path)
    assert json.loads(files["eval_all"].read_text()) == eval_all_file(ours.results)
    script = (
        "import sys, types\nfrom livecodebench.evaluation.compute_scores import compute_scores\n"
        "compute_scores(types.SimpleNamespace(eval_all_file=sys.argv[1], start_date=None, end_date=None,"
        " platform=None))\n"
    )
    undated = json.loads(files["lcb_eval_all"].read_text())
    for entry in undated:  # compute_scores parses every date; ours leaves undated rows empty
        entry["contest_date"] = entry["contest_date"] or "2023-01-01T00:00:00"
    files["lcb_eval_all"].write_text(json.dumps(undated))
    run = subprocess.run(
        [sys.executable, "-c", script, str(files["lcb_eval_all"])], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = [line for line in run.stdout.splitlines() if line.startswith("Pass@1:")]
    assert float(printed[0].split(":")[1]) == pytest.approx(official["pass@1"])


# ---- fetching a release from the Hub (offline: a local Hub cache in the repo's own layout) --------


def _hub_cache(root: Path, files: dict[str, str]) -> Path:
    repo = root / "datasets--livecodebench--code_generation_lite"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    for name, text in files.items():
        (snapshot / name).write_text(text)
    return root


def test_a_release_is_fetched_as_raw_files_and_a_missing_one_is_named(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from xcoder_assets.recipe.benchmark import fetch_release

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # never the network in tests
    cache = _hub_cache(tmp_path, {"test.jsonl": LCB_SAMPLES.read_text()})
    paths = fetch_release("release_v1", cache_dir=cache)
    assert [p.name for p in paths] == ["test.jsonl"]
    assert len(load_problems([(p, "release_v1") for p in paths]).problems) == 3
    with pytest.raises(BenchmarkInputError, match="file test2.jsonl \\(release release_v2\\): cannot fetch it"):
        fetch_release("release_v2", cache_dir=cache)


# ---- score_model: the loop benchmark_scores and `xcoder eval` share --------------------------------


class ScriptedCompleter:
    """ "Complete these requests" without a gateway: answers by problem and sample seed, counted."""

    def __init__(self, answers: dict[str, list[str]], max_in_flight: int = 8) -> None:
        from types import SimpleNamespace

        self.answers, self.asked = answers, []
        self.config = SimpleNamespace(max_in_flight=max_in_flight)

    async def acomplete(self, requests):
        from xcoder_assets.llm.gateway import LLMResult

        self.asked.extend(requests)
        return [
            LLMResult(
                call_id=f"call-{r.tag}-{r.seed}",
                cache_key=f"{r.tag}-{r.seed}",
                role=r.role,
                model="scripted",
                template=r.template,
                request={},
                content=self.answers[r.tag][r.seed - 100],
                finish_reason="stop",
            )
            for r in requests
        ]


def test_score_model_takes_the_completions_and_the_sandbox_as_arguments(bwrap_backend):
    from xcoder_assets.recipe.evaluation import ScoringSettings, score_model
    from xcoder_assets.recipe.prompts import load_template
    from xcoder_assets_tests.recipe.test_evaluation import PROBLEMS, SCRIPT

    # the last problem has one answer: the others' fourth sample is its first again (seed 103 -> index 3)
    answers = {row["question_id"]: (script * 4)[:4] for row, script in SCRIPT}
    completer = ScriptedCompleter(answers)
    settings = ScoringSettings(n=4, seed=100, windows={"late": ["2025-01-01", None]}, model_cutoff="2024-08-15")
    seen = []
    scoring = score_model(
        PROBLEMS,
        completer,
        load_template("solve"),
        bwrap_backend,
        settings,
        workers=2,
        on_progress=lambda done, total, cached: seen.append((done, total)),
    )
    assert sorted((r.tag, r.seed) for r in completer.asked) == sorted(
        (p.question_id, 100 + i) for p in PROBLEMS for i in range(4)
    )
    scored = scoring.scores
    # sum: 2 of 4 (one answer without code), pair: 3 of 4 (a tuple passes as the harness compares), half: 4 of 4
    assert scored["pass@1"] == pytest.approx((0.5 + 0.75 + 1.0) / 3) and scored["n"] == 4
    assert scored["by_difficulty"] == {"easy": 0.5, "medium": 0.75, "hard": 1.0}
    assert scored["by_window"]["late"]["problems"] == 1 and scored["by_window"]["late"]["pass@1"] == 0.75
    assert scored["contamination"]["problems_before"] == 1 and scored["generations"]["by_status"]["no_code"] == 1
    assert [r.problem.question_id for r in scoring.run.results] == [p.question_id for p in PROBLEMS]
    assert seen[-1] == (3, 3) and len(scoring.run.calls) == 12


def test_scoring_settings_own_the_defaults_and_refuse_bad_ones():
    from xcoder_assets.llm.settings import RECIPE_PARAMS
    from xcoder_assets.recipe.evaluation import OFFLINE_N, REAL_N, ScoringSettings

    settings = ScoringSettings()
    assert settings.params() == RECIPE_PARAMS["solve"]  # the paper evaluates with its solving role's sampling
    assert (settings.samples(offline=False), settings.samples(offline=True)) == (REAL_N, OFFLINE_N) == (8, 2)
    assert ScoringSettings(n=3).samples(offline=True) == 3
    assert [w.name for w in settings.date_windows()] == list(PAPER_WINDOWS) and settings.cutoff() is None
    with pytest.raises(BenchmarkInputError, match="model_cutoff: 'soon' is not an ISO date"):
        ScoringSettings(model_cutoff="soon")
    with pytest.raises(BenchmarkInputError, match="date window 'w': start 2025-02-01 is after end 2025-01-01"):
        ScoringSettings(windows={"w": ["2025-02-01", "2025-01-01"]})
    with pytest.raises(ValueError, match="n: samples per problem must be at least 1, not 0"):
        ScoringSettings(n=0)
