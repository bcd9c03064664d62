"""The Dagster UI in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against a webserver this module starts on a free port, over a data directory and instance it fills first.
Part of `make test` (about a minute): make test-deps installs chromium and Playwright comes with the
test extra.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from xcoder_assets_tests.conftest import PROJECT_ROOT, free_port, graphql

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(600)
# cheap to materialize and enough to show a check result (seed_problems) and a chart (evolved_pool's growth curve)
PREPARED = ["seed_problems", "features", "feature_tree", "evolved_pool"]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    return graphql(url, query, variables)["data"]


@pytest.fixture(scope="module")
def webserver():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium missing in CI (make test-deps installs it)")
        pytest.skip("Debian's chromium is not installed (deploy/install-test-deps.sh)")
    import dagster as dg

    from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource
    from xcoder_assets.definitions import defs as lazy_defs

    root = Path(tempfile.mkdtemp(prefix="xcoder-ui-"))
    home, data = root / "dagster_home", root / "data"
    home.mkdir()
    data.mkdir()
    # runs launch at once, without a daemon (the queued coordinator, Dagster's default, needs one)
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n  module: "
        "dagster.core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        defs = lazy_defs()
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            selection=PREPARED,
            instance=instance,
            resources={
                **defs.resources,
                "storage": StorageResource(data_dir=str(data)),
                "llm": LLMGatewayResource(),
                "sandbox": SandboxResource(),
            },
            run_config={"ops": {"evolved_pool": {"config": {"rounds": 3}}}},
        )
        assert result.success
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "XCODER_DATA_DIR": str(data),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    log = (root / "webserver.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-m",
            "xcoder_assets.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (root / "webserver.log").read_text()[-3000:]
            try:
                entries = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }")
                if entries["workspaceOrError"]["locationEntries"][0]["loadStatus"] == "LOADED":
                    break
            except (OSError, AssertionError, KeyError, IndexError, TypeError):
                pass
            assert time.monotonic() < deadline, "the webserver did not load the code location"
            time.sleep(1)
        yield url, data
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's own sandbox refuses to start as root (CI runs as root)
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _asset_nodes(url: str) -> list[dict]:
    return _graphql(url, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]


def _open(page, url: str) -> None:
    """Go to a page and close the newsletter dialog a fresh browser profile gets."""
    page.goto(url)
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.first.wait_for(timeout=8000)
        skip.first.click()
    except Exception:  # no dialog this time
        pass


def test_asset_graph_shows_every_asset(webserver, page):
    url, _ = webserver
    keys = sorted(a["assetKey"]["path"][-1] for a in _asset_nodes(url))
    assert {"seed_problems", "evolved_pool", "verified_solutions", "lcb_problems"} <= set(keys)
    _open(page, f"{url}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    page.mouse.click(1200, 900, button="right")  # the graph's own menu
    page.get_by_role("menuitem", name="Expand all groups").click()
    sidebar = page.get_by_placeholder("Jump to…").bounding_box()
    edge = sidebar["x"] + sidebar["width"] + 40  # right of the group tree: the graph itself
    for key in keys:
        # a long name is drawn shortened in the middle (candida…_solutions)
        name = re.compile(rf"^({re.escape(key)}|{re.escape(key[:4])}\S*…\S*{re.escape(key[-6:])})$")
        page.get_by_text(name).first.wait_for(state="attached")
        boxes = [el.bounding_box() for el in page.get_by_text(name).all()]
        assert any(b and b["x"] > edge for b in boxes), f"{key} is not drawn in the graph"


def test_schedule_and_sensor_are_listed(webserver, page):
    url, _ = webserver
    _open(page, f"{url}/automation")
    for name in ["nightly_batch", "lcb_release_sensor"]:
        page.get_by_text(name, exact=True).first.wait_for()


def test_check_result_and_metadata_plot_render(webserver, page):
    url, _ = webserver
    _open(page, f"{url}/assets/seed_problems?view=checks")
    page.get_by_text("reject_share", exact=True).first.wait_for()
    page.get_by_text("Passed").first.wait_for()
    _open(page, f"{url}/assets/evolved_pool")
    row = page.locator("tr", has_text="growth_curve").first
    row.scroll_into_view_if_needed()
    row.get_by_text("[Show Markdown]").click()
    chart = page.locator("img[src^='data:image/svg+xml']").first
    chart.wait_for()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG decoded and drew


def test_materialize_from_the_ui(webserver, page):
    url, data = webserver
    before = (data / "seed_problems.parquet").stat().st_mtime_ns
    runs_query = "{ runsOrError { ... on Runs { results { runId status } } } }"
    prior = {r["runId"] for r in _graphql(url, runs_query)["runsOrError"]["results"]}
    _open(page, f"{url}/assets/seed_problems")
    page.locator("button", has_text=re.compile(r"^\s*Materialize\s*$")).first.click()
    deadline = time.monotonic() + 240
    while True:
        runs = [r for r in _graphql(url, runs_query)["runsOrError"]["results"] if r["runId"] not in prior]
        if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"the UI's run did not finish: {runs}"
        time.sleep(2)
    assert runs[0]["status"] == "SUCCESS"
    assert (data / "seed_problems.parquet").stat().st_mtime_ns > before
    _open(page, f"{url}/runs/{runs[0]['runId']}")
    page.get_by_text("Success").first.wait_for()
