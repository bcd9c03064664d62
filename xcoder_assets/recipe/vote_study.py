"""A labelled study of the vote: simulated candidates whose behaviour on each test is known.

Used by the tests and by `benchmarks/vote_accuracy.py`, which reports, for 4, 8 and 16 candidates,
four figures computed from separate counts (none is derived from another):

1. voted-output accuracy: verified tests whose voted output is the true output / verified tests
   (the recipe's "voted-output accuracy");
2. tests left unverified: unverified tests / all tests;
3. golden accuracy: problems whose golden solution passes every true test (every test of the problem,
   unverified ones included, judged against the true output; a crash or a time limit fails) /
   problems with a golden solution (the recipe's "golden-solution accuracy");
4. problems rejected: problems without a golden solution (too few verified tests, or the golden one
   fails a held-out test) / all problems.

The model (a simulation, not a measurement)
-------------------------------------------
A problem has tests with attributes, in the pipeline's order (test_inputs: the statement's example,
then small edge cases, random cases, maximal cases): a kind (example / small / random / max) and
whether it is a boundary case (n = 1, equal values, values at the limits), drawn per test with a
probability that depends on its kind.

A problem also has a difficulty: its share of correct samples is drawn from a Beta distribution
whose mean is `mix["correct"]` (`difficulty_concentration` sets the spread; the other kinds share
the rest in the proportions of `mix`). Real problems are not equally hard, and on a hard one the
wrong answers outnumber the right ones whatever the number of samples: that is what keeps the vote
from approaching 100% as candidates are added.

Each sample is of one kind, and on each test it either ends normally with an output or does not
(a crash, a time limit), drawn per test from its kind and the test's attributes:

- correct: the true output, except a time limit on a maximal test with a small probability (a
  right algorithm with a heavy constant factor);
- plausible_wrong: a plausible but wrong method (a greedy where a DP is needed, a misread
  statement). Per problem a set of "trap" tests is drawn once (more likely on random and maximal
  tests, rarely on the example, which models check their code against); on a trap test each such
  sample gives, with probability `plausible_follow`, the SAME wrong output as every other
  plausible_wrong sample of the problem, elsewhere the true one. These are the correlated wrong
  outputs that let the plurality pick a wrong output;
- off_by_one: fails mostly on boundary tests; its wrong output is the common one (answer + 1,
  shared by all off-by-one samples of the problem) with probability `off_by_one_shared`, else its
  own;
- other_wrong: wrong in its own way, failing on most tests (less often on the example and small
  tests) with an output that agrees with nobody;
- crash: the true output, except a runtime error on some inputs (often boundary cases, sometimes
  maximal ones: recursion depth, memory);
- slow: the true output, except a time limit on maximal (and some random) tests;
- unusable: no code (cut off at max_tokens, no code block, two blocks, a syntax error): the
  pipeline drops it before the vote, so it never votes.

As in the pipeline (`verified_solutions`, `abandon_after_timeouts=1`), a candidate is not run on
the tests after its first time limit: those runs do not end normally either, so they do not vote
(but the candidate is still judged on every true test by what it would have done).

Calibration (an assumption about model-written code for hard, competition-style problems, not a
measurement and not fitted to the recipe's figures): 45% of the samples are right on average, with a
wide spread over problems (per-problem pass rates of code models are far from uniform: many problems
are solved by nearly every sample or by nearly none); of the other 55%, about 60% give wrong outputs
(mostly a plausible wrong method or a boundary mistake, a minority arbitrary), about a quarter crash
or run out of time, about a tenth are unusable. Not modelled: problems with several right answers
(a checker instead of an exact comparison), where even correct programs disagree.

Candidate i of a problem depends only on (seed, problem, i), so 4 candidates are the first 4 of the
8, which are the first 8 of the 16: the figures for 4 / 8 / 16 come from the same problems and
nested samples, as when one asks a model for more.

This is NOT the offline simulator's mix (`simulator/solve.py` deals each block of eight samples from a
per-problem difficulty, and its wrong samples never agree with each other among eight); it is a harder
one, to see what the vote does when errors are partial and correlated.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from xcoder_assets.recipe.verification import verify

TEST_KINDS = ("example", "small", "random", "max")
CANDIDATE_KINDS = ("correct", "plausible_wrong", "off_by_one", "other_wrong", "crash", "slow", "unusable")


def _per_kind(example: float, small: float, random_: float, max_: float) -> dict[str, float]:
    return {"example": example, "small": small, "random": random_, "max": max_}


@dataclass(frozen=True)
class StudyParams:
    """Every parameter of the simulation (probabilities are per test unless said otherwise)."""

    # tests per problem by kind, in the order the candidates run them (12 tests by default: the
    # pipeline's 3 small + 6 random + 2 max generated cases and one example)
    tests: tuple[tuple[str, int], ...] = (("example", 1), ("small", 3), ("random", 6), ("max", 2))
    # probability that a test of a kind is a boundary case
    boundary: dict[str, float] = field(default_factory=lambda: _per_kind(0.2, 0.6, 0.1, 0.5))
    # share of samples of each kind at the average problem (sums to 1)
    mix: dict[str, float] = field(
        default_factory=lambda: {
            "correct": 0.45,
            "plausible_wrong": 0.16,
            "off_by_one": 0.09,
            "other_wrong": 0.09,
            "crash": 0.07,
            "slow": 0.08,
            "unusable": 0.06,
        }
    )
    # a + b of the Beta(a, b) a problem's correct share is drawn from (mean mix["correct"]); lower is
    # more spread (2: Beta(0.9, 1.1), a quarter of the problems below 20% correct, a quarter above
    # 70%); None: every problem has the average mix
    difficulty_concentration: float | None = 2.0
    # correct: a time limit on a maximal test
    correct_timeout_max: float = 0.03
    # plausible_wrong: probability that a test is a trap for the problem's wrong method (drawn once
    # per problem), raised by `trap_boundary` on boundary tests; a sample falls into a trap with
    # probability `plausible_follow`
    trap: dict[str, float] = field(default_factory=lambda: _per_kind(0.05, 0.2, 0.5, 0.6))
    trap_boundary: float = 0.2
    plausible_follow: float = 0.9
    # off_by_one: failure on boundary / other tests; share of its wrong outputs that are the common one
    off_by_one_boundary: float = 0.85
    off_by_one_other: float = 0.03
    off_by_one_shared: float = 0.7
    # other_wrong: failure per test kind (its own wrong output)
    other_wrong_fail: dict[str, float] = field(default_factory=lambda: _per_kind(0.3, 0.5, 0.8, 0.8))
    # crash: runtime error on boundary tests / per kind on the others
    crash_boundary: float = 0.5
    crash_other: dict[str, float] = field(default_factory=lambda: _per_kind(0.0, 0.1, 0.05, 0.3))
    # slow: time limit per test kind
    slow_timeout: dict[str, float] = field(default_factory=lambda: _per_kind(0.0, 0.0, 0.15, 0.95))
    # the pipeline's settings (verified_solutions)
    abandon_after_timeouts: int | None = 1
    min_agreement: float = 0.5
    holdout_share: float = 0.3
    min_verified_tests: int = 3

    def describe(self) -> str:
        lines = []
        for name, value in asdict(self).items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v:g}" for k, v in value.items())
            elif isinstance(value, tuple):
                value = ", ".join(f"{n} {k}" for k, n in value)
            lines.append(f"  {name}: {value}")
        return "\n".join(lines)


DEFAULT_PARAMS = StudyParams()


@dataclass
class StudyResult:
    candidates: int
    problems: int
    tests: int = 0
    tests_voted_right: int = 0  # verified tests whose voted output is the true output
    tests_voted_wrong: int = 0  # verified tests whose voted output is not
    tests_unverified: int = 0
    golden_chosen: int = 0  # problems with a golden solution (verified)
    golden_passes_all_true: int = 0  # ... whose golden solution passes every true test
    problems_rejected: int = 0  # problems without one
    usable_candidates: int = 0  # candidates that took part in the vote (unusable ones do not)

    @property
    def voted_accuracy(self) -> float:
        """(1) Of the tests that got a voted output, the share whose voted output is the true one."""
        voted = self.tests_voted_right + self.tests_voted_wrong
        return self.tests_voted_right / voted if voted else 0.0

    @property
    def unverified_share(self) -> float:
        """(2) Of all tests, the share the vote left without an output (tie, low agreement, no normal run)."""
        return self.tests_unverified / self.tests if self.tests else 0.0

    @property
    def golden_accuracy(self) -> float:
        """(3) Of the problems with a golden solution, the share whose golden passes every true test."""
        return self.golden_passes_all_true / self.golden_chosen if self.golden_chosen else 0.0

    @property
    def rejected_share(self) -> float:
        """(4) Of all problems, the share without a golden solution."""
        return self.problems_rejected / self.problems if self.problems else 0.0


@dataclass(frozen=True)
class Test:
    __test__ = False  # not a pytest class

    kind: str
    boundary: bool
    trap: bool  # the plausible wrong method fails here


@dataclass
class Candidate:
    kind: str
    outputs: list[str | None]  # what it does on each test: an output, or None (crash, time limit)
    timeouts: list[bool]


def problem_tests(params: StudyParams, rng: random.Random) -> list[Test]:
    tests = []
    for kind, count in params.tests:
        for _ in range(count):
            boundary = rng.random() < params.boundary[kind]
            trap = rng.random() < min(1.0, params.trap[kind] + (params.trap_boundary if boundary else 0.0))
            tests.append(Test(kind, boundary, trap))
    return tests


def kind_weights(params: StudyParams, rng: random.Random) -> dict[str, float]:
    """This problem's mix: its correct share drawn around mix["correct"], the rest in mix's proportions."""
    mean = params.mix.get("correct", 0.0)
    others = {k: w for k, w in params.mix.items() if k != "correct" and w > 0}
    if not others:
        return {"correct": 1.0}
    if mean <= 0:
        return others
    k = params.difficulty_concentration
    share = rng.betavariate(mean * k, (1 - mean) * k) if k and mean < 1 else mean
    rest = sum(others.values())
    return {"correct": share, **{name: (1 - share) * w / rest for name, w in others.items()}}


def make_candidate(
    kind: str, tests: list[Test], truths: list[str], index: int, params: StudyParams, rng: random.Random
) -> Candidate | None:
    if kind == "unusable":
        return None
    if kind not in CANDIDATE_KINDS:
        raise ValueError(f"unknown candidate kind {kind!r}")
    outputs: list[str | None] = []
    timeouts: list[bool] = []
    for test, truth in zip(tests, truths):
        output: str | None = truth
        timeout = False
        roll = rng.random()
        if kind == "correct":
            timeout = test.kind == "max" and roll < params.correct_timeout_max
        elif kind == "plausible_wrong":
            if test.trap and roll < params.plausible_follow:
                output = truth + "/plausible"
        elif kind == "off_by_one":
            if roll < (params.off_by_one_boundary if test.boundary else params.off_by_one_other):
                output = truth + "+1" if rng.random() < params.off_by_one_shared else f"{truth}/own{index}"
        elif kind == "other_wrong":
            if roll < params.other_wrong_fail[test.kind]:
                output = f"{truth}/own{index}"
        elif kind == "crash":
            output = (
                None if roll < (params.crash_boundary if test.boundary else params.crash_other[test.kind]) else truth
            )
        elif kind == "slow":
            timeout = roll < params.slow_timeout[test.kind]
        if timeout:
            output = None
        outputs.append(output)
        timeouts.append(timeout)
    return Candidate(kind, outputs, timeouts)


def voting_outputs(candidate: Candidate, abandon_after_timeouts: int | None) -> list[str | None]:
    """What the vote sees: runs after the candidate's n-th time limit are not made (no vote)."""
    if abandon_after_timeouts is None:
        return list(candidate.outputs)
    seen, out = 0, []
    for output, timeout in zip(candidate.outputs, candidate.timeouts):
        out.append(None if seen >= abandon_after_timeouts else output)
        seen += timeout
    return out


