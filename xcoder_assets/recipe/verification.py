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
from typing import Any, Literal, Sequence

from xcoder_assets.sandbox.compare import canonical_number

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
    blocks = [body for lang, body in _CODE_BLOCK.findall(answer or "") if lang.lower() in ("python", "py", "python3", "")]
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


def vote(test_id: str, outputs: Sequence[str | None], min_agreement: float = 0.5) -> TestVote:
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
        return TestVote(test_id, None, top, len(normal), len(outputs), agreement, False,
                        f"agreement {agreement:.2f} below {min_agreement:.2f}", hashed)
    return TestVote(test_id, top_output, top, len(normal), len(outputs), agreement, True, None, hashed)


def is_holdout(test_id: str, share: float, seed: int = 0) -> bool:
    """A stable split: a test is held out when its hash falls below `share`."""
    digest = int(hashlib.sha256(f"{seed}:{test_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return digest < share


@dataclass
class Verification:
    votes: list[TestVote]
    selection: list[str]
    holdout: list[str]
    passes: list[dict[str, bool]]  # per candidate: verified test id -> passed
    golden: int | None
    golden_passes_holdout: bool
    verified_candidates: list[int]
    status: str  # verified | rejected
    reason: str | None


def verify(test_ids: Sequence[str], outputs: Sequence[Sequence[str | None]], *, min_agreement: float = 0.5,
           holdout_share: float = 0.3, min_verified_tests: int = 3, seed: int = 0) -> Verification:
    """`outputs[c][t]`: candidate c's canonical output on test t, None when its run did not end normally."""
    candidates = len(outputs)
    votes = [vote(t, [outputs[c][i] for c in range(candidates)], min_agreement) for i, t in enumerate(test_ids)]
    verified = [(i, v) for i, v in enumerate(votes) if v.verified]
    holdout = [v.test_id for _, v in verified if is_holdout(v.test_id, holdout_share, seed)]
    selection = [v.test_id for _, v in verified if v.test_id not in holdout]
    passes = [{v.test_id: outputs[c][i] == v.expected for i, v in verified} for c in range(candidates)]
    if candidates == 0:
        return Verification(votes, selection, holdout, passes, None, False, [], "rejected", "no candidate solution")
    if len(verified) < min_verified_tests:
        return Verification(votes, selection, holdout, passes, None, False, [], "rejected",
                            f"only {len(verified)} verified tests (at least {min_verified_tests} needed)")
    if not selection:
        return Verification(votes, selection, holdout, passes, None, False, [], "rejected", "no selection tests")
    ranking = sorted(range(candidates), key=lambda c: (-sum(passes[c][t] for t in selection),
                                                       -sum(passes[c].values()), c))
    golden = ranking[0]
    if not any(passes[golden][t] for t in selection):
        return Verification(votes, selection, holdout, passes, None, False, [], "rejected",
                            "no candidate passes any selection test")
    holds = all(passes[golden][t] for t in holdout)
    if not holds:
        failed = sum(not passes[golden][t] for t in holdout)
        return Verification(votes, selection, holdout, passes, golden, False, [], "rejected",
                            f"the golden solution fails {failed} of {len(holdout)} held-out tests")
    winners = [c for c in range(candidates) if all(passes[c].values())]
    return Verification(votes, selection, holdout, passes, golden, True, winners, "verified", None)
