"""Checks shared by every asset: the Parquet file on disk has the declared schema."""


import dagster as dg
import polars as pl

from xcoder_assets.defs.resources import StorageResource
from xcoder_assets.store.tables import Table


def schema_check(asset: dg.AssetsDefinition, table: Table) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{table.name}_schema",
        # The writer enforces the schema; this check is for files it did not just write: data left
        # by an older version of the code, or a file changed outside the pipeline (run it from the UI).
        description=f"{table.path('data').name} on disk has exactly the columns and types this code declares "
                    "(catches data written by an older version of the code).",
        blocking=True,
    )
    def _check(storage: StorageResource) -> dg.AssetCheckResult:
        path = table.path(storage.root)
        if not path.exists():
            return dg.AssetCheckResult(passed=False, metadata={"error": f"{path} is missing"})
        actual = pl.scan_parquet(path).collect_schema()
        expected = table.schema
        diffs = [
            f"{name}: expected {expected.get(name)}, found {actual.get(name)}"
            for name in dict.fromkeys([*expected, *actual])
            if expected.get(name) != actual.get(name)
        ]
        return dg.AssetCheckResult(passed=not diffs, metadata={"differences": "\n".join(diffs) or "none"})

    return _check


def share_check(check_name: str, label: str, share: float, threshold: float, *, at_most: bool = True,
                **extra: object) -> dg.AssetCheckResult:
    """A WARN check that a share stays at most (or at least) a threshold, with both in the metadata."""
    passed = share <= threshold if at_most else share >= threshold
    return dg.AssetCheckResult(check_name=check_name, passed=passed, severity=dg.AssetCheckSeverity.WARN,
                               metadata={label: round(share, 4), "threshold": threshold, **extra})
