"""run_matrix: its progress hook, and profile lcb through it (one process per program, cached in order)."""

import logging

from xcoder_assets.sandbox.backends import Limits
from xcoder_assets.sandbox.judge import limits_for
from xcoder_assets.sandbox.runs import Program, RunCache, run_matrix

DOUBLE = Program("print(int(input()) * 2)\n")
FAILS_ON_TWO = Program("n = int(input())\nassert n != 2\nprint(n)\n")
COUNTER = Program("global c\ntry:\n    c += 1\nexcept NameError:\n    c = 1\nprint(c)\n")
INPUTS = ["1\n", "2\n", "3\n"]


def test_progress_is_reported_per_program_in_runs_with_the_cached_ones(bwrap_backend, tmp_path):
    cache = RunCache(tmp_path / "cache.sqlite")
    calls = []
    programs = [DOUBLE, FAILS_ON_TWO, Program("print(0)\n")]
    run_matrix(bwrap_backend, programs, [INPUTS] * 3, Limits(), cache, on_progress=lambda *a: calls.append(a))
    assert len(calls) == 3 and [c[1] for c in calls] == [9, 9, 9]
    assert [c[0] for c in calls] == sorted(c[0] for c in calls) and calls[-1] == (9, 9, 0, 0)
    again = []
    _, stats = run_matrix(
        bwrap_backend, programs, [INPUTS] * 3, Limits(), cache, on_progress=lambda *a: again.append(a)
    )
    assert again[-1] == (9, 9, 9, 0) and stats.executed == 0


def test_runs_not_run_are_counted_apart_from_the_executed_and_cached(bwrap_backend, tmp_path):
    """A program abandoned after its time limit: its skipped runs are "not run", not "new" (issue 20)."""
    slow = Program("while True:\n    pass\n")
    calls = []
    _, stats = run_matrix(
        bwrap_backend,
        [slow],
        [INPUTS],
        limits_for("strict", 0.2),
        RunCache(tmp_path / "cache.sqlite"),
        abandon_after_timeouts=1,
        on_progress=lambda *a: calls.append(a),
    )
    assert calls[-1] == (3, 3, 0, 2) and stats.executed == 1


def test_a_progress_hook_that_raises_never_ends_the_batch(bwrap_backend, caplog):
    def broken(done, total, cached, not_run):
        raise RuntimeError("meter broke")

    with caplog.at_level(logging.WARNING):
        outcomes, _ = run_matrix(
            bwrap_backend, [DOUBLE, DOUBLE], [["1\n"], ["2\n"]], Limits(), RunCache(None), on_progress=broken
        )
    assert [o[0].stdout for o in outcomes] == ["2\n", "4\n"]
    assert caplog.text.count("meter broke") == 1


def test_lcb_runs_a_programs_inputs_in_one_process(bwrap_backend, tmp_path):
    cache = RunCache(tmp_path / "cache.sqlite")
    limits = limits_for("lcb", 1)
    outcomes, _ = run_matrix(bwrap_backend, [COUNTER, FAILS_ON_TWO], [INPUTS] * 2, limits, cache, profile="lcb")
    assert [o.stdout for o in outcomes[0]] == ["1\n", "2\n", "3\n"]  # the module's global carries
    assert [o.status for o in outcomes[1]] == ["ok", "runtime_error", "abandoned"]
    assert "earlier failure" in outcomes[1][2].reason
    # one input not seen before: the whole sequence runs again, so the counter still counts from 1
    more, stats = run_matrix(bwrap_backend, [COUNTER], [INPUTS + ["4\n"]], limits, cache, profile="lcb")
    assert [o.stdout for o in more[0]] == ["1\n", "2\n", "3\n", "4\n"] and stats.executed == 4
