"""Check helpers shared by the assets. Each asset's check names are constants next to it.

No schema checks: the writer enforces every table's schema and id uniqueness (store.parquet.write_table),
so a check re-reading the file could not fail; each check here measures the data.
"""

from typing import Iterable, Sequence

import dagster as dg


def share_check(
    check_name: str, label: str, share: float, threshold: float, *, at_most: bool = True, **extra: object
) -> dg.AssetCheckResult:
    """A WARN check that a share stays at most (or at least) a threshold, with both in the metadata."""
    passed = share <= threshold if at_most else share >= threshold
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            label: round(share, 4),
            "threshold": threshold,
            "rule": f"{label} {'<=' if at_most else '>='} {threshold}",
            **extra,
        },
    )


# A check lists at most this many of the rows it found; the count says how many there are.
LISTED_ROWS = 20
TRACE_COMMAND = ".venv/bin/xcoder trace"


def row_findings(
    label: str, ids: Iterable[str], *, traceable: bool = True, counted: bool = False, limit: int = LISTED_ROWS
) -> dict:
    """The rows a check found, for its metadata: `<label>` (how many; left out when the caller's metadata
    already counts them, counted=True), `<label>_ids` (the first `limit`, in order) and, when the ids
    are row ids, `trace` (the command that follows the first one back to its seeds)."""
    found = list(dict.fromkeys(i for i in ids if i))
    return sampled_findings(label, len(found), found[:limit], traceable=traceable, counted=counted)


def sampled_findings(
    label: str, count: int, first: Sequence[str], *, traceable: bool = True, counted: bool = False
) -> dict:
    """row_findings for a stage that kept only how many rows it found and the first few of them."""
    out: dict = {} if counted else {label: count}
    if not count or not first:
        return out
    more = count - len(first)
    out[f"{label}_ids"] = ", ".join(first) + (f" (and {more} more)" if more > 0 else "")
    if traceable:
        out["trace"] = f"{TRACE_COMMAND} {first[0]}"
    return out
