"""Unit tests of task synthesis: pool merging, evolution, sampling, composition parsing, leaks, dedup."""

import json
import random
from collections import Counter

import pytest

from xcoder_assets.simulator.compose import ARCHETYPES, build_problem
from xcoder_assets.recipe import composition
from xcoder_assets.recipe.evolution import (
    EvolutionSettings,
    evolve,
    pool_entry_id,
    replay_rounds,
    round_record,
    summarize,
)
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.pool import FeaturePool, apply_expansion, near_dup_key
from xcoder_assets.recipe.sampling import RECIPE_SHAPES, PoolItem, coverage, sample_configs


# ---- pool ------------------------------------------------------------------------------------


def test_near_duplicates_share_a_key():
    assert near_dup_key("Segment Trees") == near_dup_key("segment-tree") == near_dup_key("tree, segment")
    assert near_dup_key("Binary Search") == near_dup_key("binary searches")
    assert near_dup_key("queries") == near_dup_key("query")
    assert near_dup_key("binary search") != near_dup_key("binary search on trees")
    assert near_dup_key("bfs") != near_dup_key("dfs")


def test_pool_merges_spelling_variants_and_keeps_the_first_spelling():
    pool = FeaturePool()
    assert pool.add("algorithms", ("Graph Algorithms",), "Dijkstra", 0, ["node-1"]) is not None
    assert pool.add("algorithms", ("graph algorithm",), "dijkstra", 0, ["node-2"]) is None
    assert pool.add("algorithms", ("graph algorithms",), "Bellman Ford", 0) is not None
    assert [(e.path, e.feature) for e in pool.entries] == [
        (("Graph Algorithms",), "Dijkstra"),
        (("Graph Algorithms",), "Bellman Ford"),
    ]
    assert pool.entries[0].parents == ["node-1", "node-2"]
    assert pool.add("data_structures", ("Graph Algorithms",), "Dijkstra", 0) is not None  # other category


def seeded_pool() -> FeaturePool:
    pool = FeaturePool()
    for feature in ("breadth-first search", "dijkstra", "topological sort"):
        pool.add("algorithms", ("graph algorithms",), feature, 0, [f"node-{feature}"])
    pool.add("data_structures", (), "stack", 0, ["node-stack"])
    return pool


def test_expansion_adds_breadth_and_depth_and_merges_duplicates():
    pool = seeded_pool()
    anchors = pool.entries[:3]
    answer = {
        "algorithms": {
            "graph algorithms": {
                "breadth-first search": ["multi-source bfs", "0-1 BFS"],  # depth
                "dijkstra": [],  # an existing feature
                "Topological Sorts": [],  # a spelling variant: merged
                "floyd warshall": [],  # breadth
                "a very long sentence that explains a method instead of naming a feature": [],
            }
        },
        "misc": ["whatever"],
    }
    result = apply_expansion(pool, answer, anchors, 1, ["pool-a"], "call-1")
    added = {(e.path, e.feature) for e in result.added}
    assert added == {
        (("graph algorithms", "breadth-first search"), "multi-source bfs"),
        (("graph algorithms", "breadth-first search"), "0-1 BFS"),
        (("graph algorithms",), "floyd warshall"),
    }
    assert result.duplicates == 2 and result.error is None
    assert any("not a feature name" in r for r in result.rejected_items)
    assert any("unknown category 'misc'" in r for r in result.rejected_items)
    assert all(e.llm_call_id == "call-1" and e.parents == ["pool-a"] for e in result.added)


