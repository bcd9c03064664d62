import base64
import json
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from xcoder_assets.cli import main as xcoder
from xcoder_assets.sandbox.lcb_format import (
    FormatError,
    decode_private_tests,
    load_generations,
    load_problems,
    pass_at_k,
)
from xcoder_assets_tests.lcb_cases import SAMPLE_CASES, LCB_SAMPLES


def test_lcb_samples_decode_with_private_tests():
    problems = {p.problem_id: p for p in load_problems(LCB_SAMPLES)}
    assert set(problems) == {"1873_A", "2727", "abc301_a"}
    assert problems["2727"].func_name == "countSeniors" and problems["1873_A"].func_name is None
    assert len(problems["1873_A"].tests) > 2  # public and the base64/zlib/pickle private ones


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_private_tests_refuse_pickled_code():
    evil = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        decode_private_tests(evil)
    good = base64.b64encode(
        zlib.compress(pickle.dumps(json.dumps([{"input": "1", "output": "2", "testtype": "stdin"}])))
    ).decode()
    assert decode_private_tests(good) == [{"input": "1", "output": "2", "testtype": "stdin"}]
    with pytest.raises(ValueError, match="neither JSON nor"):
        decode_private_tests("%%%")


def test_malformed_problem_files_name_file_and_line(tmp_path):
    bad = tmp_path / "p.jsonl"
    rows = LCB_SAMPLES.read_text().splitlines()
    bad.write_text(rows[0] + "\n{broken\n")
    with pytest.raises(FormatError, match=rf"{bad}:2: not valid JSON"):
        load_problems(bad)
    row = json.loads(rows[0])
    row["public_test_cases"] = json.dumps([{"input": 1}])
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(FormatError, match=rf"{bad}:1: problem '1873_A': public_test_cases\[0\] needs string"):
        load_problems(bad)
    bad.write_text(rows[0] + "\n" + rows[0] + "\n")
    with pytest.raises(FormatError, match="appears twice"):
        load_problems(bad)
    with pytest.raises(FormatError, match="no such file"):
        load_problems(tmp_path / "missing.jsonl")


def test_malformed_generations(tmp_path):
    path = tmp_path / "g.json"
    path.write_text('[\n  {"question_id": "a", "code_list": ["x"]},\n  oops\n]')
    with pytest.raises(FormatError, match=rf"{path}:3: not valid JSON"):
        load_generations(path)
    path.write_text(json.dumps([{"question_id": "a", "code_list": "print(1)"}]))
    with pytest.raises(FormatError, match=r"item 0 \(question a\): 'code_list' must be a list of strings"):
        load_generations(path)
    path.write_text(json.dumps({"question_id": "a"}))
    with pytest.raises(FormatError, match="expected a JSON list"):
        load_generations(path)


def test_pass_at_k():
    assert pass_at_k(8, 0, 1) == 0.0 and pass_at_k(8, 8, 1) == 1.0
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)


@pytest.mark.parametrize("profile", ["strict", "lcb"])
def test_judge_command_on_livecodebench_files(tmp_path, capsys, bwrap_backend, profile):
    generations = {}
    for qid, code, _ in SAMPLE_CASES:
        generations.setdefault(qid, []).append(code)
    gen_path = tmp_path / "g.json"
    gen_path.write_text(json.dumps([{"question_id": q, "code_list": c} for q, c in generations.items()]))
    out = tmp_path / "r.json"
    code = xcoder(
        [
            "judge",
            "--problems",
            str(LCB_SAMPLES),
            "--generations",
            str(gen_path),
            "--out",
            str(out),
            "--profile",
            profile,
            "--workers",
            "2",
        ]
    )
    assert code == 0
    results = {r["question_id"]: r for r in json.loads(out.read_text())}
    for qid in generations:
        assert results[qid]["graded_list"] == [True, False], (qid, results[qid]["details"])
        assert results[qid]["pass@1"] == 0.5
        detail = results[qid]["details"][1]
        assert detail["verdict"] == "wrong_answer" and detail["first_failing_test"] is not None
        assert {"time_s", "memory_kb", "reason"} <= set(detail)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("judged 6 solutions, ") and last.endswith(" tests/s") and "tests run" in last


def test_judge_command_errors(tmp_path, capsys):
    gen = tmp_path / "g.json"
    gen.write_text(json.dumps([{"question_id": "nope", "code_list": ["print(1)"]}]))
    assert (
        xcoder(["judge", "--problems", str(LCB_SAMPLES), "--generations", str(gen), "--out", str(tmp_path / "r.json")])
        == 2
    )
    assert "question_id 'nope' is not in" in capsys.readouterr().err
    gen.write_text("[")
    assert (
        xcoder(["judge", "--problems", str(LCB_SAMPLES), "--generations", str(gen), "--out", str(tmp_path / "r.json")])
        == 2
    )
    assert "g.json:1: not valid JSON" in capsys.readouterr().err
    gen.write_text(json.dumps([{"question_id": "2727", "code_list": ["print(1)"]}]))
    assert (
        xcoder(
            [
                "judge",
                "--problems",
                str(LCB_SAMPLES),
                "--generations",
                str(gen),
                "--out",
                str(tmp_path / "r.json"),
                "--sandbox",
                "none",
            ]
        )
        == 2
    )
    assert "allow_unsafe" in capsys.readouterr().err


def test_bench_judge_command(tmp_path):
    pytest.importorskip("livecodebench.evaluation.compute_code_generation_metrics")
    run = subprocess.run(
        [
            Path(sys.executable).parent / "xcoder",
            "bench",
            "judge",
            "--solutions",
            "20",
            "--tests",
            "3",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert "pass/fail verdicts agree on 20/20 programs" in lines[-2]
    assert lines[-1].startswith("ours/official tests/s ratio: ")
