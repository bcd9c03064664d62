"""A local OpenAI-compatible chat-completions server for tests and benchmarks (loopback only).

It answers `POST /v1/chat/completions` after a fixed latency, in one of two ways, by the model asked:

- model `synthsmith-sim-1` (litellm: `openai/synthsmith-sim-1`): the offline simulator over HTTP,
  the same answers as the in-process provider. The prompt template's id comes in the
  `X-Prompt-Template` header (the gateway sends it with every request); a request without it, or
  with an id the simulator does not know, gets a 400 naming the problem.
- any other model: a scripted endpoint for the gateway's own tests. A line `SCENARIO: name[:n]` in
  the last message makes it misbehave the way real providers do, counted per distinct prompt:

  429:n / 500:n / 503:n   the first n attempts get that status (429 with Retry-After: 0)
  always-500              every attempt gets 500
  timeout:n               the first n attempts hang longer than any client timeout
  drop:n                  the first n attempts have their connection closed mid-request
  malformed:n             the first n attempts get a 200 whose body is not JSON
  always-malformed        every attempt gets that
  truncated               finish_reason "length" and half an answer
  think                   reasoning in a <think> block before the answer
  reasoning-field         reasoning in message.reasoning_content
  bad-request             400 (not retryable)
  json                    a JSON object inside prose and a fence

`GET /stats` (JSON) counts requests and the requests in flight (being answered): now, at their peak
and on average since the last `POST /stats/reset` (a benchmark resets before a round, reads after).
The server raises its own open-file limit to the hard limit and listens with a deep backlog, so it
can hold thousands of slow requests at once.

Run: python -m xcoder_assets.simulator.fake_server --port 0 --latency 0.2   (prints its URL, then serves),
or `xcoder fake-llm-server`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Iterator

from aiohttp import web

from xcoder_assets.llm.limits import raise_open_file_limit
from xcoder_assets.llm.settings import OFFLINE_MODEL
from xcoder_assets.llm.wire import TEMPLATE_HEADER
from xcoder_assets.simulator.registry import SimulatorError, answer as simulated_answer

SIMULATED_MODELS = {OFFLINE_MODEL, OFFLINE_MODEL.split("/", 1)[1]}
_SCENARIO = re.compile(r"SCENARIO:\s*([\w-]+)(?::(\d+))?")


def build_app(latency_s: float = 0.0, hang_s: float = 3600.0) -> web.Application:
    attempts: Counter[str] = Counter()
    served = Counter()
    # Requests being answered: now, at their peak, and integrated over time (for the mean) since the last reset.
    flight = {"now": 0, "peak": 0, "area": 0.0, "t": time.monotonic(), "since": time.monotonic()}

    def step(delta: int) -> None:
        now = time.monotonic()
        flight["area"] += flight["now"] * (now - flight["t"])
        flight["t"] = now
        flight["now"] += delta
        flight["peak"] = max(flight["peak"], flight["now"])

    async def completions(request: web.Request) -> web.StreamResponse:
        step(+1)
        try:
            return await answer(request)
        finally:
            step(-1)

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        messages = body.get("messages") or []
        last = str(messages[-1].get("content", "")) if messages else ""
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        attempts[key] += 1
        attempt = attempts[key]
        served["requests"] += 1
        if latency_s:
            await asyncio.sleep(latency_s)
        if body.get("model") in SIMULATED_MODELS:
            return simulate(request, body, messages, key, attempt)
        match = _SCENARIO.search(last)
        name, count = (match.group(1), int(match.group(2) or 1)) if match else ("ok", 0)
        failing = attempt <= count
        if name in ("429", "500", "503") and failing:
            headers = {"Retry-After": "0"} if name == "429" else {}
            return web.json_response(
                {"error": {"message": f"simulated {name}", "type": "server_error"}}, status=int(name), headers=headers
            )
        if name == "always-500":
            return web.json_response({"error": {"message": "simulated outage"}}, status=500)
        if name == "bad-request":
            return web.json_response(
                {"error": {"message": "simulated bad request", "type": "invalid_request_error"}}, status=400
            )
        if name == "timeout" and failing:
            await asyncio.sleep(hang_s)
        if name == "drop" and failing:
            request.transport.close()
            raise ConnectionResetError("simulated dropped connection")
        if (name == "malformed" and failing) or name == "always-malformed":
            return web.Response(text="<html>502 upstream garbled{", content_type="application/json")
        content, reasoning, finish = f"answer to {last[:40]!r}", None, "stop"
        if name == "truncated":
            content, finish = '```json\n{"algorithms": {"graph": ["breadth', "length"
        elif name == "think":
            content = "<think>I should answer briefly.</think>final answer"
        elif name == "reasoning-field":
            content, reasoning = "final answer", "step by step reasoning"
        elif name == "json":
            content = 'Sure, here it is:\n```json\n{"data_structures": ["stack"]}\n```\nHope this helps.'
        return completion(body, messages, key, attempt, content, finish, reasoning)

    def simulate(request: web.Request, body: dict, messages: list, key: str, attempt: int) -> web.Response:
        served["simulated"] += 1
        try:
            content, finish = simulated_answer(
                request.headers.get(TEMPLATE_HEADER),
                messages,
                body.get("seed"),
                body.get("max_tokens") or body.get("max_completion_tokens"),
            )
        except SimulatorError as exc:
            return web.json_response({"error": {"message": str(exc), "type": "invalid_request_error"}}, status=400)
        return completion(body, messages, key, attempt, content, finish, None)

    async def models(_: web.Request) -> web.Response:
        names = ["fake-model", OFFLINE_MODEL.split("/", 1)[1]]
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model"} for name in names]})

    def counters() -> dict[str, float]:
        step(0)
        seconds = flight["t"] - flight["since"]
        return {
            "requests": served["requests"],
            "simulated": served["simulated"],
            "distinct_prompts": len(attempts),
            "in_flight": flight["now"],
            "peak_in_flight": flight["peak"],
            "seconds": round(seconds, 3),
            "mean_in_flight": round(flight["area"] / seconds, 1) if seconds > 0 else float(flight["now"]),
        }

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(counters())

    async def reset_stats(_: web.Request) -> web.Response:
        before = counters()
        flight.update(peak=flight["now"], area=0.0, since=flight["t"])
        return web.json_response(before)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    app.router.add_post("/stats/reset", reset_stats)
    return app


def completion(
    body: dict, messages: list, key: str, attempt: int, content: str, finish: str, reasoning: str | None
) -> web.Response:
    message = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
    return web.json_response(
        {
            "id": f"chatcmpl-{key[:12]}-{attempt}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content) // 4,
                "total_tokens": prompt_tokens + len(content) // 4,
            },
        }
    )


async def serve(port: int, latency_s: float, hang_s: float) -> None:
    raise_open_file_limit()  # one descriptor per open connection
    runner = web.AppRunner(build_app(latency_s, hang_s), access_log=None)
    await runner.setup()
    # The kernel caps the accept queue at net.core.somaxconn; ask for as much as it allows.
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=max(4096, socket.SOMAXCONN))
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"fake OpenAI-compatible server listening on http://127.0.0.1:{bound}/v1", flush=True)
    await asyncio.Event().wait()


def _discard(stream) -> None:
    for _ in stream:
        pass


@contextlib.contextmanager
def running(latency_s: float = 0.0, hang_s: float = 3600.0, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Serve in a child process on a free loopback port for the `with` block; yields the /v1 URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xcoder_assets.simulator.fake_server",
            "--port",
            "0",
            "--latency",
            str(latency_s),
            "--hang",
            str(hang_s),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    drain: threading.Thread | None = None
    try:
        deadline = time.monotonic() + start_timeout_s
        url, seen = None, []
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line and process.poll() is not None:
                break
            seen.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            url = match.group(1) if match else None
        if url is None:
            raise RuntimeError(f"the fake server did not start:\n{''.join(seen)[-2000:]}")
        # Keep reading what it writes later (tracebacks of dropped connections), so its pipe never fills.
        drain = threading.Thread(target=_discard, args=(process.stdout,), daemon=True)
        drain.start()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drain is not None:
            drain.join(timeout=5)
        if process.stdout and (drain is None or not drain.is_alive()):
            process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local OpenAI-compatible fake server (tests and benchmarks).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--hang", type=float, default=3600.0, help="seconds a 'timeout' scenario hangs")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port, args.latency, args.hang))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
