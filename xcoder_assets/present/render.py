"""Small renderers for UI metadata and the command line.

Text written by a model or a program (statements, titles, code, outputs, reasons, reasoning) is
untrusted: Dagster's UI renders markdown metadata, so an image or a link in it would be fetched by
every browser that opens the asset page. Every such text goes into markdown through `md_text`
(escaped: nothing in it becomes markup, a link or an image) or `md_code` (a code block no line of
it can close); the renderers below use them for every cell and section they fill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

# Characters that start markup anywhere in a line: backslash escapes, code spans, emphasis and
# strikethrough, links and images, raw HTML and <autolinks>, table pipes, entities (&lt;img...),
# ':' (GFM's http://, https://, mailto: autolinks) and '@' (GFM's e-mail autolinks).
_INLINE = re.compile(r"([\\`*\[\]()<>!|~&:@#$])")
# Underscores make emphasis unless they stand between two letters or digits (snake_case names stay
# as they are written); every other run of them is escaped.
_UNDERSCORES = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
# GFM also links URLs and e-mail addresses found in the text after parsing (mdast's autolink-literal
# transform), whatever was escaped: a zero-width space breaks the patterns it looks for (scheme://,
# www., user@host) without changing what is shown.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)|(?<=@)(?=[-\w])")
# What starts a block at the start of a line once the characters above are escaped: lists (- + and
# "1." / "1)"), setext underlines (=== ---) and thematic breaks.
_LINE_START = re.compile(r"^([-+=])|^(\d+)([.)])")


def _plain(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def _escape_line(line: str) -> str:
    # leading blanks would make an indented code block, where the escapes would show
    line = _AUTOLINK.sub("\u200b", line.lstrip(" \t"))
    line = _INLINE.sub(r"\\\1", line)
    line = _UNDERSCORES.sub(lambda m: "\\_" * len(m.group()), line)
    return _LINE_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), line)


def md_text(value: Any, *, one_line: bool = False) -> str:
    """Untrusted text as markdown that renders as that text: no image, link, autolink, HTML, heading,
    list or emphasis (URLs and e-mail addresses carry an invisible zero-width space). Line breaks are
    kept (blank lines separate paragraphs); one_line joins the lines with spaces (a table cell, a heading)."""
    text = _plain(value)
    if one_line:
        return _escape_line(" ".join(text.split()))
    lines = [_escape_line(line.rstrip()) for line in text.split("\n")]
    out = []
    for i, line in enumerate(lines):
        # a backslash at the end of a line is a hard break; the last line of a paragraph takes none
        follows = i + 1 < len(lines) and lines[i + 1] != ""
        out.append(line + "\\" if line and follows else line)
    return "\n".join(out).strip("\n")


def md_code(value: Any, lang: str = "") -> str:
    """Untrusted text as a fenced code block: the fence is longer than any run of backticks in the text,
    so no line of it can end the block."""
    text = _plain(value).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def md_code_span(value: Any) -> str:
    """Untrusted text as inline code (an id, a command): delimiters longer than any backtick run in it."""
    text = " ".join(_plain(value).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+.-]*)")


def md_document(value: Any) -> str:
    """Untrusted markdown-like text (a prompt, an answer with `<think>` reasoning and a code block) shown
    as it is: its fenced blocks as code blocks, the text between them escaped, tags such as <think>
    visible."""
    lines = _plain(value).split("\n")
    parts: list[str] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened or (opened.group(1)[0] == "`" and "`" in lines[i][opened.end(1) :]):
            prose.append(lines[i])
            i += 1
            continue
        fence, lang = opened.group(1), opened.group(2)
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), len(lines))
        if prose:
            parts.append(md_text("\n".join(prose)))
            prose = []
        parts.append(md_code("\n".join(lines[i + 1 : end]), lang))
        i = end + 1
    if prose:
        parts.append(md_text("\n".join(prose)))
    return "\n\n".join(p for p in parts if p)


def problem_markdown(statement: Any) -> str:
    """A composed problem (recipe.composition.Statement) as a contestant reads it, for the UI: its text
    escaped, its examples and starter code in code blocks."""
    parts = [f"# {md_text(statement.title, one_line=True)}", md_text(statement.statement)]
    for heading, body in (
        ("Input", statement.input_format),
        ("Output", statement.output_format),
        ("Constraints", statement.constraints),
    ):
        if body:
            parts += [f"## {heading}", md_text(body)]
    for number, example in enumerate(statement.examples, 1):
        parts += [
            f"## Example {number}",
            "Input:\n\n" + md_code(str(example.get("input", "")).rstrip()),
            "Output:\n\n" + md_code(str(example.get("output", "")).rstrip()),
        ]
    if getattr(statement, "starter_code", None):
        parts += ["## Starter code", md_code(statement.starter_code.rstrip(), "python")]
    return "\n\n".join(parts)


def chat_markdown(messages: Iterable[tuple[str, Any]]) -> str:
    """A training example's messages (role, content) for the UI: each under its role, shown as written
    (a `<think>` block included)."""
    return "\n\n".join(
        f"### {md_text(role, one_line=True)}\n\n{md_document(content) or '_empty_'}" for role, content in messages
    )


def _cell(value: Any, width: int) -> str:
    text = " ".join(_plain(value).split())
    # cut before escaping, so an escape is never cut in two
    return md_text(text if len(text) <= width else text[: width - 1] + "…", one_line=True)


def markdown_table(rows: Iterable[Sequence[Any]], headers: Sequence[str], width: int = 80) -> str:
    """A markdown table; the headers are the caller's own, every cell is escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v, width) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def frame_markdown(frame: pl.DataFrame, limit: int = 10, width: int = 80) -> str:
    return markdown_table(frame.head(limit).rows(), frame.columns, width)


def text_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)
