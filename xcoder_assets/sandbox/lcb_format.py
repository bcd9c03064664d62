"""LiveCodeBench's file formats: code_generation_lite problem rows, custom-evaluator generations, results.

Private tests come as plain JSON or as base64(zlib(pickle(json string))). The pickle is read with an
unpickler that accepts only plain data (no class or function can be named), so a crafted problem
file cannot run code in the judge.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from math import comb
from pathlib import Path
from typing import Any

from xcoder_assets.sandbox.judge import Problem, SolutionVerdict, TestCase


class FormatError(ValueError):
    """A malformed input file: the message names the file, the line and the problem."""


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: private tests must be plain data")


def decode_private_tests(text: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError:
        try:
            raw = zlib.decompress(base64.b64decode(text.encode("utf-8")))
            value = _DataOnlyUnpickler(io.BytesIO(raw)).load()
        except Exception as exc:
            raise ValueError(f"private_test_cases is neither JSON nor base64/zlib/pickle: {exc}") from None
        if isinstance(value, (bytes, str)):
            value = json.loads(value)
    if not isinstance(value, list):
        raise ValueError(f"test cases must be a JSON list, got {type(value).__name__}")
    return value


def encode_private_tests(cases: list[dict[str, Any]]) -> str:
    """private_test_cases as the dataset ships it: base64(zlib(pickle(json string))). Pickle protocol 4, as
    the dataset's rows use, so the same tests always give the same text. zlib level 1: megabytes of test
    inputs per problem compress 3-4x faster than at the default level, and any level decompresses alike."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases), protocol=4), 1)).decode("ascii")


def parse_test_cases(value: Any, field: str) -> list[TestCase]:
    """A JSON list (or its text) of {input, output} strings as TestCases; ValueError names the field."""
    cases = json.loads(value) if isinstance(value, str) else value
    if not isinstance(cases, list):
        raise ValueError(f"{field} must be a JSON list")
    out = []
    for position, case in enumerate(cases):
        if (
            not isinstance(case, dict)
            or not isinstance(case.get("input"), str)
            or not isinstance(case.get("output"), str)
        ):
            raise ValueError(f"{field}[{position}] needs string 'input' and 'output'")
        out.append(TestCase(case["input"], case["output"]))
    return out


def problem_from_row(row: dict[str, Any]) -> Problem:
    qid = row.get("question_id")
    if not isinstance(qid, str) or not qid:
        raise ValueError("field 'question_id' is missing or empty")
    public = parse_test_cases(row.get("public_test_cases", "[]"), "public_test_cases")
    private_raw = row.get("private_test_cases", "[]")
    private = parse_test_cases(
        decode_private_tests(private_raw) if isinstance(private_raw, str) else private_raw, "private_test_cases"
    )
    metadata = row.get("metadata") or "{}"
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    if not isinstance(metadata, dict):
        raise ValueError("field 'metadata' must be a JSON object")
    checker = row.get("checker") or metadata.get("checker")
    return Problem(qid, tuple(public + private), metadata.get("func_name"), checker)


def load_problems(path: Path) -> list[Problem]:
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file")
    problems, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise FormatError(f"{path}:{number}: not valid JSON: {exc}") from None
            if not isinstance(row, dict):
                raise FormatError(f"{path}:{number}: a problem row must be a JSON object")
            try:
                problem = problem_from_row(row)
            except (ValueError, TypeError) as exc:
                raise FormatError(f"{path}:{number}: problem {row.get('question_id', '?')!r}: {exc}") from None
            if problem.problem_id in seen:
                raise FormatError(f"{path}:{number}: problem {problem.problem_id!r} appears twice")
            seen.add(problem.problem_id)
            problems.append(problem)
    if not problems:
        raise FormatError(f"{path}: no problems")
    return problems


def load_generations(path: Path) -> dict[str, list[str]]:
    """LiveCodeBench's custom-evaluator format: a JSON list of {"question_id", "code_list"}."""
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(value, list):
        raise FormatError(f"{path}: expected a JSON list of {{question_id, code_list}} objects")
    generations: dict[str, list[str]] = {}
    for position, item in enumerate(value):
        where = f"{path}: item {position}"
        if not isinstance(item, dict):
            raise FormatError(f"{where}: not an object")
        qid = item.get("question_id")
        if not isinstance(qid, (str, int)):
            raise FormatError(f"{where}: field 'question_id' is missing")
        codes = item.get("code_list")
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise FormatError(f"{where} (question {qid}): 'code_list' must be a list of strings")
        if str(qid) in generations:
            raise FormatError(f"{where}: question {qid} appears twice")
        generations[str(qid)] = codes
    return generations


def pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def result_rows(
    problems: list[Problem], generations: dict[str, list[str]], verdicts: dict[str, list[SolutionVerdict]]
) -> list[dict[str, Any]]:
    rows = []
    for problem in problems:
        if problem.problem_id not in generations:
            continue
        results = verdicts[problem.problem_id]
        graded = [r.passed for r in results]
        rows.append(
            {
                "question_id": problem.problem_id,
                "graded_list": graded,
                "pass@1": (sum(graded) / len(graded)) if graded else 0.0,
                "details": [r.as_detail() for r in results],
            }
        )
    return rows
