"""LiveCodeBench as data and as a benchmark: problem rows, releases, prompts, code extraction, scores.

Everything here follows the official harness (lcb_runner) so that a score computed here is the score
its `compute_scores` would print on the files written here:
- problems are `code_generation_lite` rows (every field a string; private tests plain JSON or
  base64(zlib(pickle(json)))); releases are cumulative sets of the dataset repo's `test*.jsonl` files;
- the prompt is LiveCodeBench's generic chat prompt (the `solve` template), with its two format
  instructions (starter code, or stdin/stdout);
- code is the text between the last two lines of the answer that contain a fence (an answer with
  fewer than two such lines yields "", which the official runner then judges and fails);
- pass@1 of a problem is the share of its n samples that passed every test; an overall or per-group
  score is the mean over problems (so avg@8 with n = 8); date windows are inclusive, on the date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from xcoder_assets.sandbox.judge import Problem, TestCase
from xcoder_assets.sandbox.lcb_format import decode_private_tests, parse_test_cases

PLATFORMS = ("leetcode", "codeforces", "atcoder")
DIFFICULTIES = ("easy", "medium", "hard")
FORMAT_WITH_STARTER = (
    "You will use the following starter code to write the solution to the problem and enclose "
    "your code within delimiters."
)
FORMAT_STDIN = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
    "on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
    "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
)

# The dataset repo's files, one per release increment; a release is cumulative (release_v3 = v1+v2+v3).
RELEASE_FILE = {
    1: "test.jsonl",
    2: "test2.jsonl",
    3: "test3.jsonl",
    4: "test4.jsonl",
    5: "test5.jsonl",
    6: "test6.jsonl",
}
LATEST = max(RELEASE_FILE)
DATASET_REPO = "livecodebench/code_generation_lite"


class BenchmarkInputError(ValueError):
    """Bad benchmark input (release, file, record, date): the message names it and says what is wrong."""


def release_files(release: str) -> list[str]:
    """The files of a release: `release_vN` (cumulative), `release_latest`, `vN` (one increment) or `vN_vM`
    (increments N..M), as lcb_runner's version tags name them."""
    tag = release.strip()
    numbers: list[int] = []
    if tag == "release_latest":
        numbers = list(range(1, LATEST + 1))
    elif m := re.fullmatch(r"release_v(\d+)", tag):
        numbers = list(range(1, int(m.group(1)) + 1))
    elif m := re.fullmatch(r"v(\d+)(?:_v(\d+))?", tag):
        numbers = list(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    if not numbers or any(n not in RELEASE_FILE for n in numbers):
        raise BenchmarkInputError(
            f"unknown LiveCodeBench release {release!r}: use release_v1 .. release_v{LATEST}, release_latest, "
            f"v1 .. v{LATEST} or a slice such as v5_v6"
        )
    return [RELEASE_FILE[n] for n in numbers]


@dataclass(frozen=True)
class DateWindow:
    name: str
    start: date | None  # inclusive
    end: date | None  # inclusive

    def holds(self, when: date | None) -> bool:
        if when is None:
            return False
        return (self.start is None or self.start <= when) and (self.end is None or when <= self.end)

    def describe(self) -> str:
        return f"{self.start or '...'} .. {self.end or '...'}"


def parse_date(text: str | None, what: str) -> date | None:
    if text in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(text)).date()
    except ValueError:
        raise BenchmarkInputError(f"{what}: {text!r} is not an ISO date (YYYY-MM-DD)") from None


def parse_windows(spec: dict[str, Sequence[str | None]]) -> list[DateWindow]:
    """{name: [start, end]} -> windows; a bad date is one error naming the window."""
    windows = []
    for name, bounds in spec.items():
        if len(bounds) != 2:
            raise BenchmarkInputError(f"date window {name!r}: give [start, end], got {list(bounds)!r}")
        start, end = (parse_date(b, f"date window {name!r}") for b in bounds)
        if start and end and start > end:
            raise BenchmarkInputError(f"date window {name!r}: start {start} is after end {end}")
        windows.append(DateWindow(name, start, end))
    return windows


# The papers' windows (REFERENCE: "v5" = 2024-08-01 .. 2025-02-01, 279 problems; "v6" 2025-02 .. 2025-05).
PAPER_WINDOWS = {"v5": ["2024-08-01", "2025-02-01"], "v6": ["2025-02-01", "2025-05-01"]}