def test_expansions_that_cannot_be_used_are_rejected_with_a_reason():
    pool = seeded_pool()
    anchors = pool.entries[:1]
    assert apply_expansion(pool, ["a", "list"], anchors, 1, [], None).error.status == "off_schema"
    misc = apply_expansion(pool, {"misc": ["x"]}, anchors, 1, [], None).error
    assert misc.status == "off_schema" and "unknown category 'misc'" in misc.reason
    outside = apply_expansion(pool, {"mathematics": ["nim"]}, anchors, 1, [], None)
    assert outside.error.status == "no_valid_feature" and "outside the sampled subtree" in outside.rejected_items[0]
    deep = {"algorithms": {"a": {"b": {"c": {"d": {"e": {"f": {"g": ["too deep"]}}}}}}}}
    assert "deeper than" in apply_expansion(pool, deep, anchors, 1, [], None).rejected_items[0]


def fake_expander(subtrees):
    """Expands every sampled branch by two children of its first feature: deterministic."""
    out = []
    for subtree in subtrees:
        ((category, node),) = subtree.items()
        path = []
        while isinstance(node, dict):
            key = next(iter(node))
            path.append(key)
            node = node[key]
        first = node[0]
        expanded = {first: [f"{first} variant {len(path)}a", f"{first} variant {len(path)}b"]}
        for part in reversed(path):
            expanded = {part: expanded}
        out.append(({category: expanded}, None, f"call-{first}"))
    return out


def test_evolution_is_deterministic_and_resumable():
    settings = EvolutionSettings(rounds=12, expansions_per_round=3, seed=7)
    straight = seeded_pool()
    reports = evolve(straight, settings, 0, fake_expander)
    assert len(reports) == 12 and len(straight) > len(seeded_pool())
    again = seeded_pool()
    evolve(again, settings, 0, fake_expander)
    assert [pool_entry_id(e) for e in again.entries] == [pool_entry_id(e) for e in straight.entries]
    resumed = seeded_pool()
    evolve(resumed, EvolutionSettings(rounds=5, expansions_per_round=3, seed=7), 0, fake_expander)
    evolve(resumed, settings, 5, fake_expander)  # continue after round 5
    assert [pool_entry_id(e) for e in resumed.entries] == [pool_entry_id(e) for e in straight.entries]
    summary = summarize(reports, straight.size_by_category())
    assert [r for r, _ in summary.growth] == list(range(1, 13)) and summary.growth[-1][1] == len(straight)
    assert summary.expansions == 36 and len(summary.per_round) == 12


def test_checkpointed_rounds_replay_into_the_same_pool():
    settings = EvolutionSettings(rounds=6, expansions_per_round=3, seed=7)
    straight = seeded_pool()
    records = []
    evolve(straight, settings, 0, fake_expander, lambda report: records.append(round_record(report, straight, [])))
    replayed = seeded_pool()
    done, reports, _ = replay_rounds(replayed, records, max_round=4)
    assert done == 4 and [r.round for r in reports] == [1, 2, 3, 4]
    evolve(replayed, settings, done, fake_expander)
    assert [pool_entry_id(e) for e in replayed.entries] == [pool_entry_id(e) for e in straight.entries]


def test_failed_expansions_are_counted_not_lost():
    def failing(subtrees):
        return [(None, Failure("unparseable", "no JSON dict found"), "call-x") for _ in subtrees]

    reports = evolve(seeded_pool(), EvolutionSettings(rounds=2, expansions_per_round=2), 0, failing)
    assert [len(r.rejected) for r in reports] == [2, 2] and all(r.added == 0 for r in reports)
    assert summarize(reports, []).rejected_by_status == [("unparseable", 4)]


# ---- sampling --------------------------------------------------------------------------------


def pool_items(categories: int = 6, per_category: int = 12, children: int = 3) -> list[PoolItem]:
    items = []
    for c in range(categories):
        category = [
            "algorithms",
            "data_structures",
            "mathematics",
            "problem_domain",
            "coding_techniques",
            "optimization_techniques",
            "programming_language",
        ][c]
        for f in range(per_category):
            items.append(PoolItem(f"pool-{c}-{f}", category, (), f"feature {c} {f}"))
            for k in range(children):
                items.append(PoolItem(f"pool-{c}-{f}-{k}", category, (f"feature {c} {f}",), f"child {c} {f} {k}"))
    return items


