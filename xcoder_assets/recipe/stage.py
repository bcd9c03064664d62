"""What the per-problem stages share: the work they are handed as arguments, and counts that stay small.

A stage (test_inputs, candidate_solutions, verified_solutions) goes through its batch a chunk of
problems at a time and is given "complete these requests" (`Ask`) and "run these programs" (`Run`),
each called with the meter of the chunk (present/progress.py ChunkProgress): the asset passes the
gateway and the sandbox, `xcoder vote` and the tests pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.sandbox.runs import Program
from xcoder_assets.present.figures import SandboxFigures

T = TypeVar("T")
R = TypeVar("R")

Ask = Callable[[list[LLMRequest], Any], list[LLMResult]]
Submit = Callable[[list[LLMRequest]], Any]  # hand requests to a provider's batch API, without waiting
Run = Callable[[str, Sequence[Program], Sequence[Sequence[str]], Any], tuple[list[list[Any]], SandboxFigures]]


@dataclass
class Sample:
    """How many of something there were, and the first `limit` of them (a check lists a few)."""

    limit: int = 20
    count: int = 0
    first: list[Any] = field(default_factory=list)

    def add(self, items: Iterable[Any]) -> None:
        for item in items:
            self.count += 1
            if len(self.first) < self.limit:
                self.first.append(item)


def prefetched(items: Iterable[T], fetch: Callable[[T], R]) -> Iterator[R]:
    """fetch(item) for each item, the next one fetched in a thread while the caller works on this one:
    a stage asks the LLM for the next chunk's answers while the sandbox runs this chunk's programs
    (two chunks of answers in memory at most)."""
    ahead = iter(items)
    with ThreadPoolExecutor(1, thread_name_prefix="prefetch") as pool:
        first = next(ahead, None)
        pending = pool.submit(fetch, first) if first is not None else None
        while pending is not None:
            result = pending.result()
            following = next(ahead, None)
            pending = pool.submit(fetch, following) if following is not None else None
            yield result


def submit_ahead(
    chunks: Callable[[], Iterable[T]], requests_of: Callable[[T], list[LLMRequest]], submit: Submit | None
) -> None:
    """Every chunk's requests to `submit` before the first chunk is worked on (one pass over the chunks,
    a chunk's requests in memory at a time): with a provider batch API, chunk after chunk waiting for
    its own batch would take a day per chunk."""
    if submit is None:
        return
    for chunk in chunks():
        submit(requests_of(chunk))
