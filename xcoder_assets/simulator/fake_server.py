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

Provider batch API (OpenAI's files and batches endpoints): `POST /v1/files` (multipart upload),
`POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/files/{id}/content`. A batch's lines are answered
as the chat endpoint answers them (the simulator's template comes in the line's custom_id,
"<key> <template>"); a line whose last message holds `SCENARIO: batch-line-error` fails alone. How
batches end is set for the whole server by `POST /batches/control` {"mode": ..., "polls": n}: they
stay in_progress for n status reads, then `complete` (default), `hold` (stay in_progress), `fail`
(validation failed, no output), or `expire` (the first half answered, the rest expired).

Anthropic's Message Batches (which litellm cannot create): `POST /v1/messages/batches` (the requests
inline; x-api-key and anthropic-version headers required), `GET /v1/messages/batches/{id}` and its
`results_url`; answered the same way, under the same control (`fail`: every request errored, `expire`: the
second half expired).

Prices: `--price-in` / `--price-out` (USD per million tokens, batch lines at `--batch-discount` of
that) make the server bill every answer by the usage it reports; `/stats` shows `billed_usd`, what a
provider would charge, to hold against what the gateway accounted.

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
from xcoder_assets.llm.wire import TEMPLATE_HEADER, split_batch_custom_id
from xcoder_assets.simulator.registry import SimulatorError, answer as simulated_answer

SIMULATED_MODELS = {OFFLINE_MODEL, OFFLINE_MODEL.split("/", 1)[1]}
_SCENARIO = re.compile(r"SCENARIO:\s*([\w-]+)(?::(\d+))?")


