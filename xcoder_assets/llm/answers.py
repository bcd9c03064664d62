"""Turning a model's raw answer into something usable, or into a reason why not.

Reasoning models put their thinking in `<think>` blocks or a separate `reasoning_content` field;
answers wrap JSON in fences, surround it with prose, or get cut off at max_tokens. Every function
here returns a value or an error string: callers record the error as a row, never drop it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import json_repair

_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class SplitAnswer:
    answer: str
    reasoning: str


def split_reasoning(content: str | None, reasoning_field: str | None = None) -> SplitAnswer:
    """Separate reasoning from the answer.

    Handles closed `<think>...</think>` blocks anywhere, an answer that starts inside a think block
    whose opening tag the chat template swallowed (`...</think> answer`), and an unclosed `<think>`
    (the model ran out of tokens while thinking: all of it is reasoning, the answer is empty).
    """
    text = content or ""
    parts = [reasoning_field.strip()] if reasoning_field and reasoning_field.strip() else []
    parts += [m.strip() for m in _THINK_BLOCK.findall(text)]
    text = _THINK_BLOCK.sub("", text)
    lowered = text.lower()
    if "</think>" in lowered:  # opening tag was in the prompt template
        cut = lowered.rindex("</think>")
        parts.append(text[:cut].strip())
        text = text[cut + len("</think>") :]
    elif "<think>" in lowered:  # never closed
        cut = lowered.index("<think>")
        parts.append(text[cut + len("<think>") :].strip())
        text = text[:cut]
    return SplitAnswer(answer=text.strip(), reasoning="\n\n".join(p for p in parts if p))


def _balanced_spans(text: str, opener: str, closer: str) -> list[str]:
    """Every top-level balanced {...} or [...] span, string literals respected."""
    spans, depth, start, in_string, escaped = [], 0, -1, False, False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"' and depth > 0:
            in_string = True
        elif char == opener:
            if depth == 0:
                start = index
            depth += 1
        elif char == closer and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : index + 1])
    return spans


@dataclass(frozen=True)
class JsonResult:
    value: Any
    error: str | None
    repaired: bool = False


def extract_json(text: str, expect: type = dict) -> JsonResult:
    """Find the JSON value of type `expect` in an answer.

    Order: fenced blocks (last first, as models restate their final answer at the end), the whole
    text, balanced spans in the prose; each first strictly, then through json_repair. A repaired
    value counts only if it is of the expected type and non-empty.
    """
    text = text or ""
    if not text.strip():
        return JsonResult(None, "empty answer")
    opener, closer = ("{", "}") if expect is dict else ("[", "]")
    candidates: list[str] = []
    fences = _FENCE.findall(text)
    candidates += [body for lang, body in reversed(fences) if lang.lower() in ("", "json", "json5", "javascript")]
    candidates.append(text)
    candidates += sorted(_balanced_spans(text, opener, closer), key=len, reverse=True)
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, expect) and value:
            return JsonResult(value, None)
    for candidate in candidates:
        start = candidate.find(opener)
        if start < 0:
            continue
        try:
            value = json_repair.loads(candidate[start:])
        except Exception:  # json_repair is best effort; any failure means "not this candidate"
            continue
        if isinstance(value, expect) and value:
            return JsonResult(value, None, repaired=True)
    return JsonResult(None, f"no JSON {expect.__name__} found in the answer ({len(text)} chars)")
