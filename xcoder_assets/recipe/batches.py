"""Generation batches: the key of a batch, the seed offset that keeps batches apart, the next nightly key.

A batch is one regeneration of the synthesis and verification assets (one dynamic partition). Every
batch samples with its own seed, `base_seed + seed_offset(key)`, so two batches never draw the same
configurations; the offset is a pure function of the key, so re-running a batch redraws exactly its
own configurations (and reuses its cached LLM answers). No Dagster import: defs/ wraps this.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Literal

# Lower-case letters, digits, '.', '_', '-': safe in a Dagster partition key, a file name and a URL.
BATCH_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NIGHTLY_PREFIX = "nightly-"
# The batch `xcoder materialize` (make demo) writes unless told another: a rerun reuses its cached answers.
DEFAULT_BATCH = "demo"
# Offsets stay below 2**48: exact in JSON (the UI's launchpad is JavaScript) and in an Int64 column
# after adding any ordinary base seed.
OFFSET_BITS = 48


class BatchKeyError(ValueError):
    """A batch key that cannot be used; the message names the key and the rule it breaks."""


def check_batch_key(key: str) -> str:
    """The key itself, or BatchKeyError naming it."""
    if not isinstance(key, str) or not BATCH_KEY_PATTERN.fullmatch(key):
        raise BatchKeyError(
            f"batch key {key!r} is not valid: use 1-64 characters of a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit (for example nightly-2026-12-02 or campaign-graphs)"
        )
    return key


def nightly_key(when: date | datetime) -> str:
    """The key of the nightly batch scheduled on this day (UTC date of the tick)."""
    day = when.date() if isinstance(when, datetime) else when
    return f"{NIGHTLY_PREFIX}{day.isoformat()}"


def seed_offset(key: str) -> int:
    """A batch's seed offset: a 48-bit hash of its key, never 0 (0 is the unbatched default)."""
    digest = hashlib.sha256(f"xcoder-batch:{check_batch_key(key)}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % ((1 << OFFSET_BITS) - 1) + 1


def batch_seed(base_seed: int, key: str) -> int:
    """The sampling seed of one batch: the configured base seed moved by the batch's offset."""
    return int(base_seed) + seed_offset(key)


@dataclass(frozen=True)
class BatchPlan:
    """What a nightly tick does: add `key` as a new batch, run it again, or skip with a reason."""

    key: str
    status: Literal["new", "exists", "collides"]
    reason: str
    seed_offset: int


def plan_nightly(when: date | datetime, existing: Iterable[str], shards: int = 1) -> list[BatchPlan]:
    """The tick's batches (one, or its shards): each `new` when its key is not there yet, `exists` when
    it is (a re-evaluated tick must not add it twice), `collides` when its seed offset equals an
    existing batch's (the batches would repeat each other; astronomically rare with 48 bits, but
    checked, not assumed)."""
    keys = list(existing)
    plans: list[BatchPlan] = []
    for key in shard_keys(nightly_key(when), shards):
        plans.append(_plan_key(key, keys + [p.key for p in plans]))
    return plans


def _plan_key(key: str, keys: list[str]) -> BatchPlan:
    offset = seed_offset(key)
    if key in keys:
        return BatchPlan(key, "exists", f"batch {key} already exists", offset)
    clash = next((k for k in keys if BATCH_KEY_PATTERN.fullmatch(k) and seed_offset(k) == offset), None)
    if clash is not None:
        return BatchPlan(key, "collides", f"batch {key} would reuse the seed offset of batch {clash}", offset)
    return BatchPlan(key, "new", f"new batch {key} (seed offset {offset})", offset)


# A batch split into shards (one night's tens of thousands of problems over many runs, processes or
# machines): each shard is a batch of its own, `<batch>.s<index>-of-<count>`, with its own seed offset
# (so the shards never repeat one another) and its own folder; readers of every batch (training_shards,
# lcb_problems, status) take the shards like any batch, and training_shards' dedup spans them.
_SHARD = re.compile(r"(?P<batch>.+)\.s(?P<index>\d+)-of-(?P<count>\d+)")
MAX_SHARDS = 9999


@dataclass(frozen=True)
class BatchShard:
    batch: str
    index: int  # 0-based
    count: int

    @property
    def key(self) -> str:
        width = len(str(self.count - 1))
        return f"{self.batch}.s{self.index:0{width}d}-of-{self.count}"


def shard_keys(batch: str, count: int) -> list[str]:
    """The keys of a batch split into `count` shards (count 1: the batch's own key, unsplit)."""
    check_batch_key(batch)
    if not 1 <= count <= MAX_SHARDS:
        raise BatchKeyError(f"shards {count}: a batch splits into 1 to {MAX_SHARDS} shards")
    if count == 1:
        return [batch]
    return [check_batch_key(BatchShard(batch, i, count).key) for i in range(count)]


def shard_of(key: str) -> BatchShard | None:
    """The batch, index and count a shard's key names (None: a whole batch)."""
    match = _SHARD.fullmatch(key)
    if not match:
        return None
    shard = BatchShard(match["batch"], int(match["index"]), int(match["count"]))
    return shard if shard.index < shard.count and shard.key == key else None


def select_batches(existing: Iterable[str], wanted: Iterable[str] | None = None) -> list[str]:
    """The batches a reader of every batch (training_shards) takes: all existing ones in their order, or
    the wanted ones, each of which must exist (BatchKeyError naming those that do not)."""
    keys = list(existing)
    if wanted is None:
        return keys
    wanted = list(dict.fromkeys(wanted))
    missing = [k for k in wanted if k not in keys]
    if missing:
        raise BatchKeyError(f"unknown batch(es) {', '.join(missing)}: the batches are {', '.join(keys) or 'none yet'}")
    return [k for k in keys if k in wanted]


__all__ = [
    "BATCH_KEY_PATTERN",
    "BatchKeyError",
    "BatchPlan",
    "BatchShard",
    "DEFAULT_BATCH",
    "batch_seed",
    "check_batch_key",
    "nightly_key",
    "plan_nightly",
    "seed_offset",
    "select_batches",
    "shard_keys",
    "shard_of",
]