def test_configurations_have_the_recipe_shapes():
    items = pool_items()
    configs = sample_configs(items, 60, seed=42, min_leaves=4)
    by_id = {i.entry_id: i for i in items}
    assert {c.shape for c in configs} == set(RECIPE_SHAPES)
    for config in configs:
        per_category = Counter(i.category for i in config.items)
        assert len(per_category) == config.shape[0]
        most = config.shape[1] * (1 + config.shape[2])  # level-2 features and at most shape[2] finer ones each
        assert all(config.shape[1] <= n <= most for n in per_category.values()), (config.shape, per_category)
        for item in config.items:  # a finer feature sits under a chosen feature
            if item.path and any(p.feature == item.path[-1] for p in config.items):
                assert by_id[item.entry_id].category == item.category
        assert "programming_language" not in {i.category for i in config.items}
        assert len(config.leaf_ids) >= 4


def test_sampling_is_deterministic_and_keeps_earlier_configurations():
    items = pool_items()
    first = sample_configs(items, 10, seed=3, min_leaves=4)
    more = sample_configs(items, 25, seed=3, min_leaves=4)
    other = sample_configs(items, 10, seed=4, min_leaves=4)
    ids = lambda cs: [[i.entry_id for i in c.items] for c in cs]  # noqa: E731
    assert ids(first) == ids(more[:10]) == ids(sample_configs(items, 10, seed=3, min_leaves=4))
    assert ids(first) != ids(other)


def test_sampling_spreads_coverage():
    items = pool_items()
    configs = sample_configs(items, 40, seed=1, min_leaves=4)
    report = coverage(items, configs)
    uses = Counter(leaf for c in configs for leaf in c.leaf_ids)
    assert report["share_used"] > 0.8  # 40 configurations of ~15 leaves reach most of ~190 features
    assert max(uses.values()) <= 6
    assert report["most_used"][0][1] == max(uses.values())


def test_sampling_refuses_what_the_pool_cannot_give():
    with pytest.raises(ValueError, match="could sample only 0 of 3"):
        sample_configs(pool_items(categories=1, per_category=2, children=0), 3, min_leaves=50)
    with pytest.raises(ValueError, match="shapes must be"):
        sample_configs(pool_items(), 1, shapes=[(3, 0)])


# ---- composition -----------------------------------------------------------------------------

OFFERED = ["breadth-first search", "grid navigation", "prefix sums", "stack"]
SCENARIO = {
    "feature_uses": [{"feature": "breadth-first search", "use": "shortest moves"}],
    "selected_features": ["Breadth-First Searches", "grid navigation"],
    "integration_strategy": "explore the grid in layers",
    "scenario": "Robots deliver parcels across a warehouse floor.",
}


@pytest.mark.parametrize(
    "wrap",
    [
        lambda j: "```json\n" + j + "\n```",
        lambda j: "Sure! Here is my design.\n" + j + "\nLet me know.",
        lambda j: "<think>I should pick the grid features.</think>\n```json\n" + j + "\n```",
        lambda j: "```\n" + j.replace('"scenario"', '"scenario" ') + ",\n```",
    ],
)
def test_scenario_parsing_on_messy_answers(wrap):
    from xcoder_assets.llm.answers import split_reasoning

    answer = split_reasoning(wrap(json.dumps(SCENARIO))).answer
    scenario = composition.parse_scenario(answer, OFFERED)
    assert scenario.selected == ["breadth-first search", "grid navigation"]
    assert scenario.scenario.startswith("Robots")


def test_scenario_errors():
    with pytest.raises(composition.CompositionError, match="no offered feature selected"):
        composition.parse_scenario(json.dumps({**SCENARIO, "selected_features": ["teleportation"]}), OFFERED)
    with pytest.raises(composition.CompositionError, match="scenario is missing"):
        composition.parse_scenario(json.dumps({**SCENARIO, "scenario": ""}), OFFERED)
    with pytest.raises(composition.CompositionError, match="no JSON"):
        composition.parse_scenario("I would combine BFS with a grid.", OFFERED)


