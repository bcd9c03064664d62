"""A progress meter for long stages: done / total, rate, cache hits, as one throttled log line.

Fed by the `on_progress(done, total, cached[, not_run])` hooks of the LLM gateway and the sandbox run
matrix (called from worker threads or an event loop, so it locks); prints through any `emit` callable
(the asset's `context.log.info`), about every `interval_s` and once at the end (nothing when there
was nothing to do). What it counts is said on the line: the work done now (`new`: requests sent,
programs run), what the cache answered (identical work done before, in this run or an earlier
one), and what was not run (a sandbox run skipped after its program's time limit, or a program that
did not compile), so that the figures add up to the total as `xcoder status` counts them.
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any, Callable


# What a stage's progress line counts: requests sent now or answered by the cache (an identical request
# made earlier in this run or by an earlier run); programs run now or taken from the run cache.
LLM_COUNTS = {"new": "sent", "cached": "from cache (identical to an earlier request)"}
SANDBOX_COUNTS = {"new": "run", "cached": "from cache (identical to an earlier run)"}


def _n(value: int) -> str:
    return f"{value:,}"


class ProgressMeter:
    def __init__(
        self,
        label: str,
        emit: Callable[[str], Any],
        *,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        new: str = "new",
        cached: str = "from cache (identical to earlier work)",
    ):
        self.label, self.emit, self.interval_s, self.clock = label, emit, interval_s, clock
        self.new_word, self.cached_words = new, cached
        self.not_run = 0
        self.started = clock()
        self._last_emit = self.started
        self._lock = threading.Lock()
        self.done = self.total = self.cached = 0
        self._finished = False
        self.lines: list[str] = []

    def line(self) -> str:
        """e.g. `verified_solutions: sandbox runs 1,200/2,751 (44%), 300 run at 310/s, 890 from cache
        (identical to an earlier run), 10 not run (skipped after a time limit, ...)`."""
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        new = self.done - self.cached - self.not_run
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = new / elapsed
        rate_text = f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.1f}/s"
        not_run = (
            f", {_n(self.not_run)} not run (skipped after a time limit, not compiled, or a sandbox failure)"
            if self.not_run
            else ""
        )
        return (
            f"{self.label} {_n(self.done)}/{_n(self.total)}{share}, {_n(new)} {self.new_word} at {rate_text}, "
            f"{_n(self.cached)} {self.cached_words}{not_run}"
        )

    def update(self, done: int, total: int, cached: int = 0, not_run: int = 0) -> None:
        with self._lock:
            self.done, self.total, self.cached, self.not_run = done, total, cached, not_run
            now = self.clock()
            if total and done >= total:
                self._finish_locked()
            elif now - self._last_emit >= self.interval_s:
                self._last_emit = now
                self._say(self.line())

    def finish(
        self, done: int | None = None, total: int | None = None, cached: int | None = None, not_run: int | None = None
    ) -> None:
        """The closing line (once), with the final figures when the callee had no hook to report them."""
        with self._lock:
            if done is not None:
                self.done = done
            if total is not None:
                self.total = total
            if cached is not None:
                self.cached = cached
            if not_run is not None:
                self.not_run = not_run
            self._finish_locked()

    def _finish_locked(self) -> None:
        if not self._finished:
            self._finished = True
            if self.total or self.done:  # nothing asked for: no "0/0 in 0.0 s" line
                self._say(self.line() + f" in {self.clock() - self.started:.1f} s")

    def _say(self, text: str) -> None:
        self.lines.append(text)
        self.emit(text)


def accepts_progress(fn: Callable[..., Any]) -> bool:
    """Whether `fn` takes an `on_progress` keyword (so a caller can pass a meter's update)."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "on_progress" in parameters  # not **kwargs: a wrapper may pass it on to a callee without the hook


def with_progress(fn: Callable[..., Any], meter: ProgressMeter, *args: Any, **kwargs: Any) -> Any:
    """Call `fn`, feeding `meter` through its on_progress hook when it has one."""
    if accepts_progress(fn):
        kwargs["on_progress"] = meter.update
    return fn(*args, **kwargs)


class StageProgress:
    """One progress line over a stage that works through its batch chunk by chunk. `part(units)` is the
    meter of the chunk covering the next `units` units (problems): it has a ProgressMeter's update and
    finish, adds the chunk's figures to those of the chunks before it, and estimates the total from
    the work per unit so far. One closing line, at `finish`."""

    def __init__(self, label: str, emit: Callable[[str], Any], units: int, **words: Any):
        self.meter = ProgressMeter(label, emit, **words)
        self.units, self.units_done = units, 0
        self.done = self.total = self.cached = self.not_run = 0

    def part(self, units: int) -> "ChunkProgress":
        return ChunkProgress(self, units)

    def finish(self) -> None:
        self.meter.finish(self.done, self.total, self.cached, self.not_run)


class ChunkProgress:
    def __init__(self, stage: StageProgress, units: int):
        self.stage, self.units = stage, units

    def update(self, done: int, total: int, cached: int = 0, not_run: int = 0) -> None:
        stage = self.stage
        ahead = max(stage.units - stage.units_done - self.units, 0)
        per_unit = (stage.total + total) / max(stage.units_done + self.units, 1)
        estimate = stage.total + total + round(per_unit * ahead)
        # never the closing line while chunks remain (a meter closes when done reaches total)
        estimate = max(estimate, stage.done + done + (1 if ahead else 0))
        stage.meter.update(stage.done + done, estimate, stage.cached + cached, stage.not_run + not_run)

    def finish(
        self, done: int | None = None, total: int | None = None, cached: int | None = None, not_run: int | None = None
    ) -> None:
        stage = self.stage
        stage.units_done += self.units
        stage.done += done or 0
        stage.total += total or 0
        stage.cached += cached or 0
        stage.not_run += not_run or 0
