"""A typed failure: why a row has no value, as a status and a reason kept apart (never a joined
"status: reason" string that has to be split again)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    status: str  # a row status: llm_error, truncated, parse_error...
    reason: str

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"
