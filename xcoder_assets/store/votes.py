"""verified_solutions' votes_json, typed: one record per test, written by recipe/verification.py
(vote_report) and read back here by every reader (the checks, `xcoder trace`, the UI's lineage). It lives in
store/ so that a reader as light as `xcoder trace` imports no recipe (and with it no LLM gateway)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TestVoteRecord:
    """One test's vote as verified_solutions' votes_json keeps it (and `xcoder vote` reports it): written by
    recipe.verification.vote_report, read back by read_votes, the one reader of votes_json."""

    __test__ = False  # a record, not a test class: pytest is not to collect it where a test imports it

    test_id: str
    verified: bool
    expected_hash: str | None  # of the voted output
    top_votes: int
    voters: int  # runs that ended normally
    candidates: int
    agreement: float  # top votes / voters
    reason: str | None  # why unverified
    counts: dict[str, int]  # output hash -> votes
    holdout: bool
    voted_output: str | None = None  # kept only with_outputs
    has_output: bool = False  # whether voted_output was kept (None is also a kept value: unverified)

    def entry(self) -> dict[str, Any]:
        """The JSON form (without test_id: votes_json is keyed by it)."""
        out = {
            "verified": self.verified,
            "expected_hash": self.expected_hash,
            "top_votes": self.top_votes,
            "voters": self.voters,
            "candidates": self.candidates,
            "agreement": self.agreement,
            "reason": self.reason,
            "counts": self.counts,
            "holdout": self.holdout,
        }
        if self.has_output:
            out["voted_output"] = self.voted_output
        return out


def read_votes(text: str | None) -> list[TestVoteRecord]:
    """A votes_json cell back as typed records, in test order ("{}" or empty: none); a ValueError naming the
    test when a vote lacks a field."""
    raw = json.loads(text) if text else {}
    if not isinstance(raw, dict):
        raise ValueError(f"votes_json: expected an object of test id -> vote, got {type(raw).__name__}")
    records = []
    for test_id, v in raw.items():
        try:
            records.append(
                TestVoteRecord(
                    test_id,
                    bool(v["verified"]),
                    v.get("expected_hash"),
                    int(v["top_votes"]),
                    int(v["voters"]),
                    int(v["candidates"]),
                    float(v["agreement"]),
                    v.get("reason"),
                    dict(v.get("counts") or {}),
                    bool(v.get("holdout")),
                    v.get("voted_output"),
                    "voted_output" in v,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"votes_json: the vote of test {test_id!r} is malformed ({exc!r})") from None
    return records
