"""The feature pool's running indexes (sizes, entries per round, weighted branches) and the Fenwick draws
of feature_configs answer exactly what recomputing them from all entries answers, so a round or a
configuration costs the same whatever the pool's size."""

import random

from xcoder_assets.recipe import sampling
from xcoder_assets.recipe.features import FREE_TEXT_CATEGORIES
from xcoder_assets.recipe.pool import FeaturePool, WeightedDraws
from xcoder_assets.recipe.sampling import PoolItem, sample_configs

CATEGORIES = ["algorithms", "data_structures", "mathematics", "problem_domain"]


def _grown_pool(seed: int, adds: int) -> FeaturePool:
    rng = random.Random(seed)
    pool = FeaturePool()
    for n in range(adds):
        category = rng.choice(CATEGORIES)
        depth = rng.randrange(3)
        path = tuple(f"branch {rng.randrange(40)} level {d}" for d in range(depth))
        # repeats and spelling variants are merged (not added): the indexes must not count them
        feature = rng.choice([f"feature {rng.randrange(300)}", f"Features {rng.randrange(300)}"])
        pool.add(category, path, feature, origin_round=n // 25)
    return pool


def _reference_choice(pool: FeaturePool, rng: random.Random):
    """The sampling before the Fenwick tree: every eligible branch's weight rebuilt for the draw."""
    branches = [(b, e) for b, e in pool.branches().items() if b[0] not in FREE_TEXT_CATEGORIES]
    weights = [len(entries) ** 0.5 for _, entries in branches]
    return rng.choices(branches, weights=weights, k=1)[0][1]


def test_running_sizes_and_rounds_match_a_recount():
    pool = _grown_pool(3, 3000)
    sizes: dict[str, int] = {}
    for entry in pool.entries:
        sizes[entry.category] = sizes.get(entry.category, 0) + 1
    assert pool.size_by_category() == sizes
    assert list(pool.size_by_category()) == list(sizes)  # first-seen order, as the recount's
    for number in range(0, 125):
        assert pool.entries_of_round(number) == [e for e in pool.entries if e.origin_round == number]
    assert pool.entries_of_round(10_000) == []


def test_weighted_draws_pick_the_branches_rng_choices_picks():
    pool = _grown_pool(5, 4000)
    assert len(pool.branches()) > 100
    for seed in range(300):
        ours, reference = random.Random(seed), random.Random(seed)
        subtree, chosen = pool.sample_subtree(ours, 6)
        branch = _reference_choice(pool, reference)
        positions = sorted(reference.sample(range(len(branch)), min(6, len(branch))))
        assert chosen == [branch[i] for i in positions]
        assert ours.getstate() == reference.getstate()  # as many draws taken: the next round agrees too
        assert list(subtree) == [chosen[0].category]


def test_draws_follow_the_pool_as_it_grows():
    rng_pool = random.Random(9)
    pool = FeaturePool()
    for n in range(600):
        pool.add(rng_pool.choice(CATEGORIES[:3]), (f"b{rng_pool.randrange(12)}",), f"f{n}", 0)
        if n % 7 == 0:
            seed = 1000 + n
            _, chosen = pool.sample_subtree(random.Random(seed), 6)
            assert chosen[0] in _reference_choice(pool, random.Random(seed))


class _RebuiltDraws:
    """The draws before the Fenwick tree: every weight of the items left rebuilt for each draw."""

    def __init__(self, weights):
        self.weights = list(weights)

    def set(self, index, weight):
        self.weights[index] = weight

    def pick(self, rng, k):
        rest, picked = list(range(len(self.weights))), []
        while rest and len(picked) < k:
            choice = rng.choices(range(len(rest)), weights=[self.weights[i] for i in rest], k=1)[0]
            picked.append(rest.pop(choice))
        return picked


def test_weighted_draws_pick_what_rebuilt_weights_pick():
    rng_weights = random.Random(4)
    weights = [rng_weights.choice([1.0, 0.25, 1 / 9, 1 / 16]) for _ in range(700)]
    ours, reference = WeightedDraws(weights), _RebuiltDraws(weights)
    for seed in range(400):
        a, b = random.Random(seed), random.Random(seed)
        assert ours.pick(a, 3) == reference.pick(b, 3)
        assert a.getstate() == b.getstate()
        index = seed * 7 % len(weights)
        ours.set(index, 1 / (2 + seed % 5) ** 2)
        reference.set(index, 1 / (2 + seed % 5) ** 2)
    assert WeightedDraws([1.0, 2.0]).pick(random.Random(1), 5) in ([0, 1], [1, 0])  # no more than there are


def test_feature_configs_are_the_ones_rebuilt_weights_sample(monkeypatch):
    rng = random.Random(8)
    items = []
    for n in range(900):
        category = CATEGORIES[n % 3]
        parent = rng.choice([()] + [(f"f{m}",) for m in range(0, n, 3) if m % 3 == n % 3][-20:])
        items.append(PoolItem(f"pool-{n}", category, parent, f"f{n}"))
    ours = sample_configs(items, 150, seed=3, min_leaves=3)
    monkeypatch.setattr(sampling, "WeightedDraws", _RebuiltDraws)
    reference = sample_configs(items, 150, seed=3, min_leaves=3)
    assert [[i.entry_id for i in c.items] for c in ours] == [[i.entry_id for i in c.items] for c in reference]
    assert len({i.entry_id for c in ours for i in c.items}) > 300  # the draws spread over the pool
