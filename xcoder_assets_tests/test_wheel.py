"""The package as a wheel, installed outside the checkout, works: everything it reads at run time (SQL,
prompt templates, bundled data) travels inside it. The code image installs the package this way, so a
file the wheel lacks fails every asset of a deployment while the checkout's tests pass."""

import os
import site
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from xcoder_assets_tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # an isolated build, as `pip install /opt/xcoder` does in the image (the build copies the tree first)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("xcoder_assets-*.whl")
    return path


def test_the_wheel_carries_what_the_package_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in [("sql", "*.sql"), ("recipe/prompts", "*.txt"), ("data", "*.jsonl")]:
        expected = {
            f"xcoder_assets/{folder}/{p.relative_to(PROJECT_ROOT / 'xcoder_assets' / folder)}"
            for p in (PROJECT_ROOT / "xcoder_assets" / folder).rglob(pattern)
        }
        assert expected and expected <= names, sorted(expected - names)


def test_an_installed_wheel_materializes_the_first_assets_outside_the_checkout(wheel, tmp_path):
    """A fresh environment whose only copy of the package is the wheel's: the dependencies come from this
    test's environment (a path after the wheel's site, without its .pth files, so the checkout's editable
    install is not on the path), and the command runs from a folder outside the checkout."""
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    dependencies = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if os.path.isdir(p)]
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(target), *dependencies]),
        "PYTHONNOUSERSITE": "1",
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "XCODER_DATA_DIR": str(tmp_path / "data"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    (tmp_path / "dagster_home").mkdir()
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import xcoder_assets; print(xcoder_assets.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    xcoder = [sys.executable, "-S", "-m", "xcoder_assets.cli"]
    done = subprocess.run(
        [*xcoder, "materialize", "--select", "seed_problems,features,feature_tree"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    query = subprocess.run(
        [*xcoder, "sql", "SELECT count(*) AS features FROM features"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert query.returncode == 0, (query.stdout + query.stderr)[-3000:]
    counted = [int(token) for token in query.stdout.split() if token.isdigit()]
    assert counted and counted[-1] > 0, query.stdout
