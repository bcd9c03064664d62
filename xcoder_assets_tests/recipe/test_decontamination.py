"""Decontamination: paraphrases of benchmark statements are flagged, same-topic problems and stock
phrasing are not, and bad files are one clear message."""

import json

import pytest

from xcoder_assets.recipe.decontamination import (
    BoilerplateCutter,
    BenchmarkText,
    DecontaminationInputError,
    DecontaminationSettings,
    Decontaminator,
    decontaminate_files,
    load_benchmark,
)
from xcoder_assets.recipe.dedup import normalize_tokens

BENCHMARK_STATEMENT = (
    "You are given an array a of n integers and an integer k. In one operation you may choose an index i such that "
    "1 <= i <= n and increase a_i by exactly k. A segment of the array is called balanced when the largest element "
    "of the segment minus the smallest element of the segment is at most k. Your task is to find the minimum number "
    "of operations required so that the entire array becomes one balanced segment, or report that it is impossible "
    "to reach such a state.\n"
    "Input\nThe first line contains a single integer t (1 <= t <= 10^4) - the number of test cases. "
    "The first line of each test case contains two integers n and k (1 <= n <= 2 * 10^5, 1 <= k <= 10^9). "
    "The second line of each test case contains n integers a_1, a_2, ..., a_n (1 <= a_i <= 10^9). "
    "It is guaranteed that the sum of n over all test cases does not exceed 2 * 10^5.\n"
    "Output\nFor each test case, print the minimum number of operations, or -1 if the array can never be made "
    "balanced by such operations."
)

# Renamed variables (a->b, n->m, k->d, i->j), changed numbers, sentences in another order, other TeX.
PARAPHRASE = (
    "A segment of the array is called balanced when the largest element of the segment minus the smallest element "
    "of the segment is at most $d$. You are given an array $b$ of $m$ integers and an integer $d$. "
    "Your task is to find the minimum number of operations required so that the entire array becomes one balanced "
    "segment, or report that it is impossible to reach such a state. In one operation you may choose an index $j$ "
    "such that $1 \\le j \\le m$ and increase $b_j$ by exactly $d$.\n"
    "Input\nThe first line of each test case contains two integers m and d (1 \\le m \\le 3 \\cdot 10^5, "
    "1 \\le d \\le 10^{18}). For each test case, print the minimum number of operations, or -1 if the array can "
    "never be made balanced by such operations."
)

# The same topic (arrays, operations, segments) and the same stock sentences, a different problem.
SAME_TOPIC = (
    "You are given an array a of n integers. In one operation you may pick two adjacent elements and replace them "
    "by their sum. Determine the maximum possible length of the array after performing operations so that the "
    "array is sorted in non-decreasing order.\n"
    "Input\nThe first line contains a single integer t (1 <= t <= 10^4) - the number of test cases. "
    "The first line of each test case contains a single integer n (1 <= n <= 2 * 10^5). "
    "The second line of each test case contains n integers a_1, a_2, ..., a_n (1 <= a_i <= 10^9). "
    "It is guaranteed that the sum of n over all test cases does not exceed 2 * 10^5.\n"
    "Output\nFor each test case, print a single integer - the answer to the problem."
)

BOILERPLATE_ONLY = (
    "Each test contains multiple test cases. The first line contains the number of test cases t (1 <= t <= 10^4). "
    "The description of the test cases follows. The first line of each test case contains a single integer n "
    "(1 <= n <= 2 * 10^5). The second line of each test case contains n integers a_1, a_2, ..., a_n "
    "(1 <= a_i <= 10^9). It is guaranteed that the sum of n over all test cases does not exceed 2 * 10^5. "
    "For each test case, output a single integer - the answer to the problem."
)

OTHER_BENCHMARK = (
    "Takahashi has a string S of length N consisting of lowercase English letters. He wants to know how many "
    "distinct substrings of S are palindromes that appear at least twice. Print the answer."
)


def checker(**settings):
    benchmark = [
        BenchmarkText("cf_9999_B", "test", "Balanced segment\n" + BENCHMARK_STATEMENT),
        BenchmarkText("abc999_c", "test", "Twice palindromes\n" + OTHER_BENCHMARK),
    ]
    return Decontaminator(benchmark, DecontaminationSettings(**settings))


