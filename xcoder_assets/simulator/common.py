"""What every part of the simulator shares: its one source of 'randomness', and what a request is."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

Answer = tuple[str, str]  # (content, finish_reason)


def unit(text: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by the text: the simulator's only source of 'randomness'."""
    return int(hashlib.sha256((salt + text).encode()).hexdigest()[:12], 16) / float(16**12)


@dataclass(frozen=True)
class SimRequest:
    """One request as the simulator sees it: the template's id, the values it was rendered with
    (read back from the prompt by the template itself), and the sampling seed."""

    template_id: str
    variables: dict[str, str]
    seed: int | None = None

    @property
    def key(self) -> str:
        """What fixes the answer: the template's name and the values, not its prose or version, so
        rewording a template (or a new version with the same variables) keeps every answer."""
        return self.template_id.split("@", 1)[0] + "|" + json.dumps(self.variables, sort_keys=True)


Handler = Callable[[SimRequest], Answer]
