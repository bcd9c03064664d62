"""Append-only JSON-lines checkpoints: finished steps of a long computation, flushed to disk.

The first line holds a fingerprint of what the steps belong to; a file with another fingerprint
is another computation's and is discarded. Appending keeps the cost of a checkpoint proportional
to the step, not to everything done so far; a line cut off by an interruption ends the replay
(its step is simply done again).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonlCheckpoint:
    def __init__(self, path: Path, fingerprint: str):
        self.path, self.fingerprint = Path(path), fingerprint

    def records(self) -> list[dict[str, Any]]:
        """The finished steps, in order; none (and the file removed) when it belongs to something else."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if not isinstance(header, dict) or header.get("fingerprint") != self.fingerprint:
            self.path.unlink()
            return []
        out = []
        for line in lines[1:]:
            try:
                out.append(json.loads(line))
            except ValueError:
                break  # the step being written when the run stopped
        return out

    def start(self) -> None:
        """Begin a new checkpoint file (drops any earlier steps)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"fingerprint": self.fingerprint}) + "\n", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        if not self.path.exists():
            self.start()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