@dataclass(frozen=True)
class LcbProblem:
    question_id: str
    title: str
    content: str
    platform: str
    contest_id: str
    contest_date: date | None  # None: the row has no date (it then belongs to no window)
    starter_code: str
    difficulty: str
    public_tests: tuple[TestCase, ...]
    private_tests: tuple[TestCase, ...]
    func_name: str | None
    source: str  # where the row came from: a release tag, or a label such as "xcoder-verified (not LiveCodeBench)"
    location: str  # file:line

    @property
    def mode(self) -> Literal["stdin", "functional"]:
        return "functional" if self.func_name else "stdin"

    def judge_problem(self) -> Problem:
        """All public, then all private tests, as the official harness runs them."""
        return Problem(self.question_id, self.public_tests + self.private_tests, self.func_name)

    def prompt_values(self) -> dict[str, str]:
        """The values of the `solve` template: LiveCodeBench's generic prompt for this problem."""
        if self.starter_code:
            return {"question": self.content, "format_instruction": FORMAT_WITH_STARTER, "starter": self.starter_code}
        return {"question": self.content, "format_instruction": FORMAT_STDIN, "starter": "# YOUR CODE HERE"}

    def lcb_fields(self) -> dict[str, Any]:
        """The fields lcb_runner's insert_output copies into its output files."""
        return {
            "question_title": self.title,
            "question_content": self.content,
            "platform": self.platform,
            "question_id": self.question_id,
            "contest_id": self.contest_id,
            "contest_date": datetime.combine(self.contest_date, datetime.min.time()).isoformat()
            if self.contest_date
            else "",
            "starter_code": self.starter_code,
            "difficulty": self.difficulty,
        }


@dataclass(frozen=True)
class RejectedRecord:
    location: str
    question_id: str | None
    reason: str


def _string(record: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = record.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"field {name!r} is missing or not a non-empty string")
    return value


def _cases(value: Any, name: str, *, private: bool) -> tuple[TestCase, ...]:
    if value in (None, ""):
        return ()
    if private and isinstance(value, str):  # plain JSON, or base64(zlib(pickle(json))) as shipped
        try:
            value = decode_private_tests(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return tuple(parse_test_cases(value, name))


def problem_from_record(record: dict[str, Any], *, source: str, location: str) -> LcbProblem:
    """One code_generation_lite row; ValueError says what is wrong with it."""
    qid = _string(record, "question_id")
    platform = _string(record, "platform").strip().lower()
    if platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r} is not one of {', '.join(PLATFORMS)}")
    difficulty = _string(record, "difficulty").strip().lower()
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}")
    try:
        when = parse_date(record.get("contest_date"), "contest_date")
    except BenchmarkInputError as exc:
        raise ValueError(str(exc)) from None
    metadata = record.get("metadata") or "{}"
    try:
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    except ValueError:
        raise ValueError("field 'metadata' is not JSON") from None
    if not isinstance(metadata, dict):
        raise ValueError("field 'metadata' must be a JSON object")
    public = _cases(record.get("public_test_cases"), "public_test_cases", private=False)
    private = _cases(record.get("private_test_cases"), "private_test_cases", private=True)
    if not public and not private:
        raise ValueError("the row has no tests (public_test_cases and private_test_cases are both empty)")
    return LcbProblem(
        question_id=qid,
        title=_string(record, "question_title", required=False) or qid,
        content=_string(record, "question_content", required=False),
        platform=platform,
        contest_id=_string(record, "contest_id", required=False),
        contest_date=when,
        starter_code=_string(record, "starter_code", required=False),
        difficulty=difficulty,
        public_tests=public,
        private_tests=private,
        func_name=metadata.get("func_name") or None,
        source=source,
        location=location,
    )


def read_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(location, record or None, why it is unreadable) for each row of a JSONL or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkInputError(f"{path}: no such file")
    if path.suffix == ".parquet":
        import polars as pl

        try:
            frame = pl.read_parquet(path)
        except Exception as exc:
            raise BenchmarkInputError(f"{path}: not a readable Parquet file ({exc})") from None
        for number, row in enumerate(frame.iter_rows(named=True), 1):
            yield f"{path}:row {number}", row, None
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield f"{path}:{number}", None, f"not valid JSON ({exc})"
                continue
            if not isinstance(record, dict):
                yield f"{path}:{number}", None, "a problem row must be a JSON object"
                continue
            yield f"{path}:{number}", record, None


@dataclass
class LoadedProblems:
    problems: list[LcbProblem] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)
    outside_window: int = 0  # rows skipped by the date window
    duplicates: int = 0  # rows whose question_id an earlier file already gave (later releases repeat none)


