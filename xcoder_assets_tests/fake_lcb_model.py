"""A scripted OpenAI-compatible model for benchmark tests, over real HTTP on 127.0.0.1 (port 0).

It answers LiveCodeBench prompts with known programs: `answers[question_text][seed % len]`, where the
question text is what the prompt carries under `### Question:` (the statement is the test's own, so
reading it back is the test checking what was sent). `refuse=True` answers every request 503.
It records each request (so a test sees that n samples were n distinct requests) and the most requests
it held at once (`latency_s` makes each answer take that long).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from aiohttp import web


class FakeLcbModel:
    def __init__(self, answers: dict[str, list[str]], *, refuse: bool = False, latency_s: float = 0.0):
        self.answers, self.refuse, self.latency_s = answers, refuse, latency_s
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.peak_in_flight = 0
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1
        if self.refuse:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        prompt = body["messages"][-1]["content"]
        question = prompt.split("### Question:\n", 1)[-1].split("\n\n### Format:", 1)[0].strip()
        options = self.answers.get(question) or ["I do not know this one."]
        content = options[int(body.get("seed") or 0) % len(options)]
        return web.json_response(
            {
                "id": f"fake-{len(self.requests)}",
                "object": "chat.completion",
                "model": body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": len(prompt) // 4,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": (len(prompt) + len(content)) // 4,
                },
            }
        )

    def __enter__(self) -> "FakeLcbModel":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._chat)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._loop and self._runner
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
