"""Feature configurations (SynthSmith): subtrees of the evolved pool sampled without an LLM.

A shape gives the number of features per level: (3, 3, 1) picks 3 categories, 3 features in each,
and under each of those at most 1 finer feature (entries whose path ends at it). Configurations
with fewer leaves than `min_leaves` are skipped. Sampling spreads coverage: a feature's weight is
1 / (1 + uses)^2, so popular features are not drawn again and again. Configuration i depends only
on the seed and configurations 0..i-1: asking for more configurations keeps the earlier ones.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from xcoder_assets.recipe.pool import WeightedDraws
from xcoder_assets.store.ids import make_id

RECIPE_SHAPES: tuple[tuple[int, ...], ...] = ((3, 3, 1), (3, 3, 2), (4, 3, 2))
EXCLUDED_CATEGORIES = frozenset({"programming_language", "summary"})  # every task is Python; free text


@dataclass(frozen=True)
class SamplingSettings:
    """feature_configs' sampling settings and the one owner of their defaults (the recipe's)."""

    count: int = 48  # configurations, one problem each
    seed: int = 42
    shapes: tuple[tuple[int, ...], ...] = RECIPE_SHAPES
    max_depth: int = 8  # deepest pool level a feature may come from
    min_leaves: int = 6  # configurations with fewer leaves are skipped


SAMPLING_DEFAULTS = SamplingSettings()


@dataclass(frozen=True)
class PoolItem:
    entry_id: str
    category: str
    path: tuple[str, ...]
    feature: str


@dataclass
class FeatureConfig:
    index: int
    shape: tuple[int, ...]
    items: list[PoolItem]
    leaf_ids: list[str]

    def subtree(self) -> dict[str, Any]:
        """The configuration as a nested tree (category -> feature -> finer features)."""
        tree: dict[str, Any] = {}
        for item in self.items:
            has_chosen_parent = any(
                p.category == item.category and (*p.path, p.feature) == item.path for p in self.items
            )
            if has_chosen_parent:
                continue  # listed under its parent
            children = [
                c.feature for c in self.items if c.category == item.category and c.path == (*item.path, item.feature)
            ]
            tree.setdefault(item.category, {})[item.feature] = children
        return tree


def _weighted_pick(rng: random.Random, candidates: Sequence[PoolItem], uses: Counter, k: int) -> list[PoolItem]:
    pool = list(candidates)
    picked: list[PoolItem] = []
    while pool and len(picked) < k:
        weights = [1.0 / (1 + uses[c.entry_id]) ** 2 for c in pool]
        choice = rng.choices(range(len(pool)), weights=weights, k=1)[0]
        picked.append(pool.pop(choice))
    return picked


def sample_configs(
    items: Sequence[PoolItem],
    count: int,
    seed: int = SAMPLING_DEFAULTS.seed,
    shapes: Sequence[tuple[int, ...]] = SAMPLING_DEFAULTS.shapes,
    max_depth: int = SAMPLING_DEFAULTS.max_depth,
    min_leaves: int = SAMPLING_DEFAULTS.min_leaves,
    max_attempts_per_config: int = 20,
) -> list[FeatureConfig]:
    if count < 0:
        raise ValueError("the number of configurations cannot be negative")
    if not shapes or any(not shape or min(shape) < 1 for shape in shapes):
        raise ValueError(f"shapes must be non-empty tuples of positive counts, got {list(shapes)}")
    usable = [i for i in items if i.category not in EXCLUDED_CATEGORIES and 1 + len(i.path) + 1 <= max_depth]
    by_category: dict[str, list[PoolItem]] = {}
    children: dict[tuple[str, tuple[str, ...]], list[PoolItem]] = {}
    for item in usable:
        by_category.setdefault(item.category, []).append(item)
        children.setdefault((item.category, item.path), []).append(item)
    rng = random.Random(f"{seed}:configs")
    uses: Counter = Counter()
    # a category's draws in a Fenwick tree, weights updated as features are used: O(log n) per draw
    draws = {category: WeightedDraws([1.0] * len(members)) for category, members in by_category.items()}
    places: dict[str, list[tuple[str, int]]] = {}
    for category, members in by_category.items():
        for index, item in enumerate(members):
            places.setdefault(item.entry_id, []).append((category, index))
    configs: list[FeatureConfig] = []
    attempts = 0
    while len(configs) < count:
        attempts += 1
        if attempts > max(1, count) * max_attempts_per_config:
            raise ValueError(
                f"could sample only {len(configs)} of {count} configurations with at least "
                f"{min_leaves} leaves from a pool of {len(usable)} features; lower min_leaves or grow the pool"
            )
        shape = shapes[rng.randrange(len(shapes))]
        categories = rng.sample(sorted(by_category), min(shape[0], len(by_category)))
        chosen: list[PoolItem] = []
        leaves: list[str] = []
        for category in categories:
            members = by_category[category]
            level = [members[i] for i in draws[category].pick(rng, shape[1] if len(shape) > 1 else 1)]
            for feature in level:
                chosen.append(feature)
                frontier = [feature]
                for width in shape[2:]:
                    next_frontier = []
                    for parent in frontier:
                        below = children.get((parent.category, (*parent.path, parent.feature)), [])
                        picked = _weighted_pick(rng, below, uses, width)
                        chosen += picked
                        next_frontier += picked
                        if not picked:
                            leaves.append(parent.entry_id)
                    frontier = next_frontier
                leaves += [f.entry_id for f in frontier]
        leaves = list(dict.fromkeys(leaves))
        if len(leaves) < min_leaves:
            continue
        uses.update(item.entry_id for item in chosen)  # every level, so parents spread as well as leaves
        for entry_id in {item.entry_id for item in chosen}:
            for category, index in places.get(entry_id, ()):
                draws[category].set(index, 1.0 / (1 + uses[entry_id]) ** 2)
        configs.append(FeatureConfig(len(configs), tuple(shape), chosen, leaves))
    return configs


def coverage(items: Sequence[PoolItem], configs: Sequence[FeatureConfig], top: int = 10) -> dict[str, Any]:
    """How much of the pool the configurations reach: the share of the pool's leaves (features with no
    finer feature under them) used at least once, and the features used most often."""
    usable = {i.entry_id: i for i in items if i.category not in EXCLUDED_CATEGORIES}
    parents = {(i.category, i.path) for i in usable.values()}
    pool_leaves = [e for e, i in usable.items() if (i.category, (*i.path, i.feature)) not in parents]
    uses = Counter(item.entry_id for config in configs for item in config.items)
    used = [entry for entry in pool_leaves if uses[entry]]
    return {
        "pool_leaves": len(pool_leaves),
        "leaves_used": len(used),
        "share_used": round(len(used) / len(pool_leaves), 4) if pool_leaves else 0.0,
        "features_used": sum(1 for e in usable if uses[e]),
        "most_used": [(usable[e].feature, n) for e, n in uses.most_common(top) if e in usable],
    }


def pool_items_of(rows: Iterable[dict[str, Any]]) -> list[PoolItem]:
    """PoolItems from evolved_pool rows."""
    return [PoolItem(r["pool_id"], r["category"], tuple(r["path"]), r["feature"]) for r in rows]


def config_rows(configs: Sequence[FeatureConfig], seed: int, run_id: str) -> list[dict[str, Any]]:
    """One feature_configs row per configuration; its id covers index, seed, shape and features."""
    return [
        {
            "config_id": make_id(
                "cfg",
                {"index": c.index, "seed": seed, "shape": list(c.shape), "features": [i.entry_id for i in c.items]},
            ),
            "config_index": c.index,
            "shape": list(c.shape),
            "feature_ids": [i.entry_id for i in c.items],
            "leaf_ids": c.leaf_ids,
            "leaf_count": len(c.leaf_ids),
            "subtree_json": json.dumps(c.subtree()),
            "seed": seed,
            "run_id": run_id,
        }
        for c in configs
    ]