def build_app(
    latency_s: float = 0.0,
    hang_s: float = 3600.0,
    price_in: float = 0.0,
    price_out: float = 0.0,
    batch_discount: float = 0.5,
) -> web.Application:
    attempts: Counter[str] = Counter()
    served: Counter = Counter()
    files: dict[str, dict] = {}
    batches: dict[str, dict] = {}
    batch_mode = {"mode": "complete", "polls": 0}

    def bill(usage: dict, batch: bool) -> None:
        share = batch_discount if batch else 1.0
        served["billed_usd"] += (
            share * (usage["prompt_tokens"] * price_in + usage["completion_tokens"] * price_out) / 1_000_000
        )

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
        return await scripted(request, body, messages, last, key, attempt)

    async def scripted(
        request: web.Request | None, body: dict, messages: list, last: str, key: str, attempt: int
    ) -> web.StreamResponse:
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
        return reply(body, messages, key, attempt, content, finish, reasoning)

    def reply(
        body: dict, messages: list, key: str, attempt: int, content: str, finish: str, reasoning: str | None
    ) -> web.Response:
        payload = completion_body(body, messages, key, attempt, content, finish, reasoning)
        bill(payload["usage"], batch=False)
        return web.json_response(payload)

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
        return reply(body, messages, key, attempt, content, finish, None)

    # -- the batch API ---------------------------------------------------------------------------
    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "file"):
            return web.json_response({"error": {"message": "no file in the upload"}}, status=400)
        data = upload.file.read()
        file_id = f"file-{len(files) + 1:06d}"
        files[file_id] = {"data": data, "filename": upload.filename, "purpose": form.get("purpose", "batch")}
        served["files_created"] += 1
        return web.json_response(file_object(file_id))

    def file_object(file_id: str) -> dict:
        entry = files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(entry["data"]),
            "created_at": int(time.time()),
            "filename": entry["filename"] or "batch.jsonl",
            "purpose": entry["purpose"],
            "status": "processed",
        }

    async def create_batch(request: web.Request) -> web.Response:
        body = await request.json()
        input_id = body.get("input_file_id")
        if input_id not in files:
            return web.json_response({"error": {"message": f"no file {input_id!r}"}}, status=404)
        batch_id = f"batch_{len(batches) + 1:06d}"
        lines = [json.loads(line) for line in files[input_id]["data"].decode().splitlines() if line.strip()]
        batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "errors": None,
            "input_file_id": input_id,
            "completion_window": body.get("completion_window", "24h"),
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
            "_lines": lines,
            "_reads": 0,
        }
        served["batches_created"] += 1
        served["batch_lines"] += len(lines)
        return web.json_response(public(batches[batch_id]))

    def public(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    async def retrieve_batch(request: web.Request) -> web.Response:
        batch = batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        served["batch_reads"] += 1
        if batch["status"] in ("validating", "in_progress"):
            batch["_reads"] += 1
            if batch_mode["mode"] == "hold" or batch["_reads"] <= batch_mode["polls"]:
                batch["status"] = "in_progress"
            else:
                await finish(batch, batch_mode["mode"])
        return web.json_response(public(batch))

    async def finish(batch: dict, mode: str) -> None:
        now = int(time.time())
        if mode == "fail":
            batch.update(
                status="failed",
                failed_at=now,
                errors={
                    "object": "list",
                    "data": [{"code": "invalid_request", "message": "simulated validation failure"}],
                },
            )
            return
        lines = batch["_lines"]
        answered = lines if mode != "expire" else lines[: len(lines) // 2]
        out, errors = [], []
        for line in lines:
            custom_id = line.get("custom_id", "")
            if line not in answered:
                errors.append(
                    {
                        "id": f"batch_req_{len(out) + len(errors)}",
                        "custom_id": custom_id,
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "This request could not be executed before the completion window expired.",
                        },
                    }
                )
                continue
            entry = await batch_line(line)
            (out if entry["response"]["status_code"] == 200 else errors).append(entry)
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errors)}
        if out:
            batch["output_file_id"] = store_file(out, batch["id"], "output")
        if errors:
            batch["error_file_id"] = store_file(errors, batch["id"], "errors")
        if mode == "expire":
            batch.update(status="expired", expired_at=now)
        else:
            batch.update(status="completed", completed_at=now)

    async def batch_line(line: dict) -> dict:
        body = line.get("body") or {}
        messages = body.get("messages") or []
        last = str(messages[-1].get("content", "")) if messages else ""
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        custom_id = str(line.get("custom_id", ""))
        try:
            template = split_batch_custom_id(custom_id)[1]
        except ValueError:
            template = None
        served["batch_requests_answered"] += 1
        status, payload = 200, None
        if "SCENARIO: batch-line-error" in last:
            status, payload = 500, {"error": {"message": "simulated line failure", "type": "server_error"}}
        elif body.get("model") in SIMULATED_MODELS:
            try:
                content, finish_reason = simulated_answer(
                    template, messages, body.get("seed"), body.get("max_tokens") or body.get("max_completion_tokens")
                )
                payload = completion_body(body, messages, key, 1, content, finish_reason, None)
            except SimulatorError as exc:
                status, payload = 400, {"error": {"message": str(exc), "type": "invalid_request_error"}}
        else:
            payload = completion_body(body, messages, key, 1, f"answer to {last[:40]!r}", "stop", None)
        if status == 200:
            bill(payload["usage"], batch=True)
        return {
            "id": f"batch_req_{key[:12]}",
            "custom_id": custom_id,
            "response": {"status_code": status, "request_id": f"req_{key[:12]}", "body": payload},
            "error": None,
        }

    def store_file(entries: list[dict], batch_id: str, kind: str) -> str:
        file_id = f"file-{len(files) + 1:06d}"
        data = "".join(json.dumps(entry) + "\n" for entry in entries).encode()
        files[file_id] = {"data": data, "filename": f"{batch_id}_{kind}.jsonl", "purpose": "batch_output"}
        return file_id

    async def file_content(request: web.Request) -> web.Response:
        entry = files.get(request.match_info["file_id"])
        if entry is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=entry["data"], content_type="application/octet-stream")

    async def batch_control(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("mode") not in ("complete", "hold", "fail", "expire"):
            return web.json_response({"error": {"message": "mode: complete, hold, fail or expire"}}, status=400)
        batch_mode.update(mode=body["mode"], polls=int(body.get("polls") or 0))
        return web.json_response(dict(batch_mode))

    # -- Anthropic's Message Batches ---------------------------------------------------------------
    message_batches: dict[str, dict] = {}

    def anthropic_refusal(request: web.Request) -> web.Response | None:
        if not request.headers.get("x-api-key") or not request.headers.get("anthropic-version"):
            error = {"type": "authentication_error", "message": "x-api-key and anthropic-version headers required"}
            return web.json_response({"type": "error", "error": error}, status=401)
        return None

    def message_batch_public(batch: dict, request: web.Request) -> dict:
        ended = batch["processing_status"] == "ended"
        results_url = f"{request.url.origin()}/v1/messages/batches/{batch['id']}/results" if ended else None
        return {**{k: v for k, v in batch.items() if not k.startswith("_")}, "results_url": results_url}

    async def create_message_batch(request: web.Request) -> web.Response:
        refusal = anthropic_refusal(request)
        if refusal is not None:
            return refusal
        requests = (await request.json()).get("requests") or []
        batch_id = f"msgbatch_{len(message_batches) + 1:06d}"
        message_batches[batch_id] = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "ended_at": None,
            "_requests": requests,
            "_reads": 0,
            "_results": [],
        }
        served["batches_created"] += 1
        served["batch_lines"] += len(requests)
        return web.json_response(message_batch_public(message_batches[batch_id], request))

    async def retrieve_message_batch(request: web.Request) -> web.Response:
        refusal = anthropic_refusal(request)
        if refusal is not None:
            return refusal
        batch = message_batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
        served["batch_reads"] += 1
        if batch["processing_status"] == "in_progress":
            batch["_reads"] += 1
            if batch_mode["mode"] != "hold" and batch["_reads"] > batch_mode["polls"]:
                await end_message_batch(batch, batch_mode["mode"])
        return web.json_response(message_batch_public(batch, request))

    async def end_message_batch(batch: dict, mode: str) -> None:
        """Each request answered as the chat endpoint answers it (its params as a chat body, the system prompt
        first), or errored (`fail`: every one), or expired (`expire`: the second half)."""
        requests = batch["_requests"]
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for index, item in enumerate(requests):
            params = dict(item.get("params") or {})
            if mode == "expire" and index >= len(requests) // 2:
                result = {"type": "expired"}
            elif mode == "fail":
                result = anthropic_errored("invalid_request_error", "simulated failure")
            else:
                system = [{"role": "system", "content": params.pop("system")}] if params.get("system") else []
                body = {**params, "messages": system + list(params.get("messages") or [])}
                entry = await batch_line({"custom_id": item.get("custom_id", ""), "body": body})
                response = entry["response"]
                result = anthropic_result(response["status_code"], response["body"])
            counts[result["type"]] += 1
            batch["_results"].append({"custom_id": item.get("custom_id", ""), "result": result})
        batch.update(
            processing_status="ended",
            request_counts=counts,
            ended_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    async def message_batch_results(request: web.Request) -> web.Response:
        refusal = anthropic_refusal(request)
        if refusal is not None:
            return refusal
        batch = message_batches.get(request.match_info["batch_id"])
        if batch is None or batch["processing_status"] != "ended":
            return web.json_response({"type": "error", "error": {"type": "not_found_error"}}, status=404)
        data = "".join(json.dumps(entry) + "\n" for entry in batch["_results"])
        return web.Response(text=data, content_type="application/binary")

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
            "billed_usd": served["billed_usd"],
            "files_created": served["files_created"],
            "batches_created": served["batches_created"],
            "batch_lines": served["batch_lines"],
            "batch_reads": served["batch_reads"],
            "batch_requests_answered": served["batch_requests_answered"],
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
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/files", upload)
        app.router.add_get(f"{prefix}/files/{{file_id}}/content", file_content)
        app.router.add_post(f"{prefix}/batches", create_batch)
        app.router.add_get(f"{prefix}/batches/{{batch_id}}", retrieve_batch)
    app.router.add_post("/batches/control", batch_control)
    app.router.add_post("/v1/messages/batches", create_message_batch)
    app.router.add_get("/v1/messages/batches/{batch_id}", retrieve_message_batch)
    app.router.add_get("/v1/messages/batches/{batch_id}/results", message_batch_results)
    return app


def anthropic_errored(kind: str, message: str) -> dict:
    """A Message Batches result of a request that failed."""
    return {"type": "errored", "error": {"type": "error", "error": {"type": kind, "message": message}}}


def anthropic_result(status_code: int, body: dict) -> dict:
    """An OpenAI chat answer (or error) as a Message Batches result."""
    if status_code != 200:
        return anthropic_errored("api_error", ((body or {}).get("error") or {}).get("message") or "error")
    choice = body["choices"][0]
    content = [{"type": "text", "text": choice["message"].get("content") or ""}]
    if choice["message"].get("reasoning_content"):
        content.insert(0, {"type": "thinking", "thinking": choice["message"]["reasoning_content"]})
    usage = body["usage"]
    return {
        "type": "succeeded",
        "message": {
            "id": f"msg_{body['id']}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": "max_tokens" if choice.get("finish_reason") == "length" else "end_turn",
            "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]},
        },
    }


def completion_body(
    body: dict, messages: list, key: str, attempt: int, content: str, finish: str, reasoning: str | None
) -> dict:
    message = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
    return {
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


async def serve(port: int, latency_s: float, hang_s: float, **prices: float) -> None:
    raise_open_file_limit()  # one descriptor per open connection
    runner = web.AppRunner(build_app(latency_s, hang_s, **prices), access_log=None)
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
def running(
    latency_s: float = 0.0,
    hang_s: float = 3600.0,
    start_timeout_s: float = 60.0,
    price_in: float = 0.0,
    price_out: float = 0.0,
    batch_discount: float = 0.5,
) -> Iterator[str]:
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
            "--price-in",
            str(price_in),
            "--price-out",
            str(price_out),
            "--batch-discount",
            str(batch_discount),
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
    parser.add_argument("--price-in", type=float, default=0.0, help="USD per million prompt tokens it bills")
    parser.add_argument("--price-out", type=float, default=0.0, help="USD per million completion tokens it bills")
    parser.add_argument("--batch-discount", type=float, default=0.5, help="batch lines cost this share of the price")
    args = parser.parse_args(argv)
    try:
        asyncio.run(
            serve(
                args.port,
                args.latency,
                args.hang,
                price_in=args.price_in,
                price_out=args.price_out,
                batch_discount=args.batch_discount,
            )
        )
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
