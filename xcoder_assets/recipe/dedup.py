"""Exact and near-duplicate removal for training examples: across problems (statements) and across
the solutions of one problem (programs).

Text is normalized before it is compared (lower case, numbers and single-letter names folded, so a
copy with other constraints or other variable names is still a copy); near duplicates are found with
datasketch's MinHash LSH and confirmed by the exact Jaccard similarity of the shingle sets, so the
verdict does not depend on the estimate. The first item (in the caller's order) of a group is kept;
every later one points at it. Cost is linear: one signature and one LSH query per item.
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Literal, Protocol, Sequence

if TYPE_CHECKING:  # imported where used: datasketch (and scipy) cost every `xcoder` command a second
    from datasketch import MinHash


_WORD = re.compile(r"[^\W\d_]+|\d+")
NUMBER, NAME = "0", "x"  # what numbers and single-letter names fold to
# TeX markup words that statements use for symbols (\le, \texttt{...}): one copy writes them, another writes
# the symbol itself, which has no word at all.
_MARKUP = frozenset(
    {
        "texttt",
        "mathrm",
        "mathbf",
        "mathit",
        "textbf",
        "textit",
        "text",
        "leq",
        "le",
        "geq",
        "ge",
        "lt",
        "gt",
        "neq",
        "ne",
        "cdot",
        "cdots",
        "ldots",
        "dots",
        "times",
        "frac",
        "operatorname",
        "bmod",
        "pmod",
        "left",
        "right",
        "lbrace",
        "rbrace",
        "lfloor",
        "rfloor",
        "lceil",
        "rceil",
    }
)

DuplicateStatus = Literal["unique", "exact_duplicate", "near_duplicate"]


def normalize_tokens(text: str) -> list[str]:
    """Words of `text`, lower case; each run of numbers becomes one `0` (so 10^5 and 2*10^5 read the same)
    and each single letter one `x` (variable names: n, k, a_i)."""
    out: list[str] = []
    for word in _WORD.findall((text or "").lower()):
        if word.isdigit():
            if out and out[-1] == NUMBER:
                continue
            out.append(NUMBER)
        elif word in _MARKUP:
            continue
        elif len(word) == 1:
            out.append(NAME)
        else:
            out.append(word)
    return out


def shingle_set(segments: Iterable[Sequence[str]], size: int) -> set[str]:
    """Word `size`-grams inside each segment (never across a cut); a segment shorter than that counts whole."""
    out: set[str] = set()
    for seg in segments:
        if not seg:
            continue
        if len(seg) < size:
            out.add(" ".join(seg))
            continue
        out.update(" ".join(seg[i : i + size]) for i in range(len(seg) - size + 1))
    return out


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def signatures(sets: Sequence[set[str]], num_perm: int) -> list[MinHash]:
    """MinHash signatures (datasketch, fixed seed: the same set gives the same signature on every run)."""
    from datasketch import MinHash

    return MinHash.bulk([[s.encode("utf-8") for s in sorted(items)] for items in sets], num_perm=num_perm, seed=1)


def exact_key(tokens: Sequence[str]) -> str:
    return hashlib.sha256(" ".join(tokens).encode("utf-8")).hexdigest()


def code_tokens(code: str) -> list[str]:
    """A program's tokens without comments, blank lines or layout (a reformatted copy is the same program);
    names and literals kept. Code that does not tokenize falls back to its words."""
    try:
        out = []
        for tok in tokenize.generate_tokens(io.StringIO(code or "").readline):
            if tok.type in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENDMARKER,
            ):
                continue
            out.append(tok.string)
        return out
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return (code or "").split()


@dataclass(frozen=True)
class DuplicateVerdict:
    item_id: str
    status: DuplicateStatus
    duplicate_of: str | None = None  # the kept item it repeats
    score: float = 0.0  # Jaccard similarity with it (1.0 for an exact copy)


class NearDuplicateIndex:
    """MinHash LSH over shingle sets; `add` answers with the most similar kept item at or above the
    threshold (exact Jaccard), or indexes the new one."""

    def __init__(self, threshold: float, num_perm: int = 128, margin: float = 0.15):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold, self.num_perm = threshold, num_perm
        # LSH banding misses some pairs just above its threshold; banding for a lower one finds them, and
        # the exact Jaccard below still decides (more candidates checked, none wrongly accepted).
        from datasketch import MinHashLSH

        self.lsh = MinHashLSH(threshold=max(0.05, threshold - margin), num_perm=num_perm)
        self.sets: dict[str, set[str]] = {}

    def match(
        self, signature: MinHash, items: set[str], more: Sequence[tuple[str, set[str]]] = ()
    ) -> tuple[str, float] | None:
        """The most similar indexed item (or of `more`: candidates an on-disk index of earlier batches found)
        at or above the threshold; ties go to the smallest id, so the answer is the same on every run."""
        candidates = {other: self.sets[other] for other in self.lsh.query(signature)}
        candidates.update((other, other_items) for other, other_items in more if other not in candidates)
        best: tuple[str, float] | None = None
        for other in sorted(candidates):
            score = jaccard(items, candidates[other])
            if score >= self.threshold and (best is None or score > best[1]):
                best = (other, score)
        return best

    @property
    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) of the LSH: an on-disk index bands signatures the same way."""
        return self.lsh.b, self.lsh.r

    def insert(self, key: str, signature: MinHash, items: set[str]) -> None:
        self.lsh.insert(key, signature)
        self.sets[key] = items


