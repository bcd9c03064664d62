"""Versioned prompt templates, kept as files in recipe/prompts/<name>.v<N>.txt.

A template's id `<name>@v<N>` is part of the LLM cache key and is stored on every row it produced,
so editing a template (as a new version, or in place) re-calls exactly the requests it renders.
The id also travels with every request (the gateway sends it as request metadata), and a template
can read its variables back out of a prompt it rendered (`parse`), so a program answering the
prompt (the offline simulator) needs neither the prompt's prose nor a copy of it.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

PROMPT_DIR = Path(__file__).parent / "prompts"
_SECTION = re.compile(r"^=== (system|user) ===\s*$", re.MULTILINE)
_ID = re.compile(r"([A-Za-z0-9_.-]+)@v(\d+)")
_JOIN = "\n\u241e\n"  # joins the system and user texts for parsing; never produced by a template


class TemplateMismatch(ValueError):
    """A prompt that the template cannot have rendered."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    @property
    def variables(self) -> tuple[str, ...]:
        """The template's variable names, in order of first appearance (system, then user)."""
        seen: dict[str, None] = {}
        for match in string.Template.pattern.finditer(self.system + _JOIN + self.user):
            name = match.group("named") or match.group("braced")
            if name:
                seen.setdefault(name)
        return tuple(seen)

    def render(self, **values: str) -> list[dict[str, str]]:
        try:
            user = string.Template(self.user).substitute(values)
            system = string.Template(self.system).substitute(values)
        except KeyError as exc:
            raise ValueError(f"template {self.id} needs a value for {exc.args[0]!r}") from None
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def parse(self, messages: Sequence[dict[str, Any]]) -> dict[str, str]:
        """The values `render` was given, read back from the messages it returned.

        The template's text is matched literally and each variable matches the shortest text that
        lets the rest match; TemplateMismatch (naming the template) when the messages cannot be
        its rendering (another template, or an edited copy of it)."""
        roles = [m.get("role") for m in messages]
        if roles != ["system", "user"]:
            raise TemplateMismatch(f"template {self.id} renders a system and a user message, not {roles}")
        text = str(messages[0].get("content") or "") + _JOIN + str(messages[1].get("content") or "")
        match = _parser(self.system + _JOIN + self.user).fullmatch(text)
        if match is None:
            raise TemplateMismatch(f"the prompt does not match the text of template {self.id}")
        return match.groupdict()


@lru_cache(maxsize=64)
def _parser(text: str) -> re.Pattern[str]:
    parts, seen, last = [], set(), 0
    for match in string.Template.pattern.finditer(text):
        parts.append(re.escape(text[last : match.start()]))
        last = match.end()
        name = match.group("named") or match.group("braced")
        if match.group("escaped") is not None:
            parts.append(re.escape("$"))
        elif name in seen:
            parts.append(f"(?P={name})")
        elif name:
            seen.add(name)
            parts.append(f"(?P<{name}>.*?)")
        else:  # an invalid placeholder: substitute() would have refused to render it
            raise ValueError(f"template text has an invalid placeholder at {match.start()}")
    parts.append(re.escape(text[last:]))
    return re.compile("".join(parts), re.DOTALL)


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


def split_template_id(template_id: str) -> tuple[str, int]:
    """('solve', 1) for 'solve@v1'; ValueError naming the id when it is not of that form."""
    match = _ID.fullmatch(template_id or "")
    if match is None:
        raise ValueError(f"prompt template id {template_id!r} is not of the form <name>@v<N>")
    return match.group(1), int(match.group(2))


def template_by_id(template_id: str) -> PromptTemplate:
    """The template a `<name>@v<N>` id names (FileNotFoundError when there is none)."""
    return load_template(*split_template_id(template_id))
