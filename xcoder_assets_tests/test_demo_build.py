"""The session demo's build (xcoder_assets_tests/demo.py): built once under its lock, read back by every later
caller, and a failed build is recorded once and handed to the later callers instead of being built again."""

import subprocess

import pytest

from xcoder_assets_tests.demo import _build_under_lock


class Counting:
    """Stands in for `xcoder materialize`: counts its calls and answers with the given exit status."""

    def __init__(self, returncode: int):
        self.returncode = returncode
        self.calls = 0

    def __call__(self, home, data, *args):
        self.calls += 1
        return subprocess.CompletedProcess(["xcoder", "materialize", *args], self.returncode, f"run {self.calls}", "")


def test_the_demo_is_built_once_and_read_back(tmp_path):
    build = Counting(0)
    first = _build_under_lock(tmp_path / "demo", build)
    assert build.calls == 2 and [r.stdout for r in first] == ["run 1", "run 2"]  # the run, then the cached rerun
    again = _build_under_lock(tmp_path / "demo", Counting(1))  # read back: the failing stand-in is never called
    assert [(r.returncode, r.stdout) for r in again] == [(0, "run 1"), (0, "run 2")]
    assert [str(a) for a in again[0].args][:2] == ["xcoder", "materialize"]


def test_a_failed_build_is_recorded_once_and_not_built_again(tmp_path):
    failing = Counting(1)
    with pytest.raises(AssertionError, match="run 1"):
        _build_under_lock(tmp_path / "demo", failing)
    assert failing.calls == 1 and "run 1" in (tmp_path / "demo" / "failed.txt").read_text()
    working = Counting(0)
    with pytest.raises(RuntimeError, match="the session's demo failed to build: AssertionError: run 1"):
        _build_under_lock(tmp_path / "demo", working)
    assert working.calls == 0
