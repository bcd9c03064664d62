"""Check helpers shared by the assets. Each asset's check names are constants next to it.

No schema checks: the writer enforces every table's schema and id uniqueness (store.parquet.write_table),
so a check re-reading the file could not fail; each check here measures the data.
"""

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
