"""The feature pool that evolution grows: entries, near-duplicate merging, subtree sampling.

An entry is a feature name at a path (category, sub-category, ..., parent feature). Two names are
the same feature when they differ only in case, punctuation, plural or word order
("Segment Trees" = "segment-tree" = "tree, segment"); the first spelling is kept.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.features import CATEGORIES, FREE_TEXT_CATEGORIES, category_key, clean_leaf

MAX_DEPTH = 8  # categories and sub-levels, as in the recipe's subtree sampling
MAX_FEATURE_WORDS = 8
_STOP_WORDS = {"a", "an", "the", "of", "and", "for", "with", "in", "on", "to", "using", "via", "by"}


def _singular(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def near_dup_key(text: str) -> str:
    """The key under which spelling variants of one feature meet."""
    words = [_singular(w) for w in re.findall(r"[a-z0-9]+", text.casefold()) if w not in _STOP_WORDS]
    return " ".join(sorted(words)) or text.casefold().strip()


def path_key(category: str, path: Iterable[str]) -> tuple[str, ...]:
    return (category, *(near_dup_key(p) for p in path))


@dataclass
class PoolEntry:
    category: str
    path: tuple[str, ...]
    feature: str
    origin_round: int  # 0: from the merged seed tree
    parents: list[str] = field(default_factory=list)  # ids this entry came from (tree nodes, or the expanded entries)
    llm_call_id: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return (*path_key(self.category, self.path), "::", near_dup_key(self.feature))

    @property
    def depth(self) -> int:
        return 1 + len(self.path) + 1


class FeaturePool:
    def __init__(self) -> None:
        self.entries: list[PoolEntry] = []
        self._by_key: dict[tuple[str, ...], PoolEntry] = {}
        self._by_branch: dict[tuple[str, ...], list[PoolEntry]] = {}
        self._branch_names: dict[tuple[str, ...], tuple[str, ...]] = {}
        # kept as entries come, so that a round costs the same whatever the pool's size (177k in the paper)
        self._sizes: dict[str, int] = {}
        self._by_round: dict[int, list[PoolEntry]] = {}
        self._sampled = _WeightedBranches()

    def __len__(self) -> int:
        return len(self.entries)

    def add(
        self,
        category: str,
        path: tuple[str, ...],
        feature: str,
        origin_round: int,
        parents: list[str] | None = None,
        llm_call_id: str | None = None,
    ) -> PoolEntry | None:
        """Add a feature; None when it (or a spelling variant of it) is already there."""
        branch = path_key(category, path)
        path = self._branch_names.setdefault(branch, tuple(path))  # first spelling of a branch wins
        entry = PoolEntry(category, path, feature, origin_round, list(parents or []), llm_call_id)
        if entry.key in self._by_key:
            existing = self._by_key[entry.key]
            for parent in parents or []:
                if parent not in existing.parents and origin_round == existing.origin_round:
                    existing.parents.append(parent)
            return None
        self._by_key[entry.key] = entry
        members = self._by_branch.setdefault(branch, [])
        members.append(entry)
        if category not in FREE_TEXT_CATEGORIES:
            self._sampled.grew(branch, members)
        self.entries.append(entry)
        self._sizes[category] = self._sizes.get(category, 0) + 1
        self._by_round.setdefault(origin_round, []).append(entry)
        return entry

    def size_by_category(self) -> dict[str, int]:
        return dict(self._sizes)

    def entries_of_round(self, origin_round: int) -> list[PoolEntry]:
        """The entries added in one round, in the order they were added."""
        return list(self._by_round.get(origin_round, ()))

    def branches(self) -> dict[tuple[str, ...], list[PoolEntry]]:
        return self._by_branch

    def sample_subtree(self, rng: random.Random, max_leaves: int = 6) -> tuple[dict[str, Any], list[PoolEntry]]:
        """A small subtree to expand: one branch (weighted by size) and up to `max_leaves` of its features."""
        if not self._sampled.members:
            raise ValueError("the pool is empty: nothing to sample")
        entries = self._sampled.draw(rng)
        positions = sorted(rng.sample(range(len(entries)), min(max_leaves, len(entries))))
        chosen = [entries[i] for i in positions]  # in the branch's own order
        category, path = chosen[0].category, chosen[0].path
        node: Any = [e.feature for e in chosen]
        for part in reversed(path):
            node = {part: node}
        return {category: node}, chosen


class WeightedDraws:
    """Weighted draws without replacement over a fixed list of items whose weights change, in a Fenwick
    tree: O(log n) per draw and per weight change, where rebuilding the weights for each draw cost
    O(n) (feature_configs drew from a whole category of a 177k-entry pool for every configuration).
    `pick(rng, k)` returns the indexes that k successive `rng.choices(range(len(rest)), weights=...)`
    over the items not yet taken pick (one rng.random() each); the weights must be positive."""

    def __init__(self, weights: list[float]) -> None:
        self._weights = list(weights)
        n = len(self._weights)
        self._tree = [0.0, *self._weights]
        for i in range(1, n + 1):  # O(n) build: each node passes its sum to its parent
            parent = i + (i & -i)
            if parent <= n:
                self._tree[parent] += self._tree[i]

    def __len__(self) -> int:
        return len(self._weights)

    def _add(self, index: int, delta: float) -> None:
        i = index + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def set(self, index: int, weight: float) -> None:
        self._add(index, weight - self._weights[index])
        self._weights[index] = weight

    def _total(self) -> float:
        total, i = 0.0, len(self._weights)
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total

    def draw(self, rng: random.Random) -> int:
        n = len(self._weights)
        rest = rng.random() * self._total()
        position, step = 0, 1 << n.bit_length()
        while step:  # the first index whose running sum exceeds rest (a taken index has no width)
            if position + step <= n and self._tree[position + step] <= rest:
                position += step
                rest -= self._tree[position]
            step >>= 1
        position = min(position, n - 1)
        while position > 0 and self._weights[position] == 0.0:  # rounding ran past the last item left
            position -= 1
        return position

    def pick(self, rng: random.Random, k: int) -> list[int]:
        taken: list[tuple[int, float]] = []
        while len(taken) < min(k, len(self._weights)):
            index = self.draw(rng)
            taken.append((index, self._weights[index]))
            self.set(index, 0.0)  # out of the draw until the pick is over
        for index, weight in taken:
            self.set(index, weight)
        return [index for index, _ in taken]


class _WeightedBranches:
    """The branches a subtree is sampled from (not the free-text categories), each weighted by the square
    root of its size, in a Fenwick tree: a draw and an update cost O(log branches). Rebuilding every weight
    for every draw made a 177k-entry evolution quadratic. A draw takes one rng.random() and picks the
    branch random() x total falls in, as rng.choices(weights=...) does over the same order."""

    def __init__(self) -> None:
        self.members: list[list[PoolEntry]] = []  # each branch's entries, in the order the branches appeared
        self._weights: list[float] = []
        self._position: dict[tuple[str, ...], int] = {}
        self._tree: list[float] = [0.0]  # 1-based Fenwick sums

    def _prefix(self, i: int) -> float:
        total = 0.0
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total

    def grew(self, branch: tuple[str, ...], members: list[PoolEntry]) -> None:
        weight = len(members) ** 0.5
        index = self._position.get(branch)
        if index is None:  # a new branch: append it (its Fenwick node sums its own range)
            self._position[branch] = len(self.members)
            self.members.append(members)
            self._weights.append(weight)
            i = len(self._weights)
            self._tree.append(weight + self._prefix(i - 1) - self._prefix(i - (i & -i)))
            return
        delta, self._weights[index] = weight - self._weights[index], weight
        i = index + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def draw(self, rng: random.Random) -> list[PoolEntry]:
        n = len(self._weights)
        rest = rng.random() * self._prefix(n)
        position, step = 0, 1 << n.bit_length()
        while step:  # the first branch whose running sum exceeds rest
            if position + step <= n and self._tree[position + step] <= rest:
                position += step
                rest -= self._tree[position]
            step >>= 1
        return self.members[min(position, n - 1)]


@dataclass
class Expansion:
    added: list[PoolEntry]
    duplicates: int
    rejected_items: list[str]  # reasons for single features that were not taken
    error: Failure | None = None  # the whole answer was rejected: off_schema or no_valid_feature


def expansion_items(answer: Any) -> tuple[list[tuple[str, tuple[str, ...], str]], list[str]]:
    """(category, path, feature) for every feature of an expanded subtree, and what was not a feature.

    The convention for a level that holds both features and sub-features: a key whose value is a
    list holds that feature's sub-features; a key whose value is an empty list is a plain feature.
    """
    if not isinstance(answer, dict):
        return [], [f"the answer is a JSON {type(answer).__name__}, not an object of categories"]
    items: list[tuple[str, tuple[str, ...], str]] = []
    problems: list[str] = []

    def walk(category: str, node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = clean_leaf(key)
                if name is None:
                    problems.append(f"not a short feature name: {str(key)[:60]}")
                elif value in ([], {}, None, ""):
                    items.append((category, path, name))
                else:
                    walk(category, value, (*path, name))
        elif isinstance(node, list):
            for value in node:
                if isinstance(value, dict):
                    walk(category, value, path)
                elif (name := clean_leaf(value)) is not None:
                    items.append((category, path, name))
                else:
                    problems.append(f"not a short feature name: {str(value)[:60]}")
        elif (name := clean_leaf(node)) is not None:
            items.append((category, path, name))

    for raw_category, node in answer.items():
        category = category_key(raw_category)
        if category not in CATEGORIES or category in FREE_TEXT_CATEGORIES:
            problems.append(f"unknown category {raw_category!r}")
            continue
        walk(category, node, ())
    return items, problems


def apply_expansion(
    pool: FeaturePool,
    answer: Any,
    anchors: list[PoolEntry],
    origin_round: int,
    parent_ids: list[str],
    llm_call_id: str | None,
) -> Expansion:
    """Validate a model's expanded subtree against the tree schema and merge what is new."""
    items, problems = expansion_items(answer)
    if not items:
        return Expansion([], 0, problems, Failure("off_schema", "; ".join(problems[:3]) or "no features"))
    sampled_categories = {a.category for a in anchors}
    added, duplicates, rejected = [], 0, list(problems)
    for category, path, feature in items:
        if category not in sampled_categories:
            rejected.append(f"outside the sampled subtree: {category}")
            continue
        if len(feature.split()) > MAX_FEATURE_WORDS:
            rejected.append(f"not a feature name ({len(feature.split())} words): {feature[:60]}")
            continue
        if 1 + len(path) + 1 > MAX_DEPTH:
            rejected.append(f"deeper than {MAX_DEPTH} levels: {' / '.join(path)}")
            continue
        if path and near_dup_key(path[-1]) == near_dup_key(feature):
            rejected.append(f"a feature under itself: {feature}")
            continue
        entry = pool.add(category, tuple(path), feature, origin_round, parent_ids, llm_call_id)
        if entry is None:
            duplicates += 1
        else:
            added.append(entry)
    if not added and not duplicates:
        return Expansion([], 0, rejected, Failure("no_valid_feature", "no valid feature in the answer"))
    return Expansion(added, duplicates, rejected)