def parsed_records(path: Path, label: str, skip_bad_records: bool) -> Iterator[LcbProblem | RejectedRecord]:
    """Each record of a LiveCodeBench file as a problem, in file order. A malformed one raises one
    BenchmarkInputError naming file and line, or with `skip_bad_records` comes as its RejectedRecord."""
    for location, record, unreadable in read_records(path):
        qid = record.get("question_id") if isinstance(record, dict) else None
        try:
            if unreadable:
                raise ValueError(unreadable)
            yield problem_from_record(record, source=label, location=location)
        except (ValueError, TypeError) as exc:
            if not skip_bad_records:
                raise BenchmarkInputError(f"{location}: problem {qid or '?'}: {exc}") from None
            yield RejectedRecord(location, qid if isinstance(qid, str) else None, str(exc))


def load_problems(
    sources: Sequence[tuple[Path, str]],
    *,
    start: date | None = None,
    end: date | None = None,
    skip_bad_records: bool = False,
) -> LoadedProblems:
    """Problems from (file, source label) pairs, in order, filtered to [start, end] (inclusive; rows
    without a date are kept only when no window is set). A malformed row raises one BenchmarkInputError
    naming file and line, or becomes a RejectedRecord with `skip_bad_records`."""
    loaded, seen = LoadedProblems(), set()
    window = DateWindow("run", start, end)
    for path, label in sources:
        for problem in parsed_records(path, label, skip_bad_records):
            if isinstance(problem, RejectedRecord):
                loaded.rejected.append(problem)
                continue
            if (start or end) and not window.holds(problem.contest_date):
                loaded.outside_window += 1
                continue
            if problem.question_id in seen:
                loaded.duplicates += 1
                continue
            seen.add(problem.question_id)
            loaded.problems.append(problem)
    return loaded


def fetch_release(
    release: str, *, repo_id: str = DATASET_REPO, revision: str | None = None, cache_dir: Path | None = None
) -> list[Path]:
    """The raw `test*.jsonl` files of a release, from the dataset repo on the Hub (huggingface_hub; the
    loading script is not used: datasets>=4 refuses it). Offline (HF_HUB_OFFLINE=1) it reads the local
    Hub cache, so a pre-fetched cache works with no network."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    paths = []
    for name in release_files(release):
        try:
            paths.append(
                Path(
                    hf_hub_download(
                        repo_id,
                        name,
                        repo_type="dataset",
                        revision=revision,
                        cache_dir=str(cache_dir) if cache_dir else None,
                    )
                )
            )
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
            raise BenchmarkInputError(
                f"dataset {repo_id}, file {name} (release {release}): cannot fetch it: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
    return paths


# ---- answers ----------------------------------------------------------------------------------

GenerationStatus = Literal["ok", "no_code", "truncated", "error"]


@dataclass(frozen=True)
class Generation:
    """One sample's answer, as the official runner sees it."""

    output: str  # the model's text ("" when the call failed)
    code: str  # the extracted code ("" when there is none: the official runner judges "" and fails it)
    status: GenerationStatus
    reason: str | None = None


def extract_lcb_code(answer: str) -> str:
    """LiveCodeBench's extraction for chat models: the lines between the last two lines containing ```."""
    lines = (answer or "").split("\n")
    fences = [i for i, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return ""
    return "\n".join(lines[fences[-2] + 1 : fences[-1]])


def generation_from_answer(content: str | None, finish_reason: str | None, error: str | None) -> Generation:
    if error:
        return Generation("", "", "error", error)
    code = extract_lcb_code(content or "")
    if finish_reason == "length":
        return Generation(content or "", code, "truncated", "the answer was cut off at max_tokens")
    if not code.strip():
        return Generation(content or "", code, "no_code", "no fenced code block in the answer")
    return Generation(content or "", code, "ok")


# ---- scores -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemResult:
    problem: LcbProblem
    generations: tuple[Generation, ...]
    graded: tuple[bool, ...]  # per sample: passed every test
    test_results: tuple[tuple[Any, ...], ...]  # per sample: the official per-test codes (True, False, -1..-4)
    metadata: tuple[dict[str, Any], ...]  # per sample: the official metadata (error, error_code, ...)

    @property
    def pass_at_1(self) -> float:
        return sum(self.graded) / len(self.graded) if self.graded else 0.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _group(results: Sequence[ProblemResult], key) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ProblemResult]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return {
        name: {"pass@1": _mean([r.pass_at_1 for r in rows]), "problems": len(rows)}
        for name, rows in sorted(groups.items())
    }


