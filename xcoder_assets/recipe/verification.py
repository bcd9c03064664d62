"""Dual verification (SynthSmith): outputs decided by agreement, a golden solution confirmed on held-out tests.

1. every candidate runs on every input (in the sandbox, elsewhere);
2. per test, the expected output is the plurality of the canonicalized outputs of the runs that
   ended normally; a tie for first place, or agreement below `min_agreement` (top votes over the
   runs that ended normally), leaves the test unverified;
3. the verified tests are split (by a hash of their id, so the split is stable) into a selection
   part and a held-out part; the golden solution is the candidate passing the most selection tests
   (ties: fewer failures overall, then the lower index); it must pass every held-out test, or the
   problem is rejected;
4. every candidate passing all verified tests is a verified solution.
Also: candidate code extraction (exactly one python block that parses) and test-program parsing.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from xcoder_assets.recipe.batches import NIGHTLY_PREFIX, shard_of
from xcoder_assets.recipe.composition import problem_question
from xcoder_assets.recipe.stage import Run
from xcoder_assets.sandbox.compare import canonical_number
from xcoder_assets.sandbox.lcb_format import encode_private_tests
from xcoder_assets.sandbox.runs import Program
from xcoder_assets.present.figures import SandboxFigures
from xcoder_assets.store.ids import make_id
from xcoder_assets.present.progress import SANDBOX_COUNTS, StageProgress
from xcoder_assets.store.votes import TestVoteRecord, read_votes  # noqa: F401  (read_votes: re-exported)

_CODE_BLOCK = re.compile(r"```(\w*)[^\n]*\n(.*?)```", re.DOTALL)


# ---- candidate answers -------------------------------------------------------------------------

CodeStatus = Literal["ok", "no_code_block", "multiple_code_blocks", "syntax_error"]


@dataclass(frozen=True)
class ExtractedCode:
    code: str | None
    status: CodeStatus = "ok"
    reason: str | None = None  # why there is no usable code


def extract_solution_code(answer: str) -> ExtractedCode:
    """The recipe's filter: exactly one python code block, and it parses."""
    blocks = [
        body for lang, body in _CODE_BLOCK.findall(answer or "") if lang.lower() in ("python", "py", "python3", "")
    ]
    if not blocks:
        return ExtractedCode(None, "no_code_block", "no python code block in the answer")
    if len(blocks) > 1:
        return ExtractedCode(None, "multiple_code_blocks", f"{len(blocks)} python code blocks in the answer")
    try:
        ast.parse(blocks[0])
    except SyntaxError as exc:
        return ExtractedCode(None, "syntax_error", f"line {exc.lineno}: {exc.msg}")
    return ExtractedCode(blocks[0])


@dataclass(frozen=True)
class TestPrograms:
    __test__ = False  # not a pytest class

    generator: str | None
    validator: str | None
    reason: str | None


def extract_test_programs(answer: str) -> TestPrograms:
    """The generator and the validator, found by their headings (or as the first two python blocks)."""
    programs: dict[str, str] = {}
    for heading in ("generator", "validator"):
        match = re.search(rf"#+\s*{heading}\b[^\n]*\n+```\w*[^\n]*\n(.*?)```", answer or "", re.IGNORECASE | re.DOTALL)
        if match:
            programs[heading] = match.group(1)
    if len(programs) < 2:
        blocks = [body for lang, body in _CODE_BLOCK.findall(answer or "") if lang.lower() in ("python", "py", "")]
        if blocks and "generator" not in programs:
            programs["generator"] = blocks[0]
        if len(blocks) >= 2:
            programs.setdefault("validator", blocks[1])
    if "generator" not in programs:
        return TestPrograms(None, None, "no generator program in the answer")
    if "validator" not in programs:
        return TestPrograms(None, None, "no validator program in the answer")
    for name, code in programs.items():
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return TestPrograms(None, None, f"{name} has a syntax error: line {exc.lineno}: {exc.msg}")
    return TestPrograms(programs["generator"], programs["validator"], None)


# ---- outputs and votes -------------------------------------------------------------------------


def _canonical_line(line: str) -> str:
    """All-number lines: each number's exact canonical form (compare.canonical_number), one space apart.
    A line with any other token only matches identical text under lines_match, so it stays as its text."""
    numbers = []
    for token in line.split():
        number = canonical_number(token)
        if number is None:
            return line.strip()
        numbers.append(number)
    return " ".join(numbers)


