"""run_matrix with a run cache another process shares (a second RunCache on the same file stands in for
it): runs that process holds are waited for and taken from the cache, not run again; runs it gives back
without a result are run here; profile lcb claims a program's inputs all or none."""

import threading
import time

from xcoder_assets.sandbox.backends import Limits
from xcoder_assets.sandbox.judge import limits_for
from xcoder_assets.sandbox.runs import Program, RunCache, run_key, run_matrix

DOUBLE = Program("print(int(input()) * 2)\n")
INPUTS = ["1\n", "2\n", "3\n"]


def _later(seconds: float, action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()))
    thread.start()
    return thread


def test_runs_another_process_holds_are_waited_for_not_run_twice(bwrap_backend, tmp_path):
    path = tmp_path / "runs.sqlite"
    other, here = RunCache(path, owner="another process"), RunCache(path)
    keys = [run_key(DOUBLE, i, Limits(), "strict") for i in INPUTS]
    assert other.claim(keys[:2]).mine == set(keys[:2])  # the other process is running the first two
    stored = {"stdout": "from the other process\n", "stderr": "", "exit_code": 0, "wall_s": 0.01, "cpu_s": 0.01}
    finisher = _later(0.5, lambda: [other.put(k, stored) for k in keys[:2]])
    outcomes, stats = run_matrix(bwrap_backend, [DOUBLE], [INPUTS], Limits(), here)
    finisher.join()
    assert [o.stdout for o in outcomes[0]] == ["from the other process\n"] * 2 + ["6\n"]
    assert (stats.executed, stats.cached, stats.runs) == (1, 2, 3)
    other.close()
    here.close()


def test_runs_given_back_without_a_result_are_run_here(bwrap_backend, tmp_path):
    path = tmp_path / "runs.sqlite"
    other, here = RunCache(path, owner="another process"), RunCache(path)
    keys = [run_key(DOUBLE, i, Limits(), "strict") for i in INPUTS]
    other.claim(keys)
    giver = _later(0.5, lambda: other.release(keys))  # that process stopped (abandoned, a broken sandbox)
    outcomes, stats = run_matrix(bwrap_backend, [DOUBLE], [INPUTS], Limits(), here)
    giver.join()
    assert [o.stdout for o in outcomes[0]] == ["2\n", "4\n", "6\n"] and stats.executed == 3
    assert len(here.get_many(keys)) == 3
    other.close()
    here.close()


def test_lcb_claims_a_programs_inputs_all_or_none(bwrap_backend, tmp_path):
    path = tmp_path / "runs.sqlite"
    other, here = RunCache(path, owner="another process"), RunCache(path)
    limits = limits_for("lcb", 1)
    keys = [run_key(DOUBLE, i, limits, "lcb", INPUTS[:position]) for position, i in enumerate(INPUTS)]
    other.claim(keys[1:2])  # one input of the program is held elsewhere: none of it runs here meanwhile
    seen: list[set[str]] = []
    giver = _later(0.5, lambda: (seen.append(set(here.get_many(keys))), other.release(keys[1:2])))
    outcomes, stats = run_matrix(bwrap_backend, [DOUBLE], [INPUTS], limits, here, profile="lcb")
    giver.join()
    assert seen == [set()]  # nothing was run (and stored) while the other process held an input
    assert [o.stdout for o in outcomes[0]] == ["2\n", "4\n", "6\n"] and stats.executed == 3
    other.close()
    here.close()
