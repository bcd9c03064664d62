"""The whole code location loads, and its graph is pinned: a change to it is a visible diff."""

import dagster as dg

from xcoder_assets.definitions import defs as lazy_defs

EXPECTED_GRAPH = {
    "seed_problems": [],
    "features": ["seed_problems"],
    "feature_tree": ["features"],
    "evolved_pool": ["feature_tree"],
    "feature_configs": ["evolved_pool"],
    "problems": ["feature_configs"],
    "test_inputs": ["problems"],
    "candidate_solutions": ["problems"],
    "verified_solutions": ["candidate_solutions", "test_inputs"],
}
EXPECTED_CHECKS = {
    ("seed_problems", "seed_problems_schema"),
    ("features", "features_schema"),
    ("features", "features_parse_failure_rate"),
    ("features", "features_no_empty_trees"),
    ("feature_tree", "feature_tree_schema"),
    ("feature_tree", "feature_tree_not_empty"),
    ("evolved_pool", "evolved_pool_schema"),
    ("evolved_pool", "evolved_pool_grew"),
    ("evolved_pool", "evolved_pool_rejection_share"),
    ("feature_configs", "feature_configs_schema"),
    ("feature_configs", "feature_configs_count"),
    ("feature_configs", "feature_configs_coverage"),
    ("problems", "problems_schema"),
    ("problems", "problems_style_mix"),
    ("problems", "problems_leak_share"),
    ("problems", "problems_duplicate_rate"),
    ("problems", "problems_feature_coverage"),
    ("test_inputs", "test_inputs_schema"),
    ("test_inputs", "test_inputs_per_problem"),
    ("test_inputs", "test_inputs_dropped_share"),
    ("candidate_solutions", "candidate_solutions_schema"),
    ("candidate_solutions", "candidate_solutions_usable_share"),
    ("verified_solutions", "verified_solutions_schema"),
    ("verified_solutions", "verified_solutions_tests_per_problem"),
    ("verified_solutions", "verified_solutions_unverified_test_share"),
    ("verified_solutions", "verified_solutions_easy_problem_share"),
    ("verified_solutions", "verified_solutions_rejection_reasons"),
}


def load() -> dg.Definitions:
    return lazy_defs()


def test_definitions_load_and_validate():
    defs = load()
    dg.Definitions.validate_loadable(defs)
    assert set(defs.resources) == {"storage", "llm", "sandbox"}


def test_asset_graph_snapshot():
    graph = load().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == set(EXPECTED_GRAPH)
    for asset, parents in EXPECTED_GRAPH.items():
        node = graph.get(dg.AssetKey(asset))
        assert sorted(p.to_user_string() for p in node.parent_keys) == parents, asset
        assert node.description, f"{asset} has no description for the UI"


def test_asset_check_snapshot():
    graph = load().resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert checks == EXPECTED_CHECKS


def test_every_role_defaults_to_the_offline_simulator():
    llm = load().resources["llm"]
    assert set(llm.role_models().values()) == {"xcoder-offline/synthsmith-sim-1"}
