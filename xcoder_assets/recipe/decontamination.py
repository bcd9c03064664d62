"""Decontamination against a benchmark (LiveCodeBench rows): word n-gram overlap and MinHash similarity,
both on normalized text (dedup.normalize_tokens: numbers and single-letter names folded, so renaming
variables or changing constraints does not hide a copy).

- n-gram: a candidate is flagged when it shares at least `ngram_min_matches` distinct word n-grams
  (n = 13 by default, as the large open data sets use) with one benchmark problem; the score is the
  share of that problem's n-grams found in the candidate.
- MinHash: flagged when the Jaccard similarity of word `shingle`-grams with a benchmark problem
  reaches `minhash_threshold` (datasketch LSH finds the candidates, the exact Jaccard decides), which
  also catches a copy whose sentences were reordered.

Stock phrasing is not evidence: the input/output sentences every Codeforces, AtCoder or LeetCode
statement uses (BOILERPLATE) are cut out of both texts before either test (n-grams never span the
cut), and an n-gram found in `boilerplate_min_problems` or more benchmark problems is ignored.
One pass over the benchmark, then one lookup per candidate: the cost grows linearly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Literal, Sequence

if TYPE_CHECKING:  # datasketch (and scipy under it) costs every `xcoder` command a second to import
    from datasketch import MinHash

from xcoder_assets.recipe.benchmark import BenchmarkInputError, LcbProblem, load_problems, read_records
from xcoder_assets.recipe.dedup import NearDuplicateIndex, normalize_tokens, shingle_set, signatures

Method = Literal["ngram", "minhash"]

# Sentences of the three judges' house style: alone they say nothing about which problem a text is.
BOILERPLATE = (
    "Each test contains multiple test cases.",
    "The first line contains the number of test cases t (1 <= t <= 10^4).",
    "The first line contains a single integer t (1 <= t <= 10^4) - the number of test cases.",
    "The first line of the input contains a single integer t (1 <= t <= 10^4) - the number of test cases.",
    "The description of the test cases follows.",
    "The first line of each test case contains a single integer n (1 <= n <= 2 * 10^5) - the length of the array.",
    "The first line of each test case contains a single integer n (1 <= n <= 2 * 10^5).",
    "The first line of each test case contains two integers n and k (1 <= n <= 2 * 10^5).",
    "The second line of each test case contains n integers a_1, a_2, ..., a_n (1 <= a_i <= 10^9).",
    "The second line of each test case contains n integers a_1, a_2, ..., a_n (1 <= a_i <= 10^9) - the elements "
    "of the array.",
    "The second line contains n integers a_1, a_2, ..., a_n (1 <= a_i <= 10^9).",
    "The first line contains a single integer n (1 <= n <= 2 * 10^5).",
    "The first line contains two integers n and m (1 <= n, m <= 2 * 10^5).",
    "It is guaranteed that the sum of n over all test cases does not exceed 2 * 10^5.",
    "It is guaranteed that the sum of n over all test cases does not exceed 2 * 10^5 and the sum of m over all "
    "test cases does not exceed 2 * 10^5.",
    "For each test case, output a single integer - the answer to the problem.",
    "For each test case, print a single integer - the answer to the problem.",
    "For each test case, output the answer on a separate line.",
    "For each test case, print the answer on a separate line.",
    "For each test case, output YES if it is possible, and NO otherwise.",
    "You can output the answer in any case (upper or lower). For example, the strings yEs, yes, Yes, and YES will "
    "be recognized as positive responses.",
    "If there are multiple answers, print any of them.",
    "If there are multiple solutions, print any of them.",
    "The input is given from Standard Input in the following format:",
    "Input is given from Standard Input in the following format:",
    "Print the answer.",
    "Print the answer in a single line.",
    "All input values are integers.",
    "All values in the input are integers.",
    "You are given a 0-indexed integer array nums of length n.",
    "You are given a 0-indexed integer array nums.",
    "You are given an integer array nums.",
    "A subarray is a contiguous non-empty sequence of elements within an array.",
    "A substring is a contiguous non-empty sequence of characters within a string.",
    "A subsequence is an array that can be derived from another array by deleting some or no elements without "
    "changing the order of the remaining elements.",
    "Since the answer may be very large, return it modulo 10^9 + 7.",
    "Since the answer can be very large, print it modulo 998244353.",
    "Return the answer modulo 10^9 + 7.",
    "Print the answer modulo 998244353.",
)


class DecontaminationInputError(ValueError):
    """A candidates or benchmark file that cannot be read: the message names the file (and line)."""


@dataclass(frozen=True)
class DecontaminationSettings:
    ngram: int = 13
    ngram_min_matches: int = 3  # distinct shared n-grams: a 15-word passage in common
    minhash_threshold: float = 0.5
    shingle: int = 5
    num_perm: int = 128
    boilerplate_min_problems: int = 3  # an n-gram in this many benchmark problems is stock phrasing

    def __post_init__(self) -> None:
        if self.ngram < 3:
            raise ValueError(f"decontamination ngram must be at least 3, got {self.ngram}")
        if self.ngram_min_matches < 1:
            raise ValueError(f"ngram_min_matches must be at least 1, got {self.ngram_min_matches}")
        if not 0.0 < self.minhash_threshold <= 1.0:
            raise ValueError(f"minhash threshold must be in (0, 1], got {self.minhash_threshold}")


@dataclass(frozen=True)
class BenchmarkText:
    benchmark_id: str  # the benchmark's question_id
    source: str  # release tag or file label
    text: str


@dataclass(frozen=True)
class Flag:
    candidate_id: str
    benchmark_id: str
    method: Method
    score: float  # ngram: share of the benchmark problem's n-grams in the candidate; minhash: Jaccard
    matches: int  # ngram: shared n-grams; minhash: shared shingles

    def as_record(self) -> dict[str, object]:
        return {"id": self.candidate_id, "benchmark_id": self.benchmark_id, "method": self.method, "score": self.score}


@dataclass(frozen=True)
class Prepared:
    segments: list[list[str]]  # normalized tokens, stock sentences cut out
    shingles: set[str]
    signature: MinHash


class BoilerplateCutter:
    """Cuts every occurrence of a stock sentence (normalized) out of a token list, leaving segments."""

    def __init__(self, sentences: Iterable[str] = BOILERPLATE):
        self.by_head: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        for sentence in sentences:
            tokens = tuple(normalize_tokens(sentence))
            if len(tokens) >= 2:
                self.by_head.setdefault(tokens[:2], []).append(tokens)
        for phrases in self.by_head.values():
            phrases.sort(key=len, reverse=True)  # the longest stock sentence wins

    def segments(self, tokens: Sequence[str]) -> list[list[str]]:
        out, current, i = [], [], 0
        while i < len(tokens):
            phrase = next(
                (p for p in self.by_head.get(tuple(tokens[i : i + 2]), ()) if tuple(tokens[i : i + len(p)]) == p), None
            )
            if phrase is None:
                current.append(tokens[i])
                i += 1
                continue
            if current:
                out.append(current)
            current = []
            i += len(phrase)
        if current:
            out.append(current)
        return out


def _ngrams(segments: Sequence[Sequence[str]], n: int) -> set[str]:
    return {" ".join(seg[i : i + n]) for seg in segments for i in range(len(seg) - n + 1)}


class Decontaminator:
    """The benchmark indexed once; `check` answers for one candidate text."""

    def __init__(
        self, benchmark: Sequence[BenchmarkText], settings: DecontaminationSettings = DecontaminationSettings()
    ):
        self.settings = settings
        self.cutter = BoilerplateCutter()
        self.benchmark = {b.benchmark_id: b for b in benchmark}
        per_problem: dict[str, set[str]] = {}
        frequency: dict[str, int] = {}
        shingles: list[tuple[str, set[str]]] = []
        for item in self.benchmark.values():
            segments = self.cutter.segments(normalize_tokens(item.text))
            grams = _ngrams(segments, settings.ngram)
            per_problem[item.benchmark_id] = grams
            for gram in grams:
                frequency[gram] = frequency.get(gram, 0) + 1
            shingles.append((item.benchmark_id, shingle_set(segments, settings.shingle)))
        self.stock = {g for g, count in frequency.items() if count >= settings.boilerplate_min_problems}
        self.ngram_owner: dict[str, list[str]] = {}
        self.distinct: dict[str, int] = {}
        for benchmark_id, grams in per_problem.items():
            kept = grams - self.stock
            self.distinct[benchmark_id] = len(kept)
            for gram in kept:
                self.ngram_owner.setdefault(gram, []).append(benchmark_id)
        self.index = NearDuplicateIndex(settings.minhash_threshold, settings.num_perm)
        non_empty = [(bid, items) for bid, items in shingles if items]
        for (bid, items), sig in zip(non_empty, signatures([items for _, items in non_empty], settings.num_perm)):
            self.index.insert(bid, sig, items)

    def segments(self, text: str) -> list[list[str]]:
        return self.cutter.segments(normalize_tokens(text))

    def check(self, candidate_id: str, text: str) -> Flag | None:
        """The strongest match of one candidate: an n-gram flag first (the stronger evidence), else MinHash."""
        return self.check_many([(candidate_id, text)])[0]

    def prepare(self, texts: Sequence[str]) -> list[Prepared]:
        """Segments, shingle set and signature of each text (dedup reuses them: one signature per text)."""
        segs = [self.segments(text) for text in texts]
        sets = [shingle_set(seg, self.settings.shingle) for seg in segs]
        return [
            Prepared(seg, items, sig) for seg, items, sig in zip(segs, sets, signatures(sets, self.settings.num_perm))
        ]

    def check_many(
        self, candidates: Sequence[tuple[str, str]], prepared: Sequence[Prepared] | None = None
    ) -> list[Flag | None]:
        s = self.settings
        prepared = list(prepared) if prepared is not None else self.prepare([text for _, text in candidates])
        segs = [p.segments for p in prepared]
        sets = [p.shingles for p in prepared]
        sigs = [p.signature for p in prepared]
        out: list[Flag | None] = []
        for (candidate_id, _), seg, items, sig in zip(candidates, segs, sets, sigs):
            shared: dict[str, int] = {}
            for gram in _ngrams(seg, s.ngram):
                for owner in self.ngram_owner.get(gram, ()):
                    shared[owner] = shared.get(owner, 0) + 1
            best = max(sorted(shared.items()), key=lambda kv: kv[1], default=None)
            if best is not None and best[1] >= s.ngram_min_matches:
                score = best[1] / max(1, self.distinct[best[0]])
                out.append(Flag(candidate_id, best[0], "ngram", round(score, 4), best[1]))
                continue
            near = self.index.match(sig, items) if items else None
            if near is not None:
                overlap = len(items & self.index.sets[near[0]])
                out.append(Flag(candidate_id, near[0], "minhash", round(near[1], 4), overlap))
                continue
            out.append(None)
        return out


def benchmark_texts(problems: Sequence[LcbProblem]) -> list[BenchmarkText]:
    """A benchmark problem's text as checked: its title and statement."""
    return [BenchmarkText(p.question_id, p.source, f"{p.title}\n{p.content}") for p in problems]