def canonical_output(text: str, functional: bool) -> str:
    """Outputs get the same form iff LiveCodeBench's rule (compare.lines_match) calls them equal (lines
    stripped, numbers compared exactly: 0.50 == 0.5); functional results are compared as JSON values.
    Never raises on program output."""
    if functional:
        try:
            return json.dumps(json.loads(text.strip()), sort_keys=True)
        except (ValueError, RecursionError):  # also ints over 4300 digits, deep nesting
            return "\u0000unparseable:" + text.strip()
    return "\n".join(_canonical_line(line) for line in text.strip().split("\n"))


def output_hash(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class VoteSettings:
    """The vote's settings and the one owner of their defaults (verified_solutions' run config and `xcoder
    vote` take theirs from here)."""

    min_agreement: float = 0.5  # top votes over the runs that ended normally
    holdout_share: float = 0.3  # share of verified tests held out to confirm the golden solution
    min_verified_tests: int = 3
    seed: int = 42  # of the held-out split, as every seed of the recipe


VOTE_DEFAULTS = VoteSettings()


@dataclass
class TestVote:
    test_id: str
    expected: str | None  # canonical voted output; None when unverified
    top_votes: int
    voters: int  # candidates whose run ended normally
    candidates: int
    agreement: float  # top votes / voters (the runs that ended normally, as in the recipe)
    verified: bool
    reason: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # output hash -> votes


def vote(test_id: str, outputs: Sequence[str | None], min_agreement: float = VOTE_DEFAULTS.min_agreement) -> TestVote:
    """Plurality of the canonical outputs of normal runs (None: the run did not end normally)."""
    normal = [o for o in outputs if o is not None]
    counts = Counter(normal)
    hashed = {output_hash(o): n for o, n in counts.items()}
    if not normal:
        return TestVote(test_id, None, 0, 0, len(outputs), 0.0, False, "no run ended normally", hashed)
    ranked = counts.most_common()
    top_output, top = ranked[0]
    agreement = top / len(normal)
    if len(ranked) > 1 and ranked[1][1] == top:
        return TestVote(test_id, None, top, len(normal), len(outputs), agreement, False, "tie", hashed)
    if agreement < min_agreement:
        return TestVote(
            test_id,
            None,
            top,
            len(normal),
            len(outputs),
            agreement,
            False,
            f"agreement {agreement:.2f} below {min_agreement:.2f}",
            hashed,
        )
    return TestVote(test_id, top_output, top, len(normal), len(outputs), agreement, True, None, hashed)


def is_holdout(test_id: str, share: float, seed: int = VOTE_DEFAULTS.seed) -> bool:
    """A stable split: a test is held out when its hash falls below `share`."""
    digest = int(hashlib.sha256(f"{seed}:{test_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return digest < share


VerificationStatus = Literal["verified", "rejected"]
Rejection = Literal[
    "no_candidate",
    "too_few_verified_tests",
    "no_selection_tests",
    "no_candidate_passes",
    "golden_fails_holdout",
    "golden_fails_selection",
    "no_test_inputs",
    "too_few_test_inputs",
    "no_usable_candidate",
]


@dataclass
class Verification:
    votes: list[TestVote]
    selection: list[str]
    holdout: list[str]
    passes: list[dict[str, bool]]  # per candidate: verified test id -> passed
    golden: int | None
    golden_passes_holdout: bool
    verified_candidates: list[int]
    status: VerificationStatus
    reason: str | None  # why rejected, in words
    rejection: Rejection | None = None  # why rejected, as a kind to count


def verify(
    test_ids: Sequence[str],
    outputs: Sequence[Sequence[str | None]],
    *,
    min_agreement: float = VOTE_DEFAULTS.min_agreement,
    holdout_share: float = VOTE_DEFAULTS.holdout_share,
    min_verified_tests: int = VOTE_DEFAULTS.min_verified_tests,
    seed: int = VOTE_DEFAULTS.seed,
) -> Verification:
    """`outputs[c][t]`: candidate c's canonical output on test t, None when its run did not end normally."""
    candidates = len(outputs)
    votes = [vote(t, [outputs[c][i] for c in range(candidates)], min_agreement) for i, t in enumerate(test_ids)]
    verified = [(i, v) for i, v in enumerate(votes) if v.verified]
    holdout = [v.test_id for _, v in verified if is_holdout(v.test_id, holdout_share, seed)]
    selection = [v.test_id for _, v in verified if v.test_id not in holdout]
    passes = [{v.test_id: outputs[c][i] == v.expected for i, v in verified} for c in range(candidates)]

    def rejected(kind: Rejection, reason: str, golden: int | None = None) -> Verification:
        return Verification(votes, selection, holdout, passes, golden, False, [], "rejected", reason, kind)

    if candidates == 0:
        return rejected("no_candidate", "no candidate solution")
    if len(verified) < min_verified_tests:
        return rejected(
            "too_few_verified_tests", f"only {len(verified)} verified tests (at least {min_verified_tests} needed)"
        )
    if not selection:
        return rejected("no_selection_tests", "no selection tests")
    ranking = sorted(
        range(candidates), key=lambda c: (-sum(passes[c][t] for t in selection), -sum(passes[c].values()), c)
    )
    golden = ranking[0]
    if not any(passes[golden][t] for t in selection):
        return rejected("no_candidate_passes", "no candidate passes any selection test")
    if not all(passes[golden][t] for t in holdout):
        failed = sum(not passes[golden][t] for t in holdout)
        return rejected(
            "golden_fails_holdout", f"the golden solution fails {failed} of {len(holdout)} held-out tests", golden
        )
    if not all(passes[golden][t] for t in selection):
        # the best candidate passes the held-out tests but not every selection test: no candidate passes
        # every verified test, so there is no verified solution (and no expected outputs to publish)
        failed = sum(not passes[golden][t] for t in selection)
        return rejected(
            "golden_fails_selection",
            f"the best candidate fails {failed} of {len(selection)} selection tests (none passes every verified test)",
            golden,
        )
    winners = [c for c in range(candidates) if all(passes[c].values())]
    return Verification(votes, selection, holdout, passes, golden, True, winners, "verified", None)


# ---- one vote for the pipeline and the command line ----------------------------------------------


def vote_on_runs(
    test_ids: Sequence[str], runs: Sequence[Sequence[Any]], functional: bool, settings: VoteSettings
) -> Verification:
    """The vote on sandbox runs: `runs[c][t]` is candidate c's RunOutcome on test t. Used by verified_solutions
    and by `xcoder vote`, so both decide the same way."""
    outputs = [
        [canonical_output(run.stdout, functional) if run.ended_normally else None for run in row] for row in runs
    ]
    return verify(
        test_ids,
        outputs,
        min_agreement=settings.min_agreement,
        holdout_share=settings.holdout_share,
        min_verified_tests=settings.min_verified_tests,
        seed=settings.seed,
    )


def vote_records(result: Verification, with_outputs: bool = False) -> list[TestVoteRecord]:
    """Per test, in order: verified, the voted output's hash (and the output itself with_outputs), the votes,
    voters, agreement, why unverified, and whether it was held out."""
    holdout = set(result.holdout)
    return [
        TestVoteRecord(
            v.test_id,
            v.verified,
            v.expected and output_hash(v.expected),
            v.top_votes,
            v.voters,
            v.candidates,
            round(v.agreement, 4),
            v.reason,
            v.counts,
            v.test_id in holdout,
            v.expected if with_outputs else None,
            with_outputs,
        )
        for v in result.votes
    ]


def vote_report(result: Verification, with_outputs: bool = False) -> list[dict[str, Any]]:
    """vote_records as JSON-ready dicts, each with its test_id."""
    return [{"test_id": r.test_id, **r.entry()} for r in vote_records(result, with_outputs)]


def votes_json(result: Verification) -> str:
    """verified_solutions' votes_json: test id -> its vote (TestVoteRecord.entry)."""
    return json.dumps({r.test_id: r.entry() for r in vote_records(result)})


# ---- rows of verified_solutions ------------------------------------------------------------------


def plan(
    problem_ids: Sequence[str], generator_status: dict[str, str], with_candidates: set[str]
) -> tuple[list[str], dict[str, tuple[Rejection, str]]]:
    """Which problems can be voted on (tests ready, a usable candidate), and why the others cannot."""
    work, rejected = [], {}
    for problem_id in problem_ids:
        status = generator_status.get(problem_id)
        if status != "ok":
            rejected[problem_id] = (
                ("too_few_test_inputs", "too few valid test inputs")
                if status is not None
                else ("no_test_inputs", "no test inputs")
            )
        elif problem_id not in with_candidates:
            rejected[problem_id] = ("no_usable_candidate", "no usable candidate solution")
        else:
            work.append(problem_id)
    return work, rejected


def rejected_row(problem_id: str, reason: str, run_id: str, **voted: Any) -> dict[str, Any]:
    """A rejected problem's verified_solutions row (voted: the vote's figures when there was one)."""
    row = {
        "verified_id": make_id("ver", {"rejected": reason}, [problem_id]),
        "problem_id": problem_id,
        "candidate_id": None,
        "status": "rejected",
        "reason": reason,
        "is_golden": False,
        "golden_candidate_id": None,
        "tests_total": 0,
        "tests_verified": 0,
        "tests_selection": 0,
        "tests_holdout": 0,
        "mean_agreement": 0.0,
        "votes_json": "{}",
        "test_ids": [],
        "candidates_run": 0,
        "candidates_passing": 0,
        "max_time_s": None,
        "max_memory_kb": None,
        "code": None,
        "run_id": run_id,
    }
    row.update(voted)
    return row


def solution_rows(
    problem_id: str,
    test_ids: Sequence[str],
    candidates: Sequence[dict[str, Any]],
    runs: Sequence[Sequence[Any]],
    result: Verification,
    keep: str,
    run_id: str,
) -> list[dict[str, Any]]:
    """verified_solutions rows of one voted problem: its verified solutions (every passing candidate, or
    only the golden one with keep='golden'), or one rejected row."""
    passing = [c for c in range(len(candidates)) if result.passes[c] and all(result.passes[c].values())]
    common = {
        "problem_id": problem_id,
        "tests_total": len(test_ids),
        "tests_verified": len(result.selection) + len(result.holdout),
        "tests_selection": len(result.selection),
        "tests_holdout": len(result.holdout),
        "mean_agreement": sum(v.agreement for v in result.votes) / len(result.votes) if result.votes else 0.0,
        "votes_json": votes_json(result),
        "test_ids": list(test_ids),
        "candidates_run": len(candidates),
        "candidates_passing": len(passing),
        "golden_candidate_id": candidates[result.golden]["candidate_id"] if result.golden is not None else None,
        "run_id": run_id,
    }
    if result.status != "verified":
        voted = {k: v for k, v in common.items() if k not in ("problem_id", "run_id")}
        return [rejected_row(problem_id, result.reason or "rejected", run_id, **voted)]
    rows = []
    for index in [result.golden] if keep == "golden" else result.verified_candidates:
        cand = candidates[index]
        rows.append(
            {
                **common,
                "verified_id": make_id("ver", {"candidate": cand["candidate_id"]}, [problem_id]),
                "candidate_id": cand["candidate_id"],
                "status": "verified",
                "reason": None,
                "is_golden": index == result.golden,
                "max_time_s": max((run.wall_s for run in runs[index]), default=0.0),
                "max_memory_kb": max((run.max_rss_kb for run in runs[index]), default=0),
                "code": cand["code"],
            }
        )
    return rows


# LiveCodeBench's loader parses contest_date with datetime.fromisoformat, so an exported row needs a real date.
# A synthetic problem has no contest: a nightly batch's date is used, else this fixed day, before
# LiveCodeBench's first problem (May 2023), so a synthetic problem falls in none of its release windows.
SYNTHETIC_CONTEST_DATE = date(2023, 1, 1)
_NIGHTLY_DATE = re.compile(re.escape(NIGHTLY_PREFIX) + r"(\d{4}-\d{2}-\d{2})")


def synthetic_contest_date(batch: str | None) -> date:
    """The contest_date of a verified problem from this generation batch (see SYNTHETIC_CONTEST_DATE)."""
    shard = shard_of(batch or "")
    match = _NIGHTLY_DATE.fullmatch(shard.batch if shard else batch or "")  # a night's shards share its date
    if match:
        try:
            return date.fromisoformat(match.group(1))
        except ValueError:  # nightly-2026-13-40: not a day
            pass
    return SYNTHETIC_CONTEST_DATE


def lcb_functional_input(text: str) -> str:
    """A functional test's input as LiveCodeBench's harness reads it: one JSON argument per line, nothing else.
    The harness json.loads every line of input.split("\\n"), so a trailing newline (generators print one) or a
    blank line is an argument it cannot parse."""
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def lcb_row(
    problem: dict[str, Any],
    question: str,
    tests: Sequence[dict[str, Any]],
    result: Verification,
    golden_runs: Sequence[Any],
    batch: str | None = None,
) -> dict[str, Any]:
    """The problem with its verified tests as a LiveCodeBench code_generation_lite row, every field as the
    dataset writes it (expected outputs are the golden solution's outputs on the verified tests; examples
    public, the rest private as base64(zlib(pickle(json)))). `batch` (else the row's own `batch`) dates it."""
    functional = bool(problem["function_name"])
    verified = {v.test_id for v in result.votes if v.verified}
    testtype = "functional" if functional else "stdin"
    public, private = [], []
    for row, run in zip(tests, golden_runs):
        if row["test_id"] in verified:
            case = (
                # the strict driver printed json.dumps(result): the JSON value, as the dataset stores it
                {"input": lcb_functional_input(row["input"]), "output": run.stdout.strip(), "testtype": testtype}
                if functional
                else {"input": row["input"], "output": run.stdout, "testtype": testtype}
            )
            (public if row["kind"] == "example" else private).append(case)
    when = synthetic_contest_date(batch if batch is not None else problem.get("batch"))
    return {
        "question_title": problem["title"],
        "question_content": question,
        "platform": problem["style"],
        "question_id": problem["problem_id"],
        "contest_id": "xcoder-synthetic",
        "contest_date": datetime.combine(when, datetime.min.time()).isoformat(),
        "starter_code": problem["starter_code"] or "",
        "difficulty": "medium",
        "public_test_cases": json.dumps(public),
        "private_test_cases": encode_private_tests(private),
        "metadata": json.dumps({"func_name": problem["function_name"]} if functional else {}),
    }


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[tuple[str, int]]:
    """Counts per bin [low, high); the last bin includes its upper edge."""
    rows = []
    for low, high in zip(edges, edges[1:]):
        count = sum(1 for v in values if low <= v < high or (high == edges[-1] and v == high))
        rows.append((f"{low:.2f}-{high:.2f}", count))
    return rows


@dataclass
class VerificationTally:
    """What the vote did over all problems: the figures behind verified_solutions' metadata and checks."""

    tests: int = 0
    unverified: int = 0
    agreements: list[float] = field(default_factory=list)  # per voted test
    pass_rates: list[float] = field(default_factory=list)  # per voted problem: share of its candidates passing
    rejections: Counter = field(default_factory=Counter)  # Rejection -> problems

    def add(self, result: Verification) -> None:
        self.tests += len(result.votes)
        self.unverified += sum(not v.verified for v in result.votes)
        self.agreements += [v.agreement for v in result.votes]
        candidates = len(result.passes)
        passing = sum(1 for p in result.passes if p and all(p.values()))
        self.pass_rates.append(passing / candidates if candidates else 0.0)
        if result.rejection:
            self.rejections[result.rejection] += 1

    @property
    def unverified_share(self) -> float:
        return self.unverified / self.tests if self.tests else 0.0

    @property
    def easy(self) -> int:
        return sum(1 for r in self.pass_rates if r == 1.0)

    @property
    def easy_share(self) -> float:
        return self.easy / len(self.pass_rates) if self.pass_rates else 0.0


# ---- the stage: a batch's vote, a chunk of problems at a time ---------------------------------------


@dataclass(frozen=True)
class VoteTask:
    """One problem to vote on: its tests (ids and inputs, in order) and its candidates' code."""

    problem_id: str
    func_name: str | None
    test_ids: Sequence[str]
    inputs: Sequence[str]
    codes: Sequence[str]


def run_and_vote(
    tasks: Sequence[VoteTask], run: Run, meter: Any, settings: VoteSettings, label: str = "sandbox runs"
) -> tuple[list[tuple[Verification, list[list[Any]]]], SandboxFigures]:
    """Run every candidate of every task on its tests (one call of `run`) and vote: per task, the vote
    and its candidates' runs. verified_solutions and `xcoder vote` both decide through this."""
    programs = [Program(code, task.func_name) for task in tasks for code in task.codes]
    inputs = [list(task.inputs) for task in tasks for _ in task.codes]
    outcomes, figures = run(label, programs, inputs, meter)
    results, at = [], 0
    for task in tasks:
        runs = outcomes[at : at + len(task.codes)]
        at += len(task.codes)
        results.append((vote_on_runs(task.test_ids, runs, bool(task.func_name), settings), runs))
    return results, figures


@dataclass(frozen=True)
class ProblemToVerify:
    """What verified_solutions reads for one problem: its problems row, tests and usable candidates."""

    problem: dict[str, Any]
    tests: Sequence[dict[str, Any]]
    candidates: Sequence[dict[str, Any]]


@dataclass
class VerifyOutcome:
    """What verified_solutions' metadata and checks report, counted chunk by chunk."""

    tally: VerificationTally = field(default_factory=VerificationTally)
    figures: SandboxFigures = field(default_factory=SandboxFigures)
    sample: tuple[dict[str, Any], dict[str, Any]] | None = None  # a golden row and its problem, for the UI


def verify_problems(
    chunks: Iterable[Sequence[str]],
    load: Callable[[Sequence[str]], list[ProblemToVerify]],
    problems: int,
    settings: VoteSettings,
    keep: str,
    batch: str | None,
    run_id: str,
    run: Run,
    write: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None],
    log: Callable[[str], Any],
    rejected: Mapping[str, tuple[Rejection, str]] | None = None,
) -> VerifyOutcome:
    """The vote over a batch's problems (ids in chunks; `load` reads a chunk's problems): per chunk, run
    and vote, then hand its verified_solutions rows and LiveCodeBench rows to `write`; last, the rows of
    the problems `plan` rejected before any run (`rejected`: problem id -> (kind, reason)), counted too."""
    outcome = VerifyOutcome()
    progress = StageProgress("verified_solutions: sandbox runs", log, problems, **SANDBOX_COUNTS)
    for ids in chunks:
        loaded = load(ids)
        tasks = [
            VoteTask(
                p.problem["problem_id"],
                p.problem["function_name"],
                [t["test_id"] for t in p.tests],
                [t["input"] for t in p.tests],
                [c["code"] for c in p.candidates],
            )
            for p in loaded
        ]
        voted, figures = run_and_vote(tasks, run, progress.part(len(ids)), settings, progress.meter.label)
        rows, lcb_rows = [], []
        for p, task, (result, runs) in zip(loaded, tasks, voted):
            outcome.tally.add(result)
            made = solution_rows(task.problem_id, task.test_ids, p.candidates, runs, result, keep, run_id)
            rows += made
            if result.status == "verified":
                question = problem_question(p.problem)
                lcb_rows.append(lcb_row(p.problem, question, p.tests, result, runs[result.golden], batch))
                if outcome.sample is None:
                    outcome.sample = (next(r for r in made if r["is_golden"]), p.problem)
        write(rows, lcb_rows)
        outcome.figures += figures
    progress.finish()
    rejected = rejected or {}
    outcome.tally.rejections.update(kind for kind, _ in rejected.values())
    write([rejected_row(problem_id, reason, run_id) for problem_id, (_, reason) in rejected.items()], [])
    return outcome


# A batch's gate is kept in verified_solutions' settings record under this key (made_with), so every
# later reader of the batch (training_shards) knows whether it passed.
GATE_RECORD = "gate"


@dataclass(frozen=True)
class VerificationGate:
    """Whether a batch's vote verified enough of its tests to be trained on (no tests: closed)."""

    passed: bool
    verified_test_share: float
    threshold: float
    tests: int

    @classmethod
    def of(cls, tally: VerificationTally, min_share: float) -> "VerificationGate":
        share = 1.0 - tally.unverified_share if tally.tests else 0.0
        return cls(bool(tally.tests) and share >= min_share, round(share, 4), min_share, tally.tests)

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> "VerificationGate | None":
        """The gate a settings record holds (None: a record written before gates, or none at all)."""
        if not isinstance(record, dict):
            return None
        return cls(
            bool(record.get("passed", True)),
            record.get("verified_test_share", 0.0),
            record.get("threshold", 0.0),
            int(record.get("tests", 0)),
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "verified_test_share": self.verified_test_share,
            "threshold": self.threshold,
            "tests": self.tests,
        }

    @property
    def reason(self) -> str:
        """Why a closed gate is closed."""
        if not self.tests:
            return "no test was voted on"
        return f"verified_test_share {self.verified_test_share} < {self.threshold}"