class EarlierItems(Protocol):
    """Items kept before this call (earlier generation batches), held in an on-disk index: the exact key's
    owner, and the near-duplicate candidates (id, shingle set) whose LSH bands a signature shares."""

    def exact(self, key: str) -> str | None: ...

    def candidates(self, signature: MinHash) -> list[tuple[str, set[str]]]: ...


def deduplicate(
    items: Sequence[tuple[str, list[list[str]]]],
    *,
    threshold: float,
    shingle: int,
    num_perm: int = 128,
    signatures_of: Sequence[MinHash] | None = None,
    sets_of: Sequence[set[str]] | None = None,
    earlier: EarlierItems | None = None,
) -> dict[str, DuplicateVerdict]:
    """Verdict per (id, token segments), in order: an exact copy of an earlier kept item (same tokens),
    a near copy (Jaccard of `shingle`-grams >= threshold), or unique. `sets_of` and `signatures_of` reuse
    the shingle sets and signatures the caller already computed from the same segments. `earlier`: items
    kept before these (earlier batches), which come first: the answer is the one a single call over
    them followed by these items would give."""
    exact: dict[str, str] = {}
    index = NearDuplicateIndex(threshold, num_perm)
    sets = list(sets_of) if sets_of is not None else [shingle_set(segs, shingle) for _, segs in items]
    sigs = list(signatures_of) if signatures_of is not None else signatures(sets, num_perm)
    out: dict[str, DuplicateVerdict] = {}
    for (item_id, segs), items_set, sig in zip(items, sets, sigs):
        key = exact_key([t for seg in segs for t in seg])
        owner = exact.get(key) or (earlier.exact(key) if earlier is not None else None)
        if owner is not None:
            out[item_id] = DuplicateVerdict(item_id, "exact_duplicate", owner, 1.0)
            continue
        more = earlier.candidates(sig) if earlier is not None and items_set else []
        near = index.match(sig, items_set, more) if items_set else None
        if near is not None:
            out[item_id] = DuplicateVerdict(item_id, "near_duplicate", near[0], round(near[1], 4))
            continue
        exact[key] = item_id
        if items_set:
            index.insert(item_id, sig, items_set)
        out[item_id] = DuplicateVerdict(item_id, "unique")
    return out


def deduplicate_solutions(
    solutions: Sequence[tuple[str, str]], *, threshold: float, shingle: int = 5
) -> dict[str, DuplicateVerdict]:
    """Duplicates among the solutions of ONE problem (id, code), in order: the same tokens, or code token
    `shingle`-grams with Jaccard >= threshold. A problem has few solutions, so pairs are compared directly."""
    kept: list[tuple[str, str, set[str]]] = []
    out: dict[str, DuplicateVerdict] = {}
    for solution_id, code in solutions:
        tokens = code_tokens(code)
        key = exact_key(tokens)
        items = shingle_set([tokens], shingle)
        verdict = DuplicateVerdict(solution_id, "unique")
        best: tuple[str, float] | None = None
        for other_id, other_key, other_items in kept:
            if other_key == key:
                verdict = DuplicateVerdict(solution_id, "exact_duplicate", other_id, 1.0)
                break
            score = jaccard(items, other_items)
            if score >= threshold and (best is None or score > best[1]):
                best = (other_id, score)
        if verdict.status == "unique" and best is not None:
            verdict = DuplicateVerdict(solution_id, "near_duplicate", best[0], round(best[1], 4))
        if verdict.status == "unique":
            kept.append((solution_id, key, items))
        out[solution_id] = verdict
    return out
