"""One cache writer inside a container of the code image (test_deploy_docker_caches.py mounts this file
read-only: the image holds the package, not the tests, so this script imports only xcoder_assets).

    python container_cache_writer.py llm|runs SHARED NAME

SHARED is a folder the test shares with every writer: `params.json` says what to do; the writer does its
setup (imports, the gateway or the sandbox), writes `NAME.ready`, waits for `go` (so the writers start
together and race), does the work against the caches of XCODER_CACHE_URL and writes `NAME.json` (its
report) atomically. Any failure is the process's exit status and its stderr (the test shows both).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

GO_TIMEOUT_S = 300.0


def wait_for_go(shared: Path, name: str) -> None:
    (shared / f"{name}.ready").write_text(str(os.getpid()))
    deadline = time.monotonic() + GO_TIMEOUT_S
    while not (shared / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: no go file in {shared} after {GO_TIMEOUT_S:g} s")
        time.sleep(0.01)


def llm(shared: Path, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The same requests as every other writer, through the gateway and the cache (shared_cache_workers.py's
    llm_writer, which races OS processes the same way)."""
    from xcoder_assets.llm.cache import ResponseCache
    from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
    from xcoder_assets.llm.settings import GenerationParams, RoleSettings

    settings = RoleSettings(
        "extract",
        "openai/fake-model",
        GenerationParams(temperature=0.7, top_p=0.95, max_tokens=64),
        api_base=params["server_url"],
        api_key="sk-test",
    )
    cache = ResponseCache.at(Path("/tmp"))  # XCODER_CACHE_URL's Postgres: no file is written
    gateway = LLMGateway(
        {"extract": settings},
        cache,
        GatewayConfig(max_in_flight=8, max_retries=2, request_timeout_s=30),
        run_id=f"container-{name}",
        asset="cache_race",
    )
    requests = [LLMRequest.of("extract", [{"role": "user", "content": p}], "test@v1") for p in params["prompts"]]
    wait_for_go(shared, name)
    began = time.time()
    try:
        results = gateway.complete(requests)
    finally:
        cache.close()
    return {
        "began": began,
        "ended": time.time(),
        "ok": sum(r.ok for r in results),
        "hits": sum(r.cache_hit for r in results),
        "sent": sum(1 for r in results if not r.cache_hit and r.attempts > 0),
        "errors": sorted({r.error for r in results if r.error}),
        "contents": [r.content for r in results],
    }


def runs(shared: Path, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The same programs on the same inputs as every other writer, through run_matrix and the run cache, in
    bubblewrap (the run containers' sandbox)."""
    from xcoder_assets.sandbox.backends import Limits, make_backend
    from xcoder_assets.sandbox.runs import Program, RunCache, run_matrix

    backend = make_backend("bwrap")
    cache = RunCache.at(Path("/tmp"))
    programs = [Program(code) for code in params["programs"]]
    wait_for_go(shared, name)
    began = time.time()
    try:
        outcomes, stats = run_matrix(backend, programs, [params["inputs"]] * len(programs), Limits(), cache, workers=2)
    finally:
        backend.close()
        cache.close()
    return {
        "began": began,
        "ended": time.time(),
        "executed": stats.executed,
        "cached": stats.cached,
        "stdout": [[o.stdout for o in row] for row in outcomes],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[1] not in ("llm", "runs"):
        print(f"usage: {Path(argv[0]).name} llm|runs SHARED NAME", file=sys.stderr)
        return 2
    kind, shared, name = argv[1], Path(argv[2]), argv[3]
    if not os.environ.get("XCODER_CACHE_URL"):
        print("XCODER_CACHE_URL is not set: the writers must share a Postgres database", file=sys.stderr)
        return 2
    from xcoder_assets.store.sqlstore import process_owner

    params = json.loads((shared / "params.json").read_text())
    # the claims' owner: host and pid may well be equal in two containers; its random tag tells them apart
    report = {"name": name, "pid": os.getpid(), "hostname": os.uname().nodename, "owner": process_owner()}
    report.update(llm(shared, name, params) if kind == "llm" else runs(shared, name, params))
    partial = shared / f".{name}.json.part"
    partial.write_text(json.dumps(report))
    partial.replace(shared / f"{name}.json")  # atomic: the test never reads half a report
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
