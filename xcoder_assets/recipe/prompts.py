"""Versioned prompt templates, kept as files in recipe/prompts/<name>.v<N>.txt.

A template's id `<name>@v<N>` is part of the LLM cache key and is stored on every row it produced,
so editing a template (as a new version, or in place) re-calls exactly the requests it renders.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPT_DIR = Path(__file__).parent / "prompts"
_SECTION = re.compile(r"^=== (system|user) ===\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def render(self, **values: str) -> list[dict[str, str]]:
        try:
            user = string.Template(self.user).substitute(values)
            system = string.Template(self.system).substitute(values)
        except KeyError as exc:
            raise ValueError(f"template {self.id} needs a value for {exc.args[0]!r}") from None
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@lru_cache(maxsize=None)
def load_template(name: str, version: int | None = None) -> PromptTemplate:
    """The given version of a template, or its highest version."""
    found = {
        int(m.group(1)): path
        for path in PROMPT_DIR.glob(f"{name}.v*.txt")
        if (m := re.fullmatch(re.escape(name) + r"\.v(\d+)\.txt", path.name))
    }
    if not found:
        raise FileNotFoundError(f"no prompt template named {name!r} in {PROMPT_DIR}")
    version = max(found) if version is None else version
    if version not in found:
        raise FileNotFoundError(f"prompt template {name!r} has no version {version}; versions: {sorted(found)}")
    text = found[version].read_text(encoding="utf-8")
    sections = _SECTION.split(text)
    parts = {sections[i]: sections[i + 1].strip("\n") for i in range(1, len(sections) - 1, 2)}
    if "user" not in parts:
        raise ValueError(f"{found[version]}: no '=== user ===' section")
    return PromptTemplate(name=name, version=version, system=parts.get("system", ""), user=parts["user"])
