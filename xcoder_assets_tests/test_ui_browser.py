"""The Dagster UI in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against a webserver this module starts on a free port, over a data directory and instance it fills first.
Part of `make test` (about a minute): make test-deps installs chromium and Playwright comes with the
test extra.
"""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
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
        # The UI greets a fresh instance on 127.0.0.1 with a newsletter dialog over the page until it is told
        # the user saw it (the same mutation its Skip button sends): told here once, no page waits for it.
        assert _graphql(url, "mutation { setNuxSeen }")["setNuxSeen"] is True
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
    # should the newsletter dialog show after all, Skip it before an action it would cover (no waiting for it)
    skip = page.get_by_role("button", name="Skip")
    page.add_locator_handler(skip, lambda locator: locator.click())
    yield page
    context.close()


def _asset_nodes(url: str) -> list[dict]:
    return _graphql(url, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]


def _open(page, url: str) -> None:
    """Go to a page (the webserver fixture told the UI its newsletter dialog was seen: none to close)."""
    page.goto(url)


def _graph_menu(page, item: str):
    """An item of the asset graph's own menu (a right click on the canvas). The heading shows before the graph
    is drawn, and a right click on a canvas not drawn yet opens nothing (on a loaded machine it can take
    seconds): right-click again until the menu is there."""
    menu = page.get_by_role("menuitem", name=item)
    deadline = time.monotonic() + 60
    while True:
        page.mouse.click(1200, 900, button="right")
        try:
            menu.wait_for(timeout=2000)
            return menu
        except Exception:
            assert time.monotonic() < deadline, f"the asset graph's menu did not open (no {item!r})"
            page.keyboard.press("Escape")


def test_asset_graph_shows_every_asset(webserver, page):
    url, _ = webserver
    keys = sorted(a["assetKey"]["path"][-1] for a in _asset_nodes(url))
    assert {"seed_problems", "evolved_pool", "verified_solutions", "lcb_problems"} <= set(keys)
    _open(page, f"{url}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for()
    _graph_menu(page, "Expand all groups").click()
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


# ---- untrusted text ---------------------------------------------------------------------------------


class _LoggingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with an empty 204 and records its path: a browser that fetches anything
    named by model-written text shows up here."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_HEAD = do_POST = do_GET

    def log_message(self, *args):  # no stderr noise
        pass


@pytest.fixture
def logging_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LoggingHandler)  # port 0: a free one
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()


def test_model_written_text_fetches_nothing(webserver, page, logging_server):
    """A composed problem whose statement, title and example carry an image, a link, autolinks, raw HTML and
    a code-fence break-out pointing at a local server: its asset page shows the text and fetches nothing."""
    import dagster as dg
    import polars as pl

    from xcoder_assets.defs.partitions import BATCH_PARTITIONS_NAME
    from xcoder_assets.defs.resources import sample_rows_metadata
    from xcoder_assets.defs.synthesis import _problem_metadata
    from xcoder_assets.recipe.composition import ProblemsTally
    from xcoder_assets.present.render import chat_markdown

    url, data = webserver
    host, requests = logging_server
    batch = "ui-hostile"
    row = {
        "problem_id": "prob-00000000000000aa",
        "status": "ok",
        "style": "codeforces",
        "title": f"![t]({host}/title.png)",
        "statement": f"Count. ![s]({host}/statement.png) [l]({host}/link) <{host}/angle> {host}/bare",
        "input_format": f'<img src="{host}/raw.png"> www.example.com',
        "output_format": "One integer.",
        "constraints": "1 <= n <= 10",
        "examples_json": json.dumps([{"input": f"1\n```\n![f]({host}/fence.png)\n```", "output": "1"}]),
        "function_name": None,
        "signature": None,
        "starter_code": None,
    }
    frame = pl.DataFrame([row])
    tally = ProblemsTally()  # what the problems stage counts as it writes its rows
    tally.add([{**row, "feature_ids": []}])
    metadata = {**sample_rows_metadata(frame, "problem_id", ["title"]), **_problem_metadata(tally)}
    # a training example as training_shards shows one: the reasoning in its <think> block must show
    answer = f"<think>\nthe answer is ![r]({host}/think.png)\n</think>\n\n```python\nprint(1)\n```"
    metadata["sample_example"] = dg.MetadataValue.md(chat_markdown([("user", row["statement"]), ("assistant", answer)]))
    assert all(len(metadata[k].value) < 1000 for k in ("sample_problem", "sample_example"))  # inline, on page load
    with dg.DagsterInstance.from_config(str(data.parent / "dagster_home")) as instance:
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [batch])
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="problems", partition=batch, metadata=metadata)
        )
    _open(page, f"{url}/assets/problems?partition={batch}")
    shown = page.locator("tr", has_text="sample_problem").first
    shown.wait_for()
    page.wait_for_timeout(3000)  # time for any image to be asked for
    assert requests == []
    port = host.rsplit(":", 1)[1]
    found = page.locator(f"img[src*='{port}'], a[href*='{port}'], [srcset*='{port}']")
    assert found.count() == 0, found.evaluate_all("els => els.map(e => e.parentElement.outerHTML.slice(0, 300))")
    # and the text is there to read, the example's fence break-out still inside its code block
    text = shown.inner_text().replace("\u200b", "")
    assert f"Count. ![s]({host}/statement.png) [l]({host}/link)" in text
    assert f"```\n![f]({host}/fence.png)\n```" in shown.locator("pre").first.inner_text()
    example = page.locator("tr", has_text="sample_example").first.inner_text().replace("\u200b", "")
    assert f"<think>\nthe answer is ![r]({host}/think.png)\n</think>" in example and "print(1)" in example


