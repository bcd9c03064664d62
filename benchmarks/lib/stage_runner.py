"""One stage of a benchmark in a process of its own, so that its peak RSS is its own: the parent side
(`run_child`: start the script's child command, wait4 for its peak RSS and CPU, read what it wrote) and
the child side (`timed`: the stage's seconds, under cProfile where asked; `finish`: its result written,
then exit; `Materialization`: dg.materialize of the project's assets). Used by scale.py and synthesis_full.py.

A child's peak RSS is the kernel's ru_maxrss of wait4. A child started by fork keeps its parent's peak
across exec, so the parent that calls run_child must stay small (these scripts' parents import no
project code; lineage_scale.py, whose parent is large, reads the child's own VmHWM instead).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Sequence


@dataclass(frozen=True)
class ChildRun:
    result: dict[str, Any]  # what the child wrote to its out file
    process_seconds: float  # the child's whole life: start-up, imports, the stage, exit
    rss_mb: float  # the child's peak RSS (wait4's ru_maxrss)
    cpu_seconds: float  # user + system, the child's


# The child's accounting group's usage file (set by run_child where the host allows one): read by `timed` in the
# child, so that a stage's CPU seconds include its sandboxes' programs, which no rusage of the child's sees (each
# runs in a control group of its own, under the caller's, and may be reaped by a process that ignores SIGCHLD).
GROUP_USAGE_ENV = "XCODER_BENCH_CPU_USAGE_FILE"


class CpuGroup:
    """A cgroup v1 cpuacct group (root, v1 hierarchy mounted) holding one child and every process it starts:
    the sandboxes' groups go under it (sandbox/cgroups.py makes them under the caller's own group). Where the
    host has none, `usage_file` is None and the figures fall back to the child's own rusage."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        root = Path("/sys/fs/cgroup/cpuacct")
        if os.geteuid() != 0 or not (root / "cpuacct.usage").exists():
            return
        directory = root / f"xcoder-bench-{os.getpid()}-{time.monotonic_ns()}"
        try:
            directory.mkdir()
        except OSError:
            return
        self.directory = directory

    @property
    def usage_file(self) -> str | None:
        return str(self.directory / "cpuacct.usage") if self.directory else None

    def add(self, pid: int) -> None:
        if self.directory:
            (self.directory / "cgroup.procs").write_text(str(pid))

    def close(self) -> None:
        """Remove the group once its processes are gone (the sandboxes' own groups were removed by their judge;
        the parent `xcoder-sandbox` is left empty)."""
        if not self.directory:
            return
        for leftover in sorted(self.directory.glob("**/"), key=lambda d: len(d.parts), reverse=True):
            try:
                leftover.rmdir()
            except OSError:
                pass


def run_child(command: Sequence[str], env: Mapping[str, str], out: Path, what: str) -> ChildRun:
    """Run `command` (a child that writes its result to `out` as JSON) and wait for it, in a CPU accounting group
    of its own where the host allows; SystemExit naming `what` if it fails or writes nothing."""
    out.unlink(missing_ok=True)  # a result left by an earlier child is not this one's
    group = CpuGroup()
    child_env = {**env, GROUP_USAGE_ENV: group.usage_file} if group.usage_file else dict(env)
    started = time.perf_counter()
    child = subprocess.Popen(list(command), env=child_env)
    group.add(child.pid)  # at once: the child is still starting Python, and everything it starts follows it
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    group.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{what} failed (exit {code})")
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{what}: no result in {out}: {exc}") from None
    return ChildRun(result, seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


def cpu_seconds() -> float:
    """In a child of run_child: the CPU seconds of its accounting group (this process and everything it started,
    the sandboxes' programs included); without one, this process's and its waited-for children's."""
    usage_file = os.environ.get(GROUP_USAGE_ENV)
    if usage_file:
        try:
            return int(Path(usage_file).read_text()) / 1e9
        except (OSError, ValueError):
            pass
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(
    work: Callable[[], Any], profile: bool = False, tottime: int = 30, cumulative: int = 0
) -> tuple[Any, float, float]:
    """In the child: `work()`, its wall seconds and its CPU seconds (`cpu_seconds()`: what a loaded machine
    inflates less); under cProfile with its tables printed (the `tottime` and `cumulative` slowest lines)
    where `profile`."""
    started, cpu = time.perf_counter(), cpu_seconds()
    if not profile:
        value = work()
        return value, time.perf_counter() - started, cpu_seconds() - cpu
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    value = profiler.runcall(work)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    pstats.Stats(profiler).sort_stats("tottime").print_stats(tottime)
    if cumulative:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(cumulative)
    return value, seconds, cpu


def write_result(out: Path, result: dict[str, Any]) -> None:
    """The child's result, written atomically (the parent reads it once the child has exited)."""
    part = out.with_name(out.name + ".part")
    part.write_text(json.dumps(result))
    os.replace(part, out)


def finish(out: Path, result: dict[str, Any]) -> NoReturn:
    """In the child, its last call: the result written, logs and output flushed, then exit at once. The
    interpreter's teardown of what a stage imports (Dagster, litellm, Polars) costs ~2 s of CPU per process,
    more than a tiny run's stage itself; nothing of the stage is left to it (the result file is closed, the
    Dagster run finished)."""
    write_result(out, result)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class Materialization:
    """dg.materialize of these assets of the project's definitions against DAGSTER_HOME's instance, with the
    resources of the environment, as a user runs them. Made (definitions loaded, instance opened, the batch
    partition added where an asset is partitioned) apart from `run`, so that a caller can time the run alone.
    `configs`: op config by asset name."""

    def __init__(self, names: Sequence[str], configs: Mapping[str, dict], batch: str) -> None:
        import dagster as dg

        from xcoder_assets.definitions import defs as lazy_defs
        from xcoder_assets.defs.partitions import add_batch

        assets = {a.key.to_user_string(): a for a in lazy_defs().assets}
        self.names, self.chosen = list(names), [assets[name] for name in names]
        self.instance = dg.DagsterInstance.get()
        self.batch = batch if any(a.partitions_def is not None for a in self.chosen) else None
        if self.batch is not None:
            add_batch(self.instance, batch)
        self.run_config = {"ops": {n: {"config": configs[n]} for n in self.names if n in configs}}

    def run(self):
        import dagster as dg

        from xcoder_assets.defs.resources import build_resources

        return dg.materialize(
            self.chosen,
            resources=build_resources(),
            instance=self.instance,
            run_config=self.run_config,
            partition_key=self.batch,
            raise_on_error=True,
        )


def materialize(names: Sequence[str], configs: Mapping[str, dict], batch: str):
    """Materialization(names, configs, batch).run(): definitions, instance and run in one."""
    return Materialization(names, configs, batch).run()


def materialization_metadata(result, name: str, kinds: tuple[type, ...] = (int, float)) -> dict[str, Any]:
    """The metadata values of `name`'s materialization in `result` that are of these kinds."""
    return {
        k: v.value
        for k, v in result.asset_materializations_for_node(name)[0].metadata.items()
        if isinstance(v.value, kinds)
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"