@pytest.mark.parametrize("style", ["codeforces", "leetcode", "atcoder"])
@pytest.mark.parametrize("archetype", ARCHETYPES, ids=[a.key for a in ARCHETYPES])
def test_offline_problems_parse_in_every_style(style, archetype):
    problem = build_problem(archetype, style, f"key-{archetype.key}", ("a chess club", "organizers", "boards"))
    answer = "Here you go.\n```json\n" + json.dumps(problem) + "\n```"
    statement = composition.parse_statement(answer, style)
    assert len(statement.examples) == 2
    if style == "leetcode":
        assert statement.function_name == archetype.function and "class Solution" in statement.starter_code
        for example in statement.examples:
            args = [json.loads(line) for line in example["input"].split("\n")]
            assert len(args) == len(archetype.arg_names)
            json.loads(example["output"])
    else:
        assert statement.input_format and statement.output_format
    assert composition.leaked_terms(statement.statement, [("algorithms", "breadth-first search")]) == []


def test_statement_errors_per_style():
    good = build_problem(ARCHETYPES[0], "leetcode", "k", ("a chess club", "organizers", "boards"))
    with pytest.raises(composition.CompositionError, match="function name"):
        composition.parse_statement(json.dumps({**good, "function_name": "not valid!"}), "leetcode")
    with pytest.raises(composition.CompositionError, match="starter code"):
        composition.parse_statement(json.dumps({**good, "starter_code": "def other(): pass"}), "leetcode")
    stdin = build_problem(ARCHETYPES[0], "codeforces", "k", ("a chess club", "organizers", "boards"))
    with pytest.raises(composition.CompositionError, match="needs input_format"):
        composition.parse_statement(json.dumps({**stdin, "input_format": ""}), "codeforces")
    with pytest.raises(composition.CompositionError, match="no example"):
        composition.parse_statement(json.dumps({**stdin, "examples": []}), "codeforces")
    with pytest.raises(composition.CompositionError, match="too short"):
        composition.parse_statement(json.dumps({**stdin, "statement": "Solve it."}), "atcoder")
    cut = "```json\n" + json.dumps(stdin)[:40]
    with pytest.raises(composition.CompositionError):
        composition.parse_statement(cut, "codeforces")


def test_leaks_are_found_by_whole_words():
    used = [("algorithms", "breadth-first search"), ("problem_domain", "grid navigation")]
    assert composition.leaked_terms("Use a Breadth First Search from the start.", used) == ["breadth first search"]
    assert composition.leaked_terms("Hint: dynamic programming helps.", []) == ["dynamic programming"]
    assert composition.leaked_terms("The heap of stones is sorted by the gardener.", used) == []
    assert composition.leaked_terms("Robots navigate a grid.", used) == []


def test_style_draw_follows_the_probabilities():
    draws = Counter(composition.draw_style(composition.RECIPE_STYLE_PROBABILITIES, 42, f"cfg-{i}") for i in range(3000))
    for style, p in composition.RECIPE_STYLE_PROBABILITIES.items():
        assert abs(draws[style] / 3000 - p) < 0.03
    assert composition.draw_style(composition.RECIPE_STYLE_PROBABILITIES, 42, "cfg-1") == composition.draw_style(
        composition.RECIPE_STYLE_PROBABILITIES, 42, "cfg-1"
    )
    with pytest.raises(ValueError, match="unknown styles"):
        composition.draw_style({"topcoder": 1.0}, 1, "x")
    with pytest.raises(ValueError, match="non-negative"):
        composition.draw_style({"codeforces": -1.0}, 1, "x")


