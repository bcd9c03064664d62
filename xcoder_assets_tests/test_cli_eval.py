"""`xcoder eval`: given code scored exactly as the official harness scores it (run live), and a model scored
over real HTTP against a scripted server, every figure checked; bad input is one clear message."""

import json

import pytest

from xcoder_assets.cli import main
from xcoder_assets_tests.fake_lcb_model import FakeLcbModel
from xcoder_assets_tests.lcb_cases import LCB_SAMPLES, parity_inputs
from xcoder_assets_tests.recipe.official_scores import official_scores
from xcoder_assets_tests.recipe.test_evaluation import ANSWERS, SCRIPT


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def needs_bwrap(bwrap_backend):
    return bwrap_backend  # skips (or fails in CI) where bwrap cannot sandbox


def test_eval_generations_gives_the_official_pass_at_1(needs_bwrap, tmp_path, capsys):
    pytest.importorskip("livecodebench.evaluation.compute_code_generation_metrics")
    rows, code_lists = parity_inputs()
    problems = _jsonl(tmp_path / "problems.jsonl", rows)
    generations = tmp_path / "generations.json"
    generations.write_text(json.dumps([{"question_id": q, "code_list": c} for q, c in code_lists.items()]))
    official = official_scores(rows, [code_lists[r["question_id"]] for r in rows], tmp_path / "official.json")

    assert (
        main(
            [
                "eval",
                "--problems",
                str(problems),
                "--generations",
                str(generations),
                "--out",
                str(tmp_path / "o"),
                "--workers",
                "2",
            ]
        )
        == 0
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    scores = json.loads((tmp_path / "o" / "scores.json").read_text())
    assert scores["pass@1"] == pytest.approx(official["pass@1"]) and last == f"pass@1 {official['pass@1']:.4f}"
    assert scores["n"] == 3 and scores["problems"] == len(rows)
    eval_all = {e["question_id"]: e for e in json.loads((tmp_path / "o" / "eval_all.json").read_text())}
    for index, row in enumerate(rows):
        entry = eval_all[row["question_id"]]
        assert entry["pass@1"] == pytest.approx(official["detail"][str(index)])
        assert entry["code_list"] == code_lists[row["question_id"]] and len(entry["graded_list"]) == 3


def test_eval_a_model_over_http_checks_every_score(needs_bwrap, tmp_path, capsys):
    problems = _jsonl(tmp_path / "problems.jsonl", [row for row, _ in SCRIPT])
    out = tmp_path / "o"
    with FakeLcbModel(ANSWERS) as model:
        argv = [
            "eval",
            "--problems",
            str(problems),
            "--model",
            "openai/fake-coder",
            "--api-base",
            model.url,
            "--n",
            "4",
            "--out",
            str(out),
            "--model-cutoff",
            "2024-08-15",
            "--window",
            "late=2025-01-01..",
            "--window",
            "v5=2024-08-01..2025-02-01",
        ]
        assert main(argv) == 0
        first = len(model.requests)
        assert main(argv) == 0  # the same settings again: every answer from the cache
        assert len(model.requests) == first == 12
    printed = capsys.readouterr()
    assert printed.out.strip().splitlines()[-1] == "pass@1 0.7500"
    scores = json.loads((out / "scores.json").read_text())
    assert scores["pass@1"] == pytest.approx(0.75) and scores["n"] == 4 and scores["problems"] == 3
    assert scores["by_difficulty"] == {"easy": 0.5, "hard": 1.0, "medium": 0.75}
    assert scores["by_window"]["late"]["pass@1"] == 0.75 and scores["by_window"]["late"]["problems"] == 1
    assert scores["by_window"]["v5"]["pass@1"] == 0.5
    assert scores["contamination"]["gap"] == pytest.approx(0.375)
    assert scores["generations"]["by_status"] == {"no_code": 1, "ok": 11}
    # LiveCodeBench's own files beside ours
    for name in (
        "eval_all.json",
        "codegeneration_output.json",
        "codegeneration_output_eval.json",
        "codegeneration_output_eval_all.json",
    ):
        assert (out / name).exists(), name


def test_eval_bad_input_is_one_clear_message(tmp_path, capsys):
    missing = tmp_path / "absent.jsonl"
    assert main(["eval", "--problems", str(missing), "--generations", "g.json", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"xcoder: error: {missing}: no such file"
    no_tests = _jsonl(
        tmp_path / "p.jsonl",
        [dict(json.loads(LCB_SAMPLES.read_text().splitlines()[0]), public_test_cases="[]", private_test_cases="[]")],
    )
    assert main(["eval", "--problems", str(no_tests), "--model", "openai/x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"xcoder: error: {no_tests}:1: problem 1873_A: the row has no tests") and "\n" not in err
    good = _jsonl(tmp_path / "good.jsonl", [json.loads(LCB_SAMPLES.read_text().splitlines()[0])])
    assert main(["eval", "--problems", str(good), "--out", str(tmp_path)]) == 2
    assert "give --model" in capsys.readouterr().err
    assert (
        main(["eval", "--problems", str(good), "--generations", "x.json", "--window", "bad", "--out", str(tmp_path)])
        == 2
    )
    assert "NAME=START..END" in capsys.readouterr().err
