"""The vote's accuracy on a labelled simulation, reported like the recipe's accuracy report.

    .venv/bin/python benchmarks/vote_accuracy.py

Candidates are drawn with the offline simulator's mix (45% correct, 15% wrong and agreeing, 10%
wrong and disagreeing, 10% crashing, 8% timing out, 12% unusable) on 500 problems of 12 tests.
"""

from xcoder_assets.recipe.vote_study import run_study


def main() -> None:
    print("candidates  voted-output accuracy  tests unverified  problems with golden  golden passes all true tests")
    for candidates in (4, 8, 16):
        r = run_study(candidates)
        print(f"{candidates:>10}  {r.voted_accuracy:>21.2%}  {r.tests_unverified / r.tests:>16.2%}  "
              f"{r.golden_chosen / r.problems:>20.2%}  {r.golden_accuracy:>28.2%}")


if __name__ == "__main__":
    main()