def scores(
    results: Sequence[ProblemResult], windows: Sequence[DateWindow], cutoff: date | None = None
) -> dict[str, Any]:
    """pass@1 (mean over problems of c/n: avg@n) overall, per difficulty, platform and window; the
    contamination gap (pass@1 on problems dated before the cutoff minus after it); failed generations."""
    n_values = sorted({len(r.graded) for r in results})
    statuses: dict[str, int] = {}
    for result in results:
        for g in result.generations:
            statuses[g.status] = statuses.get(g.status, 0) + 1
    samples = sum(statuses.values())
    by_window = {}
    for window in windows:
        held = [r for r in results if window.holds(r.problem.contest_date)]
        by_window[window.name] = {
            "pass@1": _mean([r.pass_at_1 for r in held]),
            "problems": len(held),
            "start": str(window.start or ""),
            "end": str(window.end or ""),
        }
    out: dict[str, Any] = {
        "pass@1": _mean([r.pass_at_1 for r in results]) or 0.0,
        "n": n_values[0] if len(n_values) == 1 else n_values,
        "problems": len(results),
        "samples": samples,
        "by_difficulty": {k: v["pass@1"] for k, v in _group(results, lambda r: r.problem.difficulty).items()},
        "by_platform": {k: v["pass@1"] for k, v in _group(results, lambda r: r.problem.platform).items()},
        "problems_by_difficulty": {
            k: v["problems"] for k, v in _group(results, lambda r: r.problem.difficulty).items()
        },
        "problems_by_platform": {k: v["problems"] for k, v in _group(results, lambda r: r.problem.platform).items()},
        "by_window": by_window,
        "undated_problems": sum(1 for r in results if r.problem.contest_date is None),
        "generations": {
            "ok": statuses.get("ok", 0),
            "failed": samples - statuses.get("ok", 0),
            "by_status": dict(sorted(statuses.items())),
        },
    }
    if cutoff is not None:
        before = [r.pass_at_1 for r in results if r.problem.contest_date and r.problem.contest_date < cutoff]
        after = [r.pass_at_1 for r in results if r.problem.contest_date and r.problem.contest_date >= cutoff]
        gap = (_mean(before) - _mean(after)) if before and after else None
        out["contamination"] = {
            "cutoff": str(cutoff),
            "pass@1_before": _mean(before),
            "problems_before": len(before),
            "pass@1_after": _mean(after),
            "problems_after": len(after),
            "gap": gap,
        }
    return out


# ---- LiveCodeBench's own output files ---------------------------------------------------------


def generations_file(results: Sequence[ProblemResult]) -> list[dict[str, Any]]:
    """lcb_runner's `<model>_codegeneration_output.json`: per problem its fields, output_list, code_list."""
    return [
        {
            **r.problem.lcb_fields(),
            "output_list": [g.output for g in r.generations],
            "code_list": [g.code for g in r.generations],
        }
        for r in _sorted(results)
    ]


def eval_all_file(results: Sequence[ProblemResult]) -> list[dict[str, Any]]:
    """`*_eval_all.json`: generations plus graded_list, pass@1 and metadata (what compute_scores reads)."""
    return [
        {**entry, "graded_list": list(r.graded), "pass@1": r.pass_at_1, "metadata": [json.dumps(m) for m in r.metadata]}
        for entry, r in zip(generations_file(results), _sorted(results))
    ]


def eval_file(results: Sequence[ProblemResult]) -> list[Any]:
    """`*_eval.json`: [metrics (pass@1 and its per-problem detail), per-problem per-sample test results,
    per-problem metadata], indexed by the problem's position, as codegen_metrics returns it."""
    ordered = _sorted(results)
    detail = {str(i): r.pass_at_1 for i, r in enumerate(ordered)}
    metrics = {"pass@1": _mean([r.pass_at_1 for r in ordered]) or 0.0, "detail": {"pass@1": detail}}
    return [
        metrics,
        {str(i): [list(t) for t in r.test_results] for i, r in enumerate(ordered)},
        [[json.dumps(m) for m in r.metadata] for r in ordered],
    ]


def _sorted(results: Sequence[ProblemResult]) -> list[ProblemResult]:
    # lcb_runner sorts its benchmark by question_id before it writes
    return sorted(results, key=lambda r: str(r.problem.question_id))
