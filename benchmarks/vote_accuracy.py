"""The vote's accuracy on a labelled simulation, beside the recipe's dual-verification figures.

    .venv/bin/python benchmarks/vote_accuracy.py [--problems 500] [--seed 0] [--spread-seeds 10]

Candidates are simulated per test (xcoder_assets/recipe/vote_study.py: correct programs, plausible
wrong methods that agree with each other, off-by-one bugs failing on boundary tests, arbitrary wrong
programs, crashes on some inputs, time limits on large inputs, unusable answers), on problems of 12
tests with known outputs. The four figures per candidate count come from separate counts.
"""

from __future__ import annotations

import argparse
import statistics
import time

from xcoder_assets.recipe.vote_study import DEFAULT_PARAMS, run_study

COUNTS = (4, 8, 16)
# The X-Coder paper's dual-verification study: voted-output accuracy and golden-solution accuracy.
RECIPE_VOTED = {4: 0.9175, 8: 0.9208, 16: 0.9247}
RECIPE_GOLDEN = {4: 0.842, 8: 0.850, 16: 0.858}

HEADER = """\
Figures per candidate count, each from its own count (they do not add up to anything):
  voted-output accuracy  verified tests whose voted output is the true output / verified tests
  tests unverified       tests the vote left without an output (tie, agreement < {agreement:g},
                         no run ended normally) / all tests
  golden accuracy        problems whose golden solution passes every true test (all tests, the
                         unverified ones too; a crash or time limit fails) / problems with a golden
  problems rejected      problems without a golden solution (under {min_tests} verified tests, or
                         the best candidate fails a held-out or a selection test) / all problems
  recipe                 the X-Coder paper's figures (voted-output and golden-solution accuracy)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--spread-seeds",
        type=int,
        default=10,
        help="also run this many seeds and print each figure's standard deviation (0: skip)",
    )
    args = parser.parse_args()
    params = DEFAULT_PARAMS
    started = time.perf_counter()

    print(
        f"Vote study: {args.problems} simulated problems of {sum(n for _, n in params.tests)} tests, seed {args.seed}."
    )
    print(HEADER.format(agreement=params.min_agreement, min_tests=params.min_verified_tests))
    print(
        "| candidates | voted-output accuracy | recipe | tests unverified | golden accuracy | recipe | problems rejected |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in COUNTS:
        r = run_study(n, problems=args.problems, seed=args.seed, params=params)
        print(
            f"| {n} | {r.voted_accuracy:.2%} | {RECIPE_VOTED[n]:.2%} | {r.unverified_share:.2%} | "
            f"{r.golden_accuracy:.2%} | {RECIPE_GOLDEN[n]:.1%} | {r.rejected_share:.2%} |"
        )

    if args.spread_seeds > 0:
        print(
            f"\nSeed-to-seed standard deviation (seeds {args.seed + 1}..{args.seed + args.spread_seeds}, "
            f"{args.problems} problems each), in points:"
        )
        for n in COUNTS:
            runs = [
                run_study(n, problems=args.problems, seed=args.seed + 1 + s, params=params)
                for s in range(args.spread_seeds)
            ]
            sd = {
                name: statistics.stdev(getattr(r, name) for r in runs) * 100 if len(runs) > 1 else 0.0
                for name in ("voted_accuracy", "unverified_share", "golden_accuracy", "rejected_share")
            }
            print(
                f"  {n:>2} candidates: voted {sd['voted_accuracy']:.2f}, unverified {sd['unverified_share']:.2f}, "
                f"golden {sd['golden_accuracy']:.2f}, rejected {sd['rejected_share']:.2f}"
            )

    print("\nParameters (xcoder_assets.recipe.vote_study.StudyParams):")
    print(params.describe())
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
