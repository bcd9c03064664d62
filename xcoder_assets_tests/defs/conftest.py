import pytest
from dagster._core.storage.defs_state.base import _current_storage


@pytest.fixture(autouse=True)
def _no_stale_defs_state_storage():
    """Dagster 1.13's `DagsterInstance.__exit__` (so `dg.instance_for_test()`) disposes the instance but never
    resets the defs-state storage its `__enter__` made current: every later `load_from_defs_folder` in the
    process then fails with "Attempted to resolve undefined DagsterInstance weakref". Reset it after each test."""
    yield
    _current_storage.set(None)
