"""The security suite through the judge service: the existing attacks, run unchanged by a client pool.

Chosen: every test of test_security*.py whose attack is the program's and whose checks read only
verdicts and the backend's count of sandboxes started (attacks on files, network, processes, PID 1,
the job runner, memory, scratch space, sockets, output and checkers; what a warm sandbox carries to
the next program). `sandbox` is the pool of three judge servers (containers where Docker runs); a
test that needs a backend of its own (`fresh_backend`: "no other program ran there", and it counts the
sandboxes started) gets a new judge server on loopback, its count read from the server's /metrics.
Left out: tests that look at the judge host's processes and uids (the server's host is not the
test's), the judge process's own keyring, tests that build a named backend themselves (two judges
side by side, the RL reward per backend name), and timing-only tests (a neighbour's CPU share)."""

import urllib.request

import pytest

from xcoder_assets.sandbox.remote import RemoteBackend
from xcoder_assets_tests.sandbox import test_security as base
from xcoder_assets_tests.sandbox import test_security_redteam as redteam
from xcoder_assets_tests.sandbox import test_security_round3 as round3
from xcoder_assets_tests.sandbox.test_service import JudgeServer, judge_pool, judge_servers, judge_token  # noqa: F401

# The sandbox's own security suites run in the default run on both local backends; through three judge
# servers in containers they take minutes more, so CI runs them with the slow suites (make test-slow).
pytestmark = pytest.mark.slow


class OneServer(RemoteBackend):
    """A pool of one server whose `started` is the server's count of sandboxes started (from /metrics)."""

    def __init__(self, url: str, token: str):
        self._started_url, self._token = url + "/metrics", token
        super().__init__([url], token=token)

    @property
    def started(self) -> int:
        request = urllib.request.Request(self._started_url, headers={"Authorization": f"Bearer {self._token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return int(
            next(x for x in text.splitlines() if x.startswith("xcoder_judge_sandboxes_started_total")).split()[1]
        )

    @started.setter
    def started(self, value: int) -> None:
        """RemoteBackend counts its requests here; this one reports the server's sandboxes instead."""


@pytest.fixture
def sandbox(judge_pool):  # noqa: F811
    return judge_pool


@pytest.fixture
def fresh_backend(judge_token, bwrap_backend):  # noqa: F811
    server = JudgeServer(judge_token, container=False)
    try:
        yield OneServer(server.url, judge_token)
    finally:
        server.kill()


host_files = base.host_files

test_host_files_are_unreadable = base.test_host_files_are_unreadable
test_no_network_to_the_host = base.test_no_network_to_the_host
test_host_files_cannot_be_written_or_deleted = base.test_host_files_cannot_be_written_or_deleted
test_attacks_fail_and_the_judge_finishes_the_batch = base.test_attacks_fail_and_the_judge_finishes_the_batch
test_a_test_holds_only_its_own_stdin_stdout_and_stderr = base.test_a_test_holds_only_its_own_stdin_stdout_and_stderr

test_no_expected_answer_or_earlier_output_in_a_later_programs_memory = (
    redteam.test_no_expected_answer_or_earlier_output_in_a_later_programs_memory
)
test_keyrings_and_new_namespaces_are_refused = redteam.test_keyrings_and_new_namespaces_are_refused
test_root_etc_and_dev_are_read_only = redteam.test_root_etc_and_dev_are_read_only
test_scratch_space_is_capped_wherever_a_program_writes = redteam.test_scratch_space_is_capped_wherever_a_program_writes
test_empty_files_are_capped = redteam.test_empty_files_are_capped
test_memory_is_capped_for_the_whole_sandbox = redteam.test_memory_is_capped_for_the_whole_sandbox
test_a_warm_sandbox_carries_nothing_to_the_next_program = (
    redteam.test_a_warm_sandbox_carries_nothing_to_the_next_program
)
test_hostile_outputs_are_compared_exactly = redteam.test_hostile_outputs_are_compared_exactly

test_programs_cannot_touch_pid_1_or_the_job_runner = round3.test_programs_cannot_touch_pid_1_or_the_job_runner
test_no_register_in_pid_1_survives_a_job = round3.test_no_register_in_pid_1_survives_a_job
test_pid_1_keeps_nothing_of_a_program_that_killed_its_runner = (
    round3.test_pid_1_keeps_nothing_of_a_program_that_killed_its_runner
)
test_only_unix_and_inet_sockets_and_no_io_uring = round3.test_only_unix_and_inet_sockets_and_no_io_uring
test_output_past_the_cap_is_an_output_limit = round3.test_output_past_the_cap_is_an_output_limit
test_a_checker_judges_a_long_answer_whole = round3.test_a_checker_judges_a_long_answer_whole
test_strict_passes_what_cpython_runs_to_a_correct_exit = round3.test_strict_passes_what_cpython_runs_to_a_correct_exit
test_the_lcb_profile_keeps_the_harness_rule = round3.test_the_lcb_profile_keeps_the_harness_rule


def test_a_fresh_sandbox_per_program_through_the_service(fresh_backend):
    """The RL reward's setting (fresh_sandbox): every program has a sandbox of its own on the server, so a
    writer's marks on the PID and inode counters never reach the next program (round 3's channel)."""
    from xcoder_assets.sandbox.judge import judge_solution

    fresh_backend.fresh_sandbox = True
    alone = round3.printed(judge_solution(fresh_backend, redteam.expect(""), round3.READ_COUNTERS)).split()
    for mark in (7, 40):
        started = fresh_backend.started
        marked = judge_solution(fresh_backend, redteam.expect("marked"), f"MARK = {mark}\n" + round3.MARK_COUNTERS)
        assert marked.passed, marked.reason
        assert fresh_backend.started == started + 1  # the program had a sandbox of its own
        after = round3.printed(judge_solution(fresh_backend, redteam.expect(""), round3.READ_COUNTERS)).split()
        assert after[1] == alone[1] and int(after[0]) < int(alone[0]) + mark, (mark, after, alone)