def test_near_duplicates_are_found_and_different_texts_are_not():
    rng = random.Random(0)
    words = [f"w{rng.randint(0, 5000)}" for _ in range(80)]
    base = " ".join(words)
    index = composition.MinHashIndex(threshold=0.8)
    assert index.add("a", base) is None
    assert index.add("b", base.replace(words[40], "changed")) == "a"
    assert index.add("c", " ".join(reversed(words))) is None
    assert composition.normalized_text_hash("Hello,  World!") == composition.normalized_text_hash("hello world")


# ---- problems rows -----------------------------------------------------------------------------


def _statement(text):
    return composition.Statement("T", text, "n", "answer", "1 <= n <= 10", [{"input": "1\n", "output": "1\n"}])


def test_problem_records_mark_leaks_duplicates_and_failures():
    items = {
        "pool-a": PoolItem("pool-a", "algorithms", ("graph algorithms",), "dijkstra"),
        "pool-b": PoolItem("pool-b", "problem_domain", (), "city roads"),
    }
    offered = composition.offered_features(["pool-a", "pool-b"], items)
    assert [f.name for f in offered] == ["dijkstra", "city roads"]
    assert (
        composition.features_prompt(offered)
        == "- algorithms: graph algorithms / dijkstra\n- problem_domain: city roads"
    )
    scenario = composition.Scenario({}, ["dijkstra", "city roads"], "combine", "a city")
    composer = composition.ProblemComposer(
        0.8,
        [
            "problem_id",
            "config_id",
            "status",
            "error",
            "style",
            "title",
            "statement",
            "input_format",
            "output_format",
            "constraints",
            "examples_json",
            "function_name",
            "signature",
            "starter_code",
            "feature_ids",
            "selected_features",
            "scenario",
            "integration_strategy",
            "leaked_terms",
            "duplicate_of",
            "scenario_call_id",
            "statement_call_id",
            "model",
            "templates",
            "run_id",
        ],
    )
    common = dict(
        style="codeforces",
        offered=offered,
        scenario=scenario,
        scenario_call_id="call-s",
        categories={k: i.category for k, i in items.items()},
        features={k: i.feature for k, i in items.items()},
        model="m",
        templates=["a@v1", "b@v1"],
        run_id="r",
    )
    text = "Roads join the towns of a city; find how long the trip from town 1 to every other town takes at least."
    kept = composer.record(config_id="cfg-1", statement=_statement(text), statement_call_id="call-t", **common)
    assert (
        kept["status"] == "ok" and kept["feature_ids"] == ["pool-a", "pool-b"] and kept["statement_call_id"] == "call-t"
    )
    again = composer.record(config_id="cfg-2", statement=_statement(text.upper()), statement_call_id="call-u", **common)
    assert again["status"] == "duplicate" and again["duplicate_of"] == kept["problem_id"]
    leak = composer.record(
        config_id="cfg-3", statement=_statement("Use Dijkstra on the roads."), statement_call_id="c", **common
    )
    assert leak["status"] == "leak" and leak["leaked_terms"]
    failed = composer.record(
        config_id="cfg-4",
        statement=None,
        statement_call_id=None,
        **{**common, "scenario": Failure("parse_error", "no JSON")},
    )
    assert (failed["status"], failed["error"]) == ("parse_error", "scenario: no JSON")
    ids = [kept["problem_id"], again["problem_id"], leak["problem_id"], failed["problem_id"]]
    assert len(set(ids)) == 4

    shares = composition.problem_shares(
        [kept, again, leak, failed],
        {"codeforces": 0.7, "leetcode": 0.3},
        ["algorithms", "problem_domain", "programming_language"],
    )
    assert shares.composed == 3 and shares.style_shares == {"codeforces": 1.0, "leetcode": 0.0}
    assert shares.style_gaps == {"codeforces": 0.3, "leetcode": 0.3}
    assert shares.leak_share == shares.duplicate_share == pytest.approx(1 / 3)
    assert (shares.features_used, shares.pool_features, shares.feature_share) == (2, 2, 1.0)
