"""A private Postgres cluster for one test session: deploy/serve.py's own helpers (initdb with a generated
password, as Debian's postgres user when root) in a fresh temp folder, on a free loopback port; stopped
and removed afterwards. Skips (fails in CI) where PostgreSQL is not installed (deploy/install-postgres.sh).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from xcoder_assets_tests.conftest import PROJECT_ROOT, free_port

SERVE = PROJECT_ROOT / "deploy" / "serve.py"


def _serve_module():
    spec = importlib.util.spec_from_file_location("xcoder_deploy_serve", SERVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def postgres_or_skip() -> None:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("initdb"):
        if os.environ.get("CI"):
            pytest.fail("postgresql missing in CI (make test-deps installs it)")
        pytest.skip("postgresql is not installed (deploy/install-postgres.sh)")


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running cluster with an empty database; yields its postgresql:// URL (password included)."""
    postgres_or_skip()
    serve = _serve_module()
    root = Path(tempfile.mkdtemp(prefix="xcoder-pg-"))
    root.chmod(0o755)  # Debian's postgres user must reach the data folder (when the tests run as root)
    (root / "logs").mkdir()
    layout = serve.Layout(root)
    try:
        password = serve.init_postgres(layout)
        port = free_port()
        serve.start_postgres(layout, port)
        serve.ensure_database(port, password)
        yield f"postgresql://{serve.PG_USER}:{password}@127.0.0.1:{port}/{serve.PG_DB}"
    finally:
        serve.stop_postgres(layout)
        shutil.rmtree(layout.pgdata.parent if layout.pgdata.parent != root else root, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """A new empty database in the cluster (one per test, so tests see only what they wrote); its URL."""
    import psycopg2

    con = psycopg2.connect(url)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        con.close()
    return url.rsplit("/", 1)[0] + f"/{name}"