def simulate_problem(
    p: int, candidates: int, seed: int = 0, params: StudyParams = DEFAULT_PARAMS
) -> tuple[list[Test], list[str], list[Candidate]]:
    """Problem p's tests, true outputs and usable candidates (unusable samples dropped, as in the pipeline).
    Sample i depends only on (seed, p, i): the candidates for n samples are the first ones for more."""
    problem_rng = random.Random(f"{seed}:problem:{p}")
    tests = problem_tests(params, problem_rng)
    weights = kind_weights(params, problem_rng)
    names, shares = list(weights), list(weights.values())
    truths = [f"out-{p}-{t}" for t in range(len(tests))]
    pool: list[Candidate] = []
    for i in range(candidates):
        rng = random.Random(f"{seed}:problem:{p}:candidate:{i}")
        made = make_candidate(rng.choices(names, weights=shares)[0], tests, truths, i, params, rng)
        if made is not None:
            pool.append(made)
    return tests, truths, pool


def run_study(candidates: int, problems: int = 500, seed: int = 0, params: StudyParams = DEFAULT_PARAMS) -> StudyResult:
    """The vote on `problems` simulated problems with `candidates` samples each (unusable ones included)."""
    result = StudyResult(candidates, problems)
    for p in range(problems):
        tests, truths, pool = simulate_problem(p, candidates, seed, params)
        result.usable_candidates += len(pool)
        verification = verify(
            [f"t{t}" for t in range(len(tests))],
            [voting_outputs(c, params.abandon_after_timeouts) for c in pool],
            min_agreement=params.min_agreement,
            holdout_share=params.holdout_share,
            min_verified_tests=params.min_verified_tests,
            seed=p,
        )
        result.tests += len(tests)
        for t, test_vote in enumerate(verification.votes):
            if not test_vote.verified:
                result.tests_unverified += 1
            elif test_vote.expected == truths[t]:
                result.tests_voted_right += 1
            else:
                result.tests_voted_wrong += 1
        if verification.status == "verified":
            result.golden_chosen += 1
            result.golden_passes_all_true += pool[verification.golden].outputs == truths
        else:
            result.problems_rejected += 1
    return result