def read_candidates(path: Path) -> list[tuple[str, str]]:
    """(id, text) per line of a JSONL file of {"id": str, "text": str}; one error naming file:line otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DecontaminationInputError(f"{path}: no such candidates file")
    out, seen = [], set()
    for location, record, unreadable in read_records(path):
        if unreadable:
            raise DecontaminationInputError(f"{location}: {unreadable}")
        if not isinstance(record.get("id"), str) or not record["id"] or not isinstance(record.get("text"), str):
            raise DecontaminationInputError(f'{location}: a candidate must be {{"id": str, "text": str}}')
        if record["id"] in seen:
            raise DecontaminationInputError(f"{location}: candidate id {record['id']!r} appears twice")
        seen.add(record["id"])
        out.append((record["id"], record["text"]))
    return out


def load_benchmark(paths: Sequence[Path]) -> list[BenchmarkText]:
    """Benchmark files in LiveCodeBench's row format (JSONL or Parquet); a malformed row is one error
    naming the file and line."""
    try:
        loaded = load_problems([(Path(p), Path(p).name) for p in paths])
    except BenchmarkInputError as exc:
        raise DecontaminationInputError(f"benchmark file: {exc}") from None
    if not loaded.problems:
        raise DecontaminationInputError(f"benchmark file(s) {', '.join(map(str, paths))}: no problems in them")
    return benchmark_texts(loaded.problems)


def decontaminate_files(
    candidates: Path, benchmark: Sequence[Path], settings: DecontaminationSettings = DecontaminationSettings()
) -> list[dict[str, object]]:
    """`xcoder decontaminate`: {id, benchmark_id, method, score} for each flagged candidate, in file order."""
    items = read_candidates(candidates)
    checker = Decontaminator(load_benchmark(benchmark), settings)
    return [flag.as_record() for flag in checker.check_many(items) if flag is not None]
