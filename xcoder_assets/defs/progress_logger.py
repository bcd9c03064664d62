"""`xcoder materialize`'s terminal logger, a logger of the code location itself (definitions.py adds it
beside Dagster's console logger): a run started from the command line names it in its run config, and
the same config stays valid when the UI re-executes that run."""

from __future__ import annotations

import logging
import sys

import dagster as dg
from dagster._core.log_manager import get_log_record_metadata, has_log_record_metadata

PROGRESS_LOGGER = "xcoder"


class ProgressHandler(logging.Handler):
    """Prints only what the user follows: the assets' own log lines (their progress: "asset:
    done/total ..."), one line per finished asset, and checks that did not pass. Dagster's DEBUG events
    and a failure's stack stay in the run's event log (the UI shows them); the command prints the
    failure itself, once."""

    def __init__(self, asset_steps: set[str]):
        super().__init__()
        self.asset_steps = asset_steps

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.text(record)
            if text:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
        except Exception:  # a progress line must never fail the run
            self.handleError(record)

    def text(self, record: logging.LogRecord) -> str | None:
        if not has_log_record_metadata(record):
            return record.getMessage() if record.levelno >= logging.WARNING else None
        meta = get_log_record_metadata(record)
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            message = meta.get("orig_message") or record.getMessage()
            # Dagster's own note per step left out after a failure: the command sums them up once.
            if record.levelno < logging.INFO or message.startswith("Dependencies for step "):
                return None
            prefix = "warning: " if record.levelno >= logging.WARNING else ""
            return prefix + (message if message.startswith(step) else f"{step}: {message}" if step else message)
        kind = event.event_type_value
        data = event.event_specific_data
        if kind == "STEP_SUCCESS" and (step in self.asset_steps or not self.asset_steps):
            return f"{step}: materialized in {getattr(data, 'duration_ms', 0) / 1000:.1f} s"
        if kind == "ASSET_CHECK_EVALUATION" and data is not None and not data.passed:
            return f"{data.asset_key.to_user_string()}: check {data.check_name} did not pass ({data.severity.value})"
        return None


@dg.logger(
    config_schema={"assets": dg.Field([str], is_required=False, default_value=[])},
    description="xcoder's terminal logger: progress lines, finished assets (those listed; all when none), "
    "checks that did not pass.",
)
def progress_logger(init_context) -> logging.Logger:
    logger = logging.Logger(PROGRESS_LOGGER, level=logging.DEBUG)
    logger.addHandler(ProgressHandler(set(init_context.logger_config["assets"])))
    return logger


def progress_run_config(asset_steps: set[str]) -> dict:
    """The run config section that routes a run's log to this logger alone."""
    return {"loggers": {PROGRESS_LOGGER: {"config": {"assets": sorted(asset_steps)}}}}
