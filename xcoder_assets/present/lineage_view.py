"""A row's lineage as `xcoder trace` prints it and the UI's trace_row job shows it: one typed model built by
one function (`read_lineage`, over the warehouse's step-wise walk; `lineage_of` from rows already read) and
one renderer (`render`) that decides what a lineage shows and in what order, writing through a small
writer: `TextWriter` for the terminal, `MarkdownWriter` for the UI.

Two views: `short` (the row, then its ancestors a stage at a time, one line per ancestor or per group of
three or more, every LLM call named once) and `full` (every ancestor as a tree, each shared one once, each
LLM call's request and answer once, the vote test by test). The markdown writer escapes every text it is
given (present/render.py md_text) except what the renderer marks as `Code` (ids and template names, as code
spans): nothing a model wrote can become markup, a link or an image in the UI.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from xcoder_assets.store import warehouse
from xcoder_assets.present.render import md_code, md_code_span, md_text
from xcoder_assets.store.tables import ASSET_TABLES
from xcoder_assets.store.votes import TestVoteRecord, read_votes

View = Literal["short", "full"]
SHORT_SUMMARY, FULL_SUMMARY = 140, 200  # characters of a row's summary each view shows
MISSING_SHOWN = 3  # missing parents named in the short view


# ---- the model ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineageStep:
    """A row of the lineage: its asset, its summary and label (sql/lineage/<asset>.sql), its parents and the
    LLM calls that made it; depth is its shortest distance from the traced row."""

    row_id: str
    asset: str
    depth: int
    run_id: str | None
    summary: str
    label: str | None
    parent_ids: tuple[str, ...]
    llm_call_ids: tuple[str, ...]


@dataclass(frozen=True)
class LineageCall:
    """An LLM call behind a row: what was asked (the request's messages) and what came back."""

    call_id: str
    template: str
    asset: str
    role: str
    model: str
    cache_hit: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    error: str | None
    messages: tuple[tuple[str, str], ...]  # (role, content) of the request
    reasoning: str | None
    content: str | None


@dataclass(frozen=True)
class Lineage:
    root: LineageStep
    ancestors: tuple[LineageStep, ...]  # in walk order: depth, asset, id
    calls: Mapping[str, LineageCall]  # the calls found; an id a row names that is not here is missing
    votes: tuple[TestVoteRecord, ...]  # the traced verified solution's vote, test by test (else empty)
    mean_agreement: float | None
    missing_parents: tuple[str, ...]  # parents a row names that no table holds (re-materialized since?)
    # a call asked again (problems' re-asks) -> its earlier attempts' call ids, first first (each in `calls`)
    earlier: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def steps(self) -> tuple[LineageStep, ...]:
        return (self.root, *self.ancestors)


def _step(row: Mapping[str, Any]) -> LineageStep:
    return LineageStep(
        row_id=str(row["row_id"]),
        asset=str(row["asset"]),
        depth=int(row.get("depth") or 0),
        run_id=row.get("run_id"),
        summary=" ".join(str(row.get("summary") or "").split()),
        label=row.get("label"),
        parent_ids=tuple(row.get("parent_ids") or ()),
        llm_call_ids=tuple(row.get("llm_call_ids") or ()),
    )


def _messages(request_json: str | None) -> tuple[tuple[str, str], ...]:
    try:
        request = json.loads(request_json or "{}")
        return tuple((str(m.get("role")), str(m.get("content"))) for m in request.get("messages", []))
    except (ValueError, AttributeError, TypeError):  # a request stored as something else: shown as it is
        return (("request (not the chat JSON expected)", str(request_json)),)


def _call(call_id: str, row: Mapping[str, Any]) -> LineageCall:
    return LineageCall(
        call_id=call_id,
        template=str(row.get("template")),
        asset=str(row.get("asset")),
        role=str(row.get("role")),
        model=str(row.get("model")),
        cache_hit=bool(row.get("cache_hit")),
        prompt_tokens=row.get("prompt_tokens"),
        completion_tokens=row.get("completion_tokens"),
        finish_reason=row.get("finish_reason"),
        error=row.get("error") or None,
        messages=_messages(row.get("request_json")),
        reasoning=row.get("reasoning") or None,
        content=row.get("content"),
    )


def lineage_of(
    row_id: str,
    chain: Sequence[Mapping[str, Any]],
    calls: Mapping[str, Mapping[str, Any]],
    votes_json: str | None = None,
    mean_agreement: float | None = None,
    earlier: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Lineage:
    """The lineage from the warehouse's rows: the walk's steps (the traced row among them), the llm_calls rows
    by id, a verified solution's votes_json and mean_agreement, and the earlier attempts' llm_calls rows of a
    call that was asked again."""
    steps = [_step(row) for row in chain]
    root = next((s for s in steps if s.row_id == row_id), None)
    if root is None:
        raise ValueError(f"lineage of {row_id}: the row is not among the steps given")
    found = {s.row_id for s in steps}
    return Lineage(
        root=root,
        ancestors=tuple(s for s in steps if s.row_id != row_id),
        calls={
            **{call_id: _call(call_id, row) for call_id, row in calls.items()},
            **{row["call_id"]: _call(row["call_id"], row) for rows in (earlier or {}).values() for row in rows},
        },
        votes=tuple(read_votes(votes_json)),
        mean_agreement=mean_agreement,
        missing_parents=tuple(sorted({p for s in steps for p in s.parent_ids if p not in found})),
        earlier={call_id: tuple(row["call_id"] for row in rows) for call_id, rows in (earlier or {}).items()},
    )


def read_lineage(con: Any, row_id: str) -> Lineage | None:
    """A row's lineage read from the data directory behind `con` (a warehouse connection; the walk reads
    only the files of the rows it visits), or None when no table holds the row."""
    walk = warehouse.trace_walk(con, row_id)
    if not walk.steps:
        return None
    values: dict[str, Any] = {}
    if next(s for s in walk.steps if s["row_id"] == row_id)["asset"] == "verified_solutions":
        values = warehouse.trace_row_values(con, walk, row_id, ["votes_json", "mean_agreement"])
    calls = warehouse.trace_calls(con, walk)
    earlier = warehouse.earlier_attempts(con, walk, calls)
    return lineage_of(row_id, walk.steps, calls, values.get("votes_json"), values.get("mean_agreement"), earlier)


def read_call(con: Any, call_id: str) -> LineageCall | None:
    """One LLM call by id, from any asset's llm_calls."""
    row = warehouse.llm_call(con, call_id)
    return _call(call_id, row) if row is not None else None


# ---- the writers --------------------------------------------------------------------------------------


class Code(str):
    """An id or a template name: a code span in markdown, as it is in text."""


class Writer(Protocol):
    def title(self, *parts: str) -> None: ...

    def step(self, depth: int, *parts: str) -> None:
        """A row of the tree (a heading in markdown)."""

    def line(self, depth: int, *parts: str) -> None: ...

    def verbatim(self, depth: int, label: str, text: str) -> None:
        """A text shown as it is (a prompt, an answer), under its label."""

    def text(self) -> str: ...


class TextWriter:
    """Plain text for the terminal: two spaces of indent a level, a verbatim text between `--- label ---`."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def title(self, *parts: str) -> None:
        self.lines.append("".join(parts))

    def step(self, depth: int, *parts: str) -> None:
        self.line(depth, *parts)

    def line(self, depth: int, *parts: str) -> None:
        self.lines.append("  " * depth + "".join(parts))

    def verbatim(self, depth: int, label: str, text: str) -> None:
        indent = "  " * depth
        self.lines.append(f"{indent}--- {label} ---")
        self.lines.extend(indent + line for line in text.splitlines())

    def text(self) -> str:
        return "\n".join(self.lines)


class MarkdownWriter:
    """Markdown for the UI: every text escaped but `Code` (a code span), a level shown as em-space indent,
    lines of one level one paragraph (hard breaks), a verbatim text a fenced block no line of it can close."""

    INDENT = "\u2003"  # an em space: kept by markdown and HTML, unlike blanks (which would make a code block)

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._paragraph: list[str] = []
        self._depth: int | None = None

    @staticmethod
    def _inline(parts: Sequence[str]) -> str:
        out = []
        for part in parts:
            if isinstance(part, Code):
                out.append(md_code_span(part))
                continue
            text = md_text(part, one_line=True)  # keeps no blank at either end: put one back where it was
            out.append((" " if part[:1].isspace() else "") + text + (" " if part[-1:].isspace() and text else ""))
        return "".join(out).strip()

    def _end_paragraph(self) -> None:
        if self._paragraph:
            self.blocks.append("\\\n".join(self._paragraph))
        self._paragraph, self._depth = [], None

    def title(self, *parts: str) -> None:
        self._end_paragraph()
        self.blocks.append("# " + self._inline(parts))

    def step(self, depth: int, *parts: str) -> None:
        self._end_paragraph()
        self.blocks.append("### " + self.INDENT * depth + self._inline(parts))

    def line(self, depth: int, *parts: str) -> None:
        text = self._inline(parts)
        if not text:  # an empty summary: nothing to show (a blank line would end the paragraph in a backslash)
            return
        if self._depth != depth:
            self._end_paragraph()
        self._depth = depth
        self._paragraph.append(self.INDENT * depth + text)

    def verbatim(self, depth: int, label: str, text: str) -> None:
        self._end_paragraph()
        self.blocks.append(f"**{md_text(label, one_line=True)}**\n\n{md_code(text)}")

    def text(self) -> str:
        self._end_paragraph()
        return "\n\n".join(self.blocks)


# ---- the renderer ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    view: View = "short"
    prompts: bool = True  # the full view: each call's request and answer
    max_chars: int | None = None  # the longest verbatim text shown (None: all of it)
    more: str | None = None  # the short view's last line: how to see the rest


def render(lineage: Lineage, writer: Writer, options: Options = Options()) -> str:
    """The lineage through `writer`, in the view `options` names; returns the writer's text."""
    state = _Rendering(lineage, writer, options)
    if options.view == "full":
        state.full()
    else:
        state.short()
    return writer.text()


def render_call(call: LineageCall, writer: Writer, options: Options = Options(view="full")) -> str:
    """One LLM call, with its request and answer (not indented: a prompt copied from it is the prompt)."""
    _Rendering(None, writer, options).call(0, call.call_id, call, blocks=0)
    return writer.text()


def _clip(text: str | None, limit: int | None) -> str:
    text = text or ""
    return text if limit is None or len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def _asset_rank() -> dict[str, int]:
    return {t.name: i for i, t in enumerate(ASSET_TABLES)}


class _Rendering:
    """One walk over a lineage; remembers the calls already shown in full, so each is shown once."""

    def __init__(self, lineage: Lineage | None, writer: Writer, options: Options):
        self.lineage, self.w, self.options = lineage, writer, options
        self.shown: set[str] = set()

    # -- an LLM call --
    def call_text(self, call_id: str, call: LineageCall | None, detailed: bool) -> list[str]:
        if call is None:
            return [Code(call_id), " (not in llm_calls: re-materialized since?)"]
        if call_id in self.shown:
            return [Code(call.template), " ", Code(call_id), " (shown above)"]
        self.shown.add(call_id)
        source = "cache hit" if call.cache_hit else "sent to the model"
        return [
            Code(call.template),
            " ",
            Code(call_id),
            f" ({source}"
            + (f", {call.model}, {call.asset} role {call.role}" if detailed else "")
            + f", {call.prompt_tokens}+{call.completion_tokens} tokens, finish {call.finish_reason}"
            + (f", error: {call.error}" if call.error else "")
            + ")",
        ]

    def call(self, depth: int, call_id: str, call: LineageCall | None, blocks: int | None = None) -> None:
        """`LLM call: ...`; the first time, its request and answer below it (at depth `blocks`, one level
        deeper by default)."""
        blocks = depth + 1 if blocks is None else blocks
        first = call is not None and call_id not in self.shown
        self.w.line(depth, "LLM call: ", *self.call_text(call_id, call, detailed=True))
        if first and call is not None and self.options.prompts:
            limit = self.options.max_chars
            for role, content in call.messages:
                self.w.verbatim(blocks, role, _clip(content, limit))
            if call.reasoning:
                self.w.verbatim(blocks, "reasoning", _clip(call.reasoning, limit))
            self.w.verbatim(blocks, "answer", _clip(call.content, limit))

    # -- the vote of a verified solution --
    def votes(self, depth: int, per_test: bool) -> None:
        """Per test, agreement = top votes / runs that ended normally (a candidate whose run crashed, timed out
        or was skipped casts no vote); the mean agreement is the mean of that over the tests."""
        assert self.lineage is not None
        votes = self.lineage.votes
        if not votes:
            return
        verified = sum(1 for v in votes if v.verified)
        held_out = sum(1 for v in votes if v.verified and v.holdout)
        mean = self.lineage.mean_agreement
        self.w.line(
            depth,
            f"votes on {len(votes)} tests: {verified} verified ({held_out} held out to confirm the golden solution), "
            f"{len(votes) - verified} unverified; agreement = top votes / runs that ended normally"
            + (f", mean {mean:.2f} over the tests" if mean is not None else ""),
        )
        if per_test:
            for v in votes:
                state = "verified" if v.verified else f"unverified ({v.reason})"
                self.w.line(
                    depth + 1,
                    Code(v.test_id),
                    f": {v.top_votes} of {v.voters} normal runs agree (agreement {v.agreement:.2f}; "
                    f"{v.candidates} candidates ran, {v.candidates - v.voters} did not end normally), {state}"
                    + (", held out" if v.holdout else ""),
                )
            return
        shapes = Counter((v.top_votes, v.voters, v.candidates) for v in votes)
        self.w.line(
            depth + 1,
            "; ".join(
                f"{n} test{'s' if n > 1 else ''}: {top} of {voters} normal runs agree ({top / voters if voters else 0:.2f}), "
                f"{cands - voters} of {cands} candidates' runs did not end normally"
                for (top, voters, cands), n in shapes.most_common()
            ),
        )

    # -- the short view --
    def short(self) -> None:
        """The row, then its ancestors stage by stage up to the seeds: one line per ancestor, and one line
        for three or more of one stage (what they are, a few ids, the LLM calls behind them). Every
        ancestor and every LLM call appears once."""
        lineage = self.lineage
        assert lineage is not None
        root = lineage.root
        self.w.line(0, *self.node(root), f"  (run {root.run_id})")
        self.votes(1, per_test=False)
        stages: dict[str, list[LineageStep]] = {}
        for ancestor in sorted(lineage.ancestors, key=lambda s: (s.depth, s.row_id)):
            stages.setdefault(ancestor.asset, []).append(ancestor)
        rank = _asset_rank()
        for level, asset in enumerate(sorted(stages, key=lambda a: -rank.get(a, -1)), start=1):
            members = stages[asset]
            if len(members) < 3:
                for member in members:
                    self.w.line(level, *self.node(member))
            else:
                self.w.line(level, *self.group(asset, members))
        missing = lineage.missing_parents
        if missing:
            self.w.line(
                0,
                f"{len(missing)} parent(s) missing from their table (re-materialized since?): "
                + ", ".join(missing[:MISSING_SHOWN])
                + (" …" if len(missing) > MISSING_SHOWN else ""),
            )
        if self.options.more:
            self.w.line(0, self.options.more)

    def node(self, step: LineageStep) -> list[str]:
        assert self.lineage is not None
        parts: list[str] = [f"{step.asset} ", Code(step.row_id), f": {step.summary[:SHORT_SUMMARY]}"]
        for number, call_id in enumerate(step.llm_call_ids):
            parts += ["  <- " if number == 0 else "; "]
            parts += self.call_text(call_id, self.lineage.calls.get(call_id), detailed=False)
            earlier = self.lineage.earlier.get(call_id, ())
            if earlier:
                parts += [f", asked again after {len(earlier)} earlier attempt{'s' if len(earlier) > 1 else ''} ("]
                for index, earlier_id in enumerate(earlier):
                    parts += [", " if index else "", Code(earlier_id)]
                parts += [")"]
        return parts

    def group(self, asset: str, steps: list[LineageStep]) -> list[str]:
        assert self.lineage is not None
        labels = Counter(str(s.label or asset) for s in steps)
        # "<kind> inputs from the test generator" of several kinds: one figure, with the kinds inside it
        generated = {label.split(" inputs from ")[0]: n for label, n in labels.items() if " inputs from " in label}
        parts = [
            f"{n} {label}" for label, n in labels.most_common() if " inputs from " not in label or len(generated) < 2
        ]
        if len(generated) >= 2:
            source = next(label for label in labels if " inputs from " in label).split(" inputs from ")[1]
            parts.append(
                f"{sum(generated.values())} inputs from {source} ("
                + ", ".join(f"{n} {kind}" for kind, n in sorted(generated.items(), key=lambda kv: -kv[1]))
                + ")"
            )
        ids = [s.row_id for s in steps]
        out: list[str] = [
            f"{asset} x{len(steps)}: " + ", ".join(parts) + f" ({', '.join(ids[:3])}{' …' if len(ids) > 3 else ''})"
        ]
        call_ids = list(dict.fromkeys(c for s in steps for c in s.llm_call_ids))
        calls = self.lineage.calls
        if len(call_ids) == 1:
            out += ["  <- ", *self.call_text(call_ids[0], calls.get(call_ids[0]), detailed=False)]
        elif call_ids:
            hits = sum(1 for c in call_ids if c in calls and calls[c].cache_hit)
            templates = sorted({calls[c].template for c in call_ids if c in calls})
            out.append(f"  <- {len(call_ids)} {'/'.join(templates)} calls ({hits} cache hits)")
            self.shown.update(call_ids)
        return out

    # -- the full view --
    def full(self) -> None:
        """Every ancestor as a tree (each once; a shared one is referred back to), each LLM call's request
        and answer once, and the vote of a verified solution test by test."""
        lineage = self.lineage
        assert lineage is not None
        root = lineage.root
        self.w.title("Lineage of ", Code(root.row_id), f" ({root.asset})")
        self.w.line(0, f"{len(lineage.ancestors)} ancestors, {len(lineage.calls)} LLM calls")
        by_id = {s.row_id: s for s in lineage.steps}
        seen = {root.row_id}

        def show(step: LineageStep, depth: int) -> None:  # depth-first, parents in the order the row names them
            self.w.step(depth, step.asset, "  ", Code(step.row_id), f"  (run {step.run_id})")
            self.w.line(depth + 1, step.summary[:FULL_SUMMARY])
            for call_id in step.llm_call_ids:
                self.call(depth + 1, call_id, lineage.calls.get(call_id))
                earlier = lineage.earlier.get(call_id, ())
                if earlier:
                    self.w.line(
                        depth + 1,
                        f"asked again: {len(earlier)} earlier attempt{'s' if len(earlier) > 1 else ''} of that call, "
                        "whose answers failed validation (first first):",
                    )
                    for earlier_id in earlier:
                        self.call(depth + 2, earlier_id, lineage.calls.get(earlier_id))
            if step is root:
                self.votes(depth + 1, per_test=True)
            for parent in step.parent_ids:
                if parent in seen:
                    self.w.line(depth + 1, "(parent ", Code(parent), ": shown above)")
                elif parent in by_id:
                    seen.add(parent)
                    show(by_id[parent], depth + 1)
                else:
                    self.w.line(
                        depth + 1, "parent ", Code(parent), " is missing from its table (re-materialized since?)"
                    )

        show(root, 0)
