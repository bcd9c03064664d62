"""A labelled study of the vote: simulated candidates of known correctness on tests with known outputs.

Used by the tests and by `benchmarks/vote_accuracy.py`, which reports the figures the recipe's
accuracy report gives: voted-output accuracy and the share of problems whose golden solution
passes every true test, for 4, 8 and 16 candidates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from xcoder_assets.recipe.verification import verify

# The offline simulator's mix of candidate kinds (llm/offline_solve.py); unusable answers never vote.
KINDS = {"correct": 0.45, "agreeing_wrong": 0.15, "random_wrong": 0.10, "crash": 0.10, "timeout": 0.08, "unusable": 0.12}


@dataclass
class StudyResult:
    candidates: int
    problems: int
    tests: int
    tests_voted_right: int  # verified tests whose voted output is the true output
    tests_voted_wrong: int
    tests_unverified: int
    golden_chosen: int
    golden_passes_all_true: int

    @property
    def voted_accuracy(self) -> float:
        """Of the tests that got a voted output, the share that is right."""
        voted = self.tests_voted_right + self.tests_voted_wrong
        return self.tests_voted_right / voted if voted else 0.0

    @property
    def golden_accuracy(self) -> float:
        """Of the problems with a golden solution, the share whose golden passes every true test."""
        return self.golden_passes_all_true / self.golden_chosen if self.golden_chosen else 0.0


def candidate_outputs(kind: str, truths: list[str], index: int, rng: random.Random) -> list[str | None] | None:
    if kind == "correct":
        return list(truths)
    if kind == "agreeing_wrong":
        return [t + "+1" for t in truths]
    if kind == "random_wrong":
        return [t + f"+{2 + index}" for t in truths]
    if kind in ("crash", "timeout"):
        return [None] * len(truths)
    return None  # unusable: no code, so no candidate


def run_study(candidates: int, problems: int = 500, tests: int = 12, seed: int = 0, kinds: dict[str, float] = KINDS,
              min_agreement: float = 0.5, holdout_share: float = 0.3) -> StudyResult:
    rng = random.Random(seed)
    names, weights = list(kinds), list(kinds.values())
    result = StudyResult(candidates, problems, 0, 0, 0, 0, 0, 0)
    for p in range(problems):
        truths = [f"out-{p}-{t}" for t in range(tests)]
        drawn = rng.choices(names, weights=weights, k=candidates)
        outputs, correct = [], []
        for index, kind in enumerate(drawn):
            produced = candidate_outputs(kind, truths, index, rng)
            if produced is not None:
                outputs.append(produced)
                correct.append(kind == "correct")
        test_ids = [f"t{t}" for t in range(tests)]
        verification = verify(test_ids, outputs, min_agreement=min_agreement, holdout_share=holdout_share,
                              min_verified_tests=3, seed=p)
        result.tests += tests
        for test, vote in enumerate(verification.votes):
            if not vote.verified:
                result.tests_unverified += 1
            elif vote.expected == truths[test]:
                result.tests_voted_right += 1
            else:
                result.tests_voted_wrong += 1
        if verification.status == "verified":
            result.golden_chosen += 1
            result.golden_passes_all_true += correct[verification.golden]
    return result
