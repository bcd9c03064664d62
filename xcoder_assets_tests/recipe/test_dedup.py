"""Deduplication: exact and near copies across problems and across solutions of one problem."""

from xcoder_assets.recipe.dedup import code_tokens, deduplicate, deduplicate_solutions, normalize_tokens

STATEMENT = (
    "Given a grid of r rows and c columns where some cells are walls, find the length of the shortest path "
    "from the top left cell to the bottom right cell moving in four directions, or report -1 when the "
    "bottom right cell cannot be reached from the start at all."
)
NEAR = STATEMENT.replace(" at all", "")  # a few words off the end: most 5-shingles remain
OTHER = (
    "Count the pairs of indices i < j such that the sum of the two chosen values is divisible by k, where the "
    "values are given as a list of n positive integers and k is a positive integer."
)


def segs(text):
    return [normalize_tokens(text)]


def test_exact_near_and_unique_problems():
    verdicts = deduplicate(
        [
            ("p1", segs(STATEMENT)),
            ("p2", segs(STATEMENT.replace("r rows", "h rows"))),
            ("p3", segs(NEAR)),
            ("p4", segs(OTHER)),
        ],
        threshold=0.8,
        shingle=5,
    )
    assert verdicts["p1"].status == "unique" and verdicts["p4"].status == "unique"
    # another single-letter name is the same statement after normalization: an exact copy
    assert (verdicts["p2"].status, verdicts["p2"].duplicate_of, verdicts["p2"].score) == ("exact_duplicate", "p1", 1.0)
    assert verdicts["p3"].status == "near_duplicate" and verdicts["p3"].duplicate_of == "p1"
    assert 0.8 <= verdicts["p3"].score < 1.0


def test_order_decides_which_copy_is_kept():
    verdicts = deduplicate([("b", segs(NEAR)), ("a", segs(STATEMENT))], threshold=0.8, shingle=5)
    assert verdicts["b"].status == "unique" and verdicts["a"].duplicate_of == "b"


SOLUTION = "def solve(nums, k):\n    # count pairs\n    total = 0\n    for i in range(len(nums)):\n        for j in range(i + 1, len(nums)):\n            if (nums[i] + nums[j]) % k == 0:\n                total += 1\n    return total\n"
REFORMATTED = SOLUTION.replace("    # count pairs\n", "").replace("total = 0", "total  =  0") + "\n\n"
NEAR_SOLUTION = SOLUTION.replace("return total", "result = total\n    return result")
DIFFERENT = "def solve(nums, k):\n    from collections import Counter\n    seen = Counter()\n    out = 0\n    for x in nums:\n        out += seen[(-x) % k]\n        seen[x % k] += 1\n    return out\n"


def test_solution_duplicates_within_one_problem():
    verdicts = deduplicate_solutions(
        [("s1", SOLUTION), ("s2", REFORMATTED), ("s3", NEAR_SOLUTION), ("s4", DIFFERENT)], threshold=0.7
    )
    assert verdicts["s1"].status == "unique" and verdicts["s4"].status == "unique"
    assert (verdicts["s2"].status, verdicts["s2"].duplicate_of) == ("exact_duplicate", "s1")
    assert (verdicts["s3"].status, verdicts["s3"].duplicate_of) == ("near_duplicate", "s1")


def test_code_tokens_ignore_comments_and_layout_but_not_names():
    assert code_tokens(SOLUTION) == code_tokens(REFORMATTED)
    assert code_tokens(SOLUTION) != code_tokens(SOLUTION.replace("total", "count"))
    assert code_tokens("def f(:\n  '''unterminated") == ["def", "f(:", "'''unterminated"]
