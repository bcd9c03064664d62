"""What one sandbox run means: the one place that turns a supervisor's raw result into a verdict.

The judge (`judge.py`) adds the output comparison on top; the run matrix (`runs.py`) hands its
callers a `RunOutcome` per run: a status, a reason, the output and the measurements, never the raw
dict the supervisor wrote.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from xcoder_assets.sandbox.backends import Limits

RunStatus = Literal[
    "ok", "time_limit", "memory_limit", "output_limit", "runtime_error", "compile_error", "sandbox_failure", "abandoned"
]


class Verdict(str, Enum):
    OK = "ok"
    WRONG_ANSWER = "wrong_answer"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    RUNTIME_ERROR = "runtime_error"
    COMPILE_ERROR = "compile_error"
    SANDBOX_FAILURE = "sandbox_failure"

    @property
    def lcb_code(self) -> bool | int:
        """The official harness's per-test result: True, -2 (WA), -3 (TLE), -4 (RE/CE), -5 (runner error)."""
        return {
            Verdict.OK: True,
            Verdict.WRONG_ANSWER: -2,
            Verdict.TIME_LIMIT: -3,
            Verdict.SANDBOX_FAILURE: -5,
        }.get(self, -4)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify_run(raw: dict[str, Any], limits: Limits) -> tuple[Verdict | None, str | None]:
    """The verdict a run gets before its output is looked at (None: it ended normally)."""
    if raw.get("killed_for") == "output_limit":
        return Verdict.OUTPUT_LIMIT, f"more than {limits.output_bytes} bytes of output"
    if raw.get("killed_for") == "wall_time":
        return Verdict.TIME_LIMIT, f"wall time over {limits.wall_s:g} s"
    if raw.get("runner_killed"):
        return Verdict.RUNTIME_ERROR, "the program killed or stopped the judge's test runner"
    sig = raw.get("signal")
    if sig and raw.get("oom_killed"):
        return (
            Verdict.MEMORY_LIMIT,
            f"the sandbox's processes together used more than {limits.sandbox_memory_bytes >> 20} MiB",
        )
    if sig == signal.SIGXCPU or raw.get("cpu_s", 0) > limits.cpu_s:
        return Verdict.TIME_LIMIT, f"CPU time over {limits.cpu_s:g} s"
    stderr = raw.get("stderr") or ""
    if "MemoryError" in stderr or (
        sig and limits.memory_bytes and raw.get("max_rss_kb", 0) * 1024 > 0.9 * limits.memory_bytes
    ):
        return Verdict.MEMORY_LIMIT, f"memory over {(limits.memory_bytes or 0) >> 20} MiB"
    if sig:
        return Verdict.RUNTIME_ERROR, f"killed by {_signal_name(sig)}"
    if raw.get("exit_code") not in (0, None):
        last = stderr.strip().splitlines()[-1][:200] if stderr.strip() else ""
        return Verdict.RUNTIME_ERROR, f"exit code {raw['exit_code']}" + (f": {last}" if last else "")
    if raw.get("stray_processes"):
        return Verdict.RUNTIME_ERROR, f"left {raw['stray_processes']} process(es) running after it exited"
    return None, None


@dataclass(frozen=True)
class RunOutcome:
    """One program on one input. `ok`: it ended normally (its output is then worth comparing)."""

    status: RunStatus
    reason: str | None = None
    stdout: str = ""
    stderr: str = ""
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_rss_kb: int = 0

    @property
    def ended_normally(self) -> bool:
        return self.status == "ok"

    @property
    def timed_out(self) -> bool:
        return self.status == "time_limit"

    def describe(self) -> str:
        """`status: reason`, for a row's reason column."""
        return self.status if not self.reason else f"{self.status}: {self.reason}"

    @classmethod
    def of(cls, raw: dict[str, Any], limits: Limits) -> "RunOutcome":
        if "compile_error" in raw:
            return cls(
                "compile_error", str(raw["compile_error"]).splitlines()[-1][:160] if raw["compile_error"] else None
            )
        if "sandbox_error" in raw:
            return cls("sandbox_failure", str(raw["sandbox_error"])[:160])
        if ABANDONED in raw:
            return cls("abandoned", raw[ABANDONED])
        if raw.get("lcb") is not None or raw.get("killed_for") == "global_timeout":
            return cls._of_lcb(raw, limits)
        verdict, reason = classify_run(raw, limits)
        return cls(
            "ok" if verdict is None else verdict.value,
            reason,
            raw.get("stdout") or "",
            raw.get("stderr") or "",
            raw.get("cpu_s", 0.0),
            raw.get("wall_s", 0.0),
            raw.get("max_rss_kb", 0),
        )

    @classmethod
    def _of_lcb(cls, raw: dict[str, Any], limits: Limits) -> "RunOutcome":
        """A test of profile lcb, run inside the solution's one process (its record, see supervisor.lcb_solution)."""
        import json

        record = raw.get("lcb") or {}
        kind = record.get("kind")
        measures = (raw.get("cpu_s", 0.0), raw.get("wall_s", 0.0), raw.get("max_rss_kb", 0))
        if kind == "output":
            return cls("ok", None, record.get("output") or "", "", *measures)
        if kind == "value":
            return cls("ok", None, json.dumps(record.get("value")), "", *measures)
        if kind == "timeout" or raw.get("killed_for") == "global_timeout":
            return cls("time_limit", "Time Limit Exceeded", "", "", *measures)
        if kind == "lost":
            verdict, reason = classify_run({**raw, "killed_for": None, "cpu_s": 0}, limits)
            status = verdict.value if verdict is not None and verdict.value in RUN_STATUSES else "runtime_error"
            return cls(status, record.get("error") + (f" ({reason})" if reason else ""), "", "", *measures)  # type: ignore[arg-type]
        return cls("runtime_error", str(record.get("error") or "no result")[:160], "", "", *measures)


RUN_STATUSES = (
    "ok",
    "time_limit",
    "memory_limit",
    "output_limit",
    "runtime_error",
    "compile_error",
    "sandbox_failure",
    "abandoned",
)
ABANDONED = "abandoned"  # the raw form of a run skipped after too many time limits
