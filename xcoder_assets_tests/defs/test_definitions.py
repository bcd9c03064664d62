"""The whole code location loads, and its graph is pinned by a generated snapshot: a change to the
asset keys, dependencies, checks, jobs, schedules or sensors is a visible diff in
__snapshots__/test_definitions.ambr (regenerate with `pytest --snapshot-update` and review it)."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource, build_resources
from xcoder_assets.defs.partitions import BATCH_ASSET_KEYS
from xcoder_assets.definitions import defs as lazy_defs
from xcoder_assets.store.tables import ALL_TABLES
from xcoder_assets_tests.conftest import PROJECT_ROOT


def load() -> dg.Definitions:
    return lazy_defs()


def graph_of(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "group": node.group_name,
            "pools": sorted(node.pools or []),
            "automation": node.automation_condition.get_label() if node.automation_condition else None,
            "partitions": getattr(node.partitions_def, "name", None) or type(node.partitions_def).__name__
            if node.partitions_def
            else None,
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == key),
        }
    return {
        "assets": assets,
        "jobs": sorted(job.name for job in defs.jobs or []),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "resources": {name: type(r).__name__ for name, r in sorted((defs.resources or {}).items())},
        # the GPU job's launcher (subprocess / docker / k8s) is a resource setting
        "trainer_launcher": getattr((defs.resources or {}).get("trainer"), "launcher", None),
    }


def test_definitions_load_and_validate():
    defs = load()
    dg.Definitions.validate_loadable(defs)
    assert set(defs.resources) >= {"storage", "llm", "sandbox"}


def test_definitions_snapshot(snapshot):
    assert graph_of(load()) == snapshot


def test_every_asset_has_a_description_owner_and_code_reference():
    for spec in load().resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.description, f"{name} has no description for the UI"
        assert spec.owners, f"{name} has no owner"
        assert "stage" in spec.tags, f"{name} has no stage tag"
        assert "dagster/code_references" in spec.metadata, f"{name} has no code reference"


# Being fixed: these assets' group and `stage` tag disagree; their modules (defs/shards.py, defs/benchmark.py)
# are reworked by their owners right now, who move them to resources.in_stage(). The lead empties this list.
GROUP_IS_NOT_STAGE: set[str] = set()


def test_every_asset_group_is_its_stage_tag():
    """One owner: an asset's group (the UI's grouping) and its `stage` tag (the UI's filter) are one name."""
    specs = {spec.key.to_user_string(): spec for spec in load().resolve_all_asset_specs()}
    wrong = {name for name, spec in specs.items() if spec.group_name != spec.tags.get("stage")}
    assert not wrong - GROUP_IS_NOT_STAGE, {n: (specs[n].group_name, specs[n].tags.get("stage")) for n in wrong}
    assert not GROUP_IS_NOT_STAGE - wrong, f"agree now, remove from GROUP_IS_NOT_STAGE: {GROUP_IS_NOT_STAGE - wrong}"


def test_check_names_do_not_repeat_their_asset():
    graph = load().resolve_asset_graph()
    for check in graph.asset_check_keys:
        assert not check.name.startswith(check.asset_key.to_user_string()), check
        assert len(check.name) <= 24, check


@pytest.mark.parametrize("resource", [StorageResource, LLMGatewayResource, SandboxResource])
def test_every_resource_field_is_described(resource):
    for name, field in resource.model_fields.items():
        assert field.description, f"{resource.__name__}.{name} has no description"


def test_every_config_field_is_described():
    graph = load().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assets_def = graph.get(key).assets_def
        for node in [assets_def.node_def]:
            schema = node.config_schema
            if schema is None or not hasattr(schema.config_type, "fields"):
                continue
            for name, field in schema.config_type.fields.items():
                assert field.description, f"{key.to_user_string()} config field {name} has no description"


def test_every_pipeline_table_column_is_described():
    for table in ALL_TABLES.values():
        assert table.undescribed() == [], table.name


def test_every_role_defaults_to_the_offline_simulator():
    llm = load().resources["llm"]
    assert set(llm.role_models().values()) == {"xcoder-offline/synthsmith-sim-1"}


def test_the_environment_is_read_in_one_place():
    env = {
        "XCODER_MODEL": "openai/a",
        "XCODER_MODEL_SOLVE": "openai/b",
        "XCODER_API_BASE_SOLVE": "http://solver",
        "XCODER_API_KEY": "sk-shared",
        "XCODER_MAX_IN_FLIGHT": "4000",
        "XCODER_DATA_DIR": "/somewhere",
        "XCODER_SANDBOX": "docker",
    }
    resources = build_resources(env)
    assert resources["storage"].data_dir == "/somewhere" and resources["sandbox"].backend == "docker"
    llm = resources["llm"]
    assert llm.max_in_flight == 4000
    # secrets stay environment variables (dg.EnvVar), never values in the resource's config
    assert isinstance(llm.model, dg.EnvVar) and isinstance(llm.api_key, dg.EnvVar)
    assert isinstance(llm.solve_api_base, dg.EnvVar) and llm.extract_api_base is None
    with pytest.raises(ValueError, match="XCODER_MAX_IN_FLIGHT"):
        build_resources({"XCODER_MAX_IN_FLIGHT": "many"})


def test_role_settings_fall_back_to_the_shared_ones():
    llm = LLMGatewayResource(
        model="openai/a", solve_model="openai/b", api_base="http://shared", solve_api_base="http://solver", api_key="k"
    )
    assert llm.settings("extract").model == "openai/a" and llm.settings("extract").api_base == "http://shared"
    solve = llm.settings("solve")
    assert (solve.model, solve.api_base, solve.api_key) == ("openai/b", "http://solver", "k")


def test_dg_list_defs_shows_the_schedule_sensors_partitioned_assets_and_pools():
    """What `dg list defs --json` shows a user (pools and partitions as the assets' tags: this dg lists
    tags but has no column for either)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "list", "defs", "--json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    listed = json.loads(done.stdout)
    assert {s["name"]: s["cron_schedule"] for s in listed["schedules"]} == {"nightly_batch": "0 2 * * *"}
    assert {s["name"] for s in listed["sensors"]} == {
        "lcb_release_sensor",
        "xcoder_automation",
        "batch_key_guard",
        "provider_batches_sensor",
    }
    tags = {a["asset_key"]: {t["key"]: t["value"] for t in a["tags"]} for a in listed["assets"]}
    assert {k for k, t in tags.items() if t.get("partitions") == "generation_batches"} == set(BATCH_ASSET_KEYS)
    pools = {k: t["pool"] for k, t in tags.items() if "pool" in t}
    assert set(pools.values()) == {"llm", "sandbox", "gpu"}
    assert pools["verified_solutions"] == "sandbox" and pools["trained_model"] == "gpu" and pools["problems"] == "llm"


def test_run_config_defaults_are_the_recipe_settings_defaults():
    """One owner of each default: the recipe's settings type; the run config (what the launchpad shows) agrees."""
    from xcoder_assets.defs.synthesis import EvolutionConfig, FeatureConfigsConfig, ProblemsConfig
    from xcoder_assets.defs.verification import TestInputsConfig, VerificationConfig
    from xcoder_assets.recipe.composition import CompositionSettings
    from xcoder_assets.recipe.evolution import EvolutionSettings
    from xcoder_assets.recipe.sampling import SamplingSettings
    from xcoder_assets.recipe.test_inputs import InputSettings
    from xcoder_assets.recipe.verification import VoteSettings

    assert EvolutionConfig().settings() == EvolutionSettings()
    assert ProblemsConfig().settings() == CompositionSettings()
    assert TestInputsConfig().settings() == InputSettings()
    assert VerificationConfig().settings() == VoteSettings() and VoteSettings().seed == 42
    sampling, config = SamplingSettings(), FeatureConfigsConfig()
    assert (config.count, config.seed, config.max_depth, config.min_leaves) == (
        sampling.count,
        sampling.seed,
        sampling.max_depth,
        sampling.min_leaves,
    )
    assert [tuple(s) for s in config.shapes] == list(sampling.shapes)