def test_planted_paraphrase_is_flagged_by_both_methods():
    flag = checker().check("cand-1", PARAPHRASE)
    assert flag is not None and flag.benchmark_id == "cf_9999_B"
    assert flag.method == "ngram" and flag.matches >= 3 and 0 < flag.score <= 1
    # MinHash alone (n-grams too long to match) still finds it: sentence order does not hide a copy
    minhash_only = checker(ngram=60).check("cand-1", PARAPHRASE)
    assert minhash_only is not None and minhash_only.method == "minhash" and minhash_only.score >= 0.5
    assert minhash_only.benchmark_id == "cf_9999_B"


def test_unrelated_problem_of_the_same_topic_is_not_flagged():
    assert checker().check("cand-2", SAME_TOPIC) is None


def test_codeforces_boilerplate_alone_does_not_flag():
    assert checker().check("cand-3", BOILERPLATE_ONLY) is None
    # with a 1-match rule and a low MinHash bar, still nothing: the stock sentences are cut out first
    assert checker(ngram_min_matches=1, minhash_threshold=0.2).check("cand-3", BOILERPLATE_ONLY) is None


def test_boilerplate_is_cut_and_ngrams_never_span_the_cut():
    cutter = BoilerplateCutter()
    segments = cutter.segments(normalize_tokens("alpha beta gamma. Print the answer. delta epsilon"))
    assert segments == [["alpha", "beta", "gamma"], ["delta", "epsilon"]]


def test_normalization_folds_numbers_names_and_tex():
    assert normalize_tokens("1 \\le n \\le 2 \\cdot 10^5") == normalize_tokens("1 <= m <= 10^{18}")
    assert normalize_tokens("Take $\\texttt{abc}$") == ["take", "abc"]


def test_settings_are_validated():
    with pytest.raises(ValueError, match="ngram"):
        DecontaminationSettings(ngram=1)
    with pytest.raises(ValueError, match="threshold"):
        DecontaminationSettings(minhash_threshold=0.0)


def _lcb_row(qid, content):
    return {
        "question_title": qid,
        "question_content": content,
        "platform": "codeforces",
        "question_id": qid,
        "contest_id": "1",
        "contest_date": "2024-09-01T00:00:00",
        "starter_code": "",
        "difficulty": "medium",
        "public_test_cases": json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}]),
        "private_test_cases": "[]",
        "metadata": "{}",
    }


def test_files_end_to_end_and_cli(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        json.dumps(_lcb_row("cf_9999_B", BENCHMARK_STATEMENT))
        + "\n"
        + json.dumps(_lcb_row("abc999_c", OTHER_BENCHMARK))
        + "\n"
    )
    cands = tmp_path / "cands.jsonl"
    cands.write_text(
        "".join(
            json.dumps({"id": i, "text": t}) + "\n"
            for i, t in [("para", PARAPHRASE), ("topic", SAME_TOPIC), ("stock", BOILERPLATE_ONLY)]
        )
    )
    flagged = decontaminate_files(cands, [bench])
    assert [(f["id"], f["benchmark_id"], f["method"]) for f in flagged] == [("para", "cf_9999_B", "ngram")]

    from xcoder_assets.cli import main

    out = tmp_path / "out.json"
    assert (
        main(
            [
                "decontaminate",
                "--candidates",
                str(cands),
                "--benchmark",
                str(bench),
                "--out",
                str(out),
                "--ngram",
                "60",
                "--threshold",
                "0.5",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert [(r["id"], r["method"]) for r in result] == [("para", "minhash")] and set(result[0]) == {
        "id",
        "benchmark_id",
        "method",
        "score",
    }


def test_malformed_benchmark_file_is_one_message_naming_file_and_line(tmp_path):
    bad = tmp_path / "bench.jsonl"
    bad.write_text(json.dumps(_lcb_row("ok_1", OTHER_BENCHMARK)) + "\n{not json\n")
    with pytest.raises(DecontaminationInputError, match=r"bench\.jsonl:2.*not valid JSON"):
        load_benchmark([bad])
    missing_field = tmp_path / "fields.jsonl"
    row = _lcb_row("x_1", OTHER_BENCHMARK)
    del row["platform"]
    missing_field.write_text(json.dumps(row) + "\n")
    with pytest.raises(DecontaminationInputError, match=r"fields\.jsonl:1.*platform"):
        load_benchmark([missing_field])


def test_malformed_candidates_file_names_the_line(tmp_path):
    cands = tmp_path / "c.jsonl"
    cands.write_text('{"id": "a", "text": "x"}\n{"id": 3}\n')
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps(_lcb_row("ok_1", OTHER_BENCHMARK)) + "\n")
    with pytest.raises(DecontaminationInputError, match=r"c\.jsonl:2"):
        decontaminate_files(cands, [bench])
