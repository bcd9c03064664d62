import json

import pytest

from xcoder_assets_tests.simulator.joined import analyze_solution, answer_feature_extraction
from xcoder_assets.recipe.features import (
    CATEGORIES,
    FeatureTreeError,
    feature_row,
    leaves_per_category,
    leaves_to_tree,
    merge_trees,
    normalize_tree,
    parse_feature_answer,
    tree_leaves,
    tree_rows,
)
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.seeds import BUNDLED_SEEDS, load_seeds

TREE = {
    "Programming Language": ["Python"],
    "algorithms": {"graph algorithms": ["BFS", "bfs", "  Dijkstra  "], "dp": "knapsack"},
    "data_structures": ["queue", 7, None, "x" * 500],
    "summary": "Shortest paths.",
    "vibes": ["great"],
}


def test_normalize_tree_coerces_keys_and_leaves():
    tree, warnings = normalize_tree(TREE)
    assert tree["programming_language"] == ["Python"]
    assert tree["algorithms"] == {"graph algorithms": ["BFS", "bfs", "Dijkstra"], "dp": ["knapsack"]}
    assert tree["data_structures"] == ["queue", "7"]
    assert tree["summary"] == "Shortest paths."
    assert any("vibes" in w for w in warnings)
    assert any("not a short feature name" in w for w in warnings)


def test_normalize_tree_refuses_trees_without_categories():
    with pytest.raises(FeatureTreeError, match="none of the 11"):
        normalize_tree({"foo": ["bar"]})
    with pytest.raises(FeatureTreeError, match="JSON list"):
        normalize_tree(["a"])


def test_parse_statuses():
    good = "```json\n" + json.dumps(TREE) + "\n```"
    assert parse_feature_answer(good).status == "ok"
    assert parse_feature_answer(good, truncated=True).status == "truncated"
    cut = parse_feature_answer('```json\n{"algorithms": {"graph": ["bfs"', truncated=True)
    assert cut.status == "truncated" and cut.error
    prose = parse_feature_answer("It uses BFS.")
    assert prose.status == "parse_error" and "no JSON" in prose.error
    assert parse_feature_answer("", llm_error="rate_limited: gave up").status == "llm_error"
    repaired = parse_feature_answer('{"data_structures": ["stack",],}')
    assert repaired.status == "ok" and "JSON repaired" in repaired.warnings


def test_tree_leaves_excludes_free_text():
    tree, _ = normalize_tree(TREE)
    leaves = tree_leaves(tree)
    assert ("algorithms", ("graph algorithms",), "Dijkstra") in leaves
    assert all(category != "summary" for category, _, _ in leaves)


def test_merge_is_an_ordered_union_with_case_insensitive_dedup():
    a = {"algorithms": {"Graph Algorithms": ["BFS", "DFS"]}, "summary": "x"}
    b = {"algorithms": {"graph algorithms": ["bfs", "Dijkstra"]}, "data_structures": ["heap"]}
    merged = merge_trees([("feat-a", a), ("feat-b", b)])
    assert [(m.category, m.path, m.feature) for m in merged] == [
        ("algorithms", ("Graph Algorithms",), "BFS"),
        ("algorithms", ("Graph Algorithms",), "DFS"),
        ("algorithms", ("Graph Algorithms",), "Dijkstra"),
        ("data_structures", (), "heap"),
    ]
    assert merged[0].sources == ["feat-a", "feat-b"]
    assert leaves_to_tree(merged) == {
        "algorithms": {"Graph Algorithms": ["BFS", "DFS", "Dijkstra"]},
        "data_structures": ["heap"],
    }


def test_leaves_to_tree_mixed_levels():
    merged = merge_trees([("a", {"algorithms": {"x": ["1"]}}), ("b", {"algorithms": ["2"]})])
    assert leaves_to_tree(merged) == {"algorithms": {"x": ["1"], "general": ["2"]}}


def test_offline_analysis_finds_real_features():
    records, _ = load_seeds([BUNDLED_SEEDS])
    by_name = {r.question.split()[0:3].__repr__(): r for r in records}
    assert by_name
    dijkstra = next(r for r in records if "weighted directed graph" in r.question)
    tree = analyze_solution(dijkstra.question, dijkstra.solution)
    assert set(tree) == set(CATEGORIES)
    assert "dijkstra shortest paths" in tree["algorithms"]["graph algorithms"]
    assert "priority queue (binary heap)" in tree["data_structures"]
    assert "graph theory" in tree["problem_domain"]


def test_offline_answers_are_deterministic_and_imperfect():
    template = load_template("extract_features")
    records, _ = load_seeds([BUNDLED_SEEDS])
    prompts = [
        "\n\n".join(m["content"] for m in template.render(question=r.question, code=r.solution)) for r in records
    ]
    answers = [answer_feature_extraction(p) for p in prompts]
    assert answers == [answer_feature_extraction(p) for p in prompts]
    statuses = [parse_feature_answer(c, truncated=f == "length").status for c, f in answers]
    assert statuses.count("ok") >= len(records) * 0.7
    assert statuses.count("ok") < len(records)  # some answers fail, as a real model's do


def test_feature_and_tree_rows():
    parsed = parse_feature_answer('{"algorithms": {"graph": ["BFS"]}, "summary": "text"}')
    row = feature_row("seed-1", parsed, "call-1", "m", "extract_features@v1", "r")
    assert row["status"] == "ok" and row["leaf_count"] == 1 and row["categories"] == ["algorithms"]
    failed = feature_row("seed-1", parse_feature_answer("prose"), "call-2", "m", "t", "r")
    assert failed["status"] == "parse_error" and failed["tree_json"] is None and failed["error"]
    merged = merge_trees(
        [("feat-1", {"algorithms": {"graph": ["BFS"]}}), ("feat-2", {"algorithms": {"Graph": ["bfs"]}})]
    )
    (leaf,) = tree_rows(merged, "r")
    assert leaf["source_feature_ids"] == ["feat-1", "feat-2"] and leaf["node_id"].startswith("node-")
    counts = leaves_per_category(["algorithms", "algorithms"])
    assert counts["algorithms"] == 2 and counts["data_structures"] == 0