@pytest.mark.parametrize("asset", PREPARED)
def test_long_metadata_values_stay_inside_the_page(webserver, page, asset):
    """No metadata value is wider than the table's column: the UI clips a wider table on the right, every
    value with it. Paths are shown relative to the data directory (the UI cannot wrap a path) and tables
    keep to a few columns."""
    url, _ = webserver
    _open(page, f"{url}/assets/{asset}")
    page.locator("tr", has_text="sample_rows").first.wait_for()
    table = page.locator("table", has_text="sample_rows").last
    width, room, widest = table.evaluate(
        """t => [t.scrollWidth, t.parentElement.clientWidth,
                 [...t.querySelectorAll(':scope > tbody > tr')].map(r => {
                     // the narrowest the value can be drawn: a copy of it at min-content width
                     const copy = document.createElement('div');
                     copy.style.cssText = 'position:absolute;width:min-content;visibility:hidden';
                     copy.appendChild(r.lastElementChild.cloneNode(true));
                     r.appendChild(copy);
                     const needs = copy.getBoundingClientRect().width;
                     copy.remove();
                     return [Math.round(needs), r.firstElementChild.innerText];
                 }).sort((a, b) => b[0] - a[0]).slice(0, 3)]"""
    )
    # scrollWidth and clientWidth are rounded to whole pixels separately: a table that exactly fills its
    # column can read one pixel over (seen once in CI: 897 in 896). A value that does not fit is far wider.
    assert width <= room + 1, f"{asset}: metadata table {width} px wide in a {room} px column; widest values: {widest}"


# ---- what a run costs -------------------------------------------------------------------------------


def test_the_cost_estimate_runs_from_the_ui_and_renders_its_table(webserver, page):
    """The estimate_cost job launched as the launchpad launches it (the webserver's run launcher, a run process of
    its own), then its figures read in the run's page: the markdown table rendered, its dollar signs shown as such."""
    url, _ = webserver
    entries = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
    location = entries["workspaceOrError"]["locationEntries"][0]["name"]
    launched = _graphql(
        url,
        """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
        ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
        {
            "p": {
                "selector": {
                    "repositoryLocationName": location,
                    "repositoryName": "__repository__",
                    "jobName": "estimate_cost",
                },
                "runConfigData": {"ops": {"cost_estimate": {"config": {"select": "features"}}}},
            }
        },
    )
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["launchRun"]["run"]["runId"]
    deadline = time.monotonic() + 240
    while True:
        status = _graphql(url, "query($r: ID!) { runOrError(runId: $r) { ... on Run { status } } }", {"r": run_id})
        status = status["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        assert time.monotonic() < deadline, f"the estimate's run did not finish: {status}"
        time.sleep(2)
    assert status == "SUCCESS"
    _open(page, f"{url}/runs/{run_id}")
    page.get_by_text(re.compile(r"^estimated cost: \$0\.00 \(requests 0, tokens 0\)$")).first.wait_for()  # the log line
    page.get_by_text("[Show Markdown]").first.click()
    page.locator("td", has_text="extract_features@v1").first.wait_for()  # the table, rendered
    shown = page.get_by_text(re.compile(r"estimated cost: .0\.00 \(requests 0")).last.inner_text()
    assert "estimated cost: $0.00 (requests 0, tokens 0)" in shown and "\\$" not in shown
