"""Anthropic's Message Batches API over HTTP, for a role on an `anthropic/...` model with `batch: true`.

litellm (1.110) can read such a batch but cannot create one ("not yet implemented for Anthropic"), so the
batch runner (llm/batches.py) talks to the API itself: the requests go inline in one POST (no file upload),
the batch's status is read with GET, and its results are a JSONL file at the batch's `results_url`. The
status is mapped to the OpenAI batch vocabulary the runner records (`ended` -> `completed`; a line that was
canceled or expired is an error of that line, sent again by the next run).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import aiohttp

from xcoder_assets.llm.settings import RoleSettings

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_API_BASE = "https://api.anthropic.com"
STATUS = {"in_progress": "in_progress", "canceling": "cancelling", "ended": "completed"}
SAMPLING = ("temperature", "top_p", "top_k")  # what Messages takes of our generation parameters (no seed)


class AnthropicBatchError(Exception):
    """An HTTP failure, with the status and response the gateway's error classification reads."""

    def __init__(self, message: str, status_code: int | None = None, response: Any = None):
        super().__init__(message)
        self.status_code, self.response = status_code, response


@dataclass(frozen=True)
class AnthropicBatch:
    """The fields the batch runner reads of a provider batch (as it reads them of an OpenAI one)."""

    id: str
    status: str  # OpenAI's vocabulary: in_progress, cancelling, completed
    results_url: str | None


def message_params(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """A chat request (OpenAI messages, our generation parameters) as Messages API params."""
    system = "\n\n".join(str(m["content"]) for m in messages if m.get("role") == "system")
    out: dict[str, Any] = {
        "model": model,
        "max_tokens": int(params.get("max_tokens") or 4096),
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages if m.get("role") != "system"],
    }
    if system:
        out["system"] = system
    out.update({name: params[name] for name in SAMPLING if params.get(name) is not None})
    return out


def result_answer(result: dict[str, Any]) -> dict[str, Any] | str:
    """One results line's `result` as the cache stores an answer, or the line's error."""
    kind = result.get("type")
    if kind == "succeeded":
        message = result.get("message") or {}
        blocks = message.get("content") or []
        text = "".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        thinking = "".join(str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking")
        if not text and not thinking:
            return "malformed_response: the batch line has no text content"
        usage = message.get("usage") or {}
        return {
            "content": text,
            "reasoning": thinking or None,
            "finish_reason": "length" if message.get("stop_reason") == "max_tokens" else "stop",
            "prompt_tokens": int(usage.get("input_tokens") or 0),
            "completion_tokens": int(usage.get("output_tokens") or 0),
            "cost_usd": 0.0,
            "latency_s": 0.0,
            "batch": True,
        }
    if kind == "errored":
        error = result.get("error") or {}
        error = error.get("error") or error  # {"type": "error", "error": {"type": ..., "message": ...}}
        return f"batch_line_error: {error.get('type') or 'error'}: {error.get('message') or 'no detail'}"[:300]
    if kind in ("canceled", "expired"):
        return f"batch_line_{kind}: the provider did not answer this request"
    return f"malformed_response: batch result type {kind!r}"


class AnthropicBatches:
    def __init__(self, settings: RoleSettings, timeout_s: float = 120.0):
        base = (settings.api_base or DEFAULT_API_BASE).rstrip("/")
        self.base = base.removesuffix("/v1")
        self.headers = {
            "x-api-key": settings.api_key or os.environ.get("ANTHROPIC_API_KEY") or "",
            "anthropic-version": ANTHROPIC_VERSION,
            "content-type": "application/json",
        }
        self.timeout_s = timeout_s

    async def _request(self, method: str, url: str, body: Any = None) -> str:
        """The response's text; AnthropicBatchError on an HTTP error."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.request(method, url, headers=self.headers, json=body) as response:
                text = await response.text()
                if response.status >= 400:
                    try:
                        detail = (json.loads(text).get("error") or {}).get("message")
                    except (ValueError, AttributeError):
                        detail = text[:200]
                    raise AnthropicBatchError(
                        f"Anthropic Message Batches: HTTP {response.status}: {detail or 'no detail'}",
                        response.status,
                        response,
                    )
                return text

    @staticmethod
    def _batch(body: dict[str, Any]) -> AnthropicBatch:
        status = str(body.get("processing_status") or "")
        return AnthropicBatch(str(body["id"]), STATUS.get(status, status), body.get("results_url"))

    async def create(self, requests: list[dict[str, Any]]) -> AnthropicBatch:
        text = await self._request("POST", f"{self.base}/v1/messages/batches", {"requests": requests})
        return self._batch(json.loads(text))

    async def retrieve(self, batch_id: str) -> AnthropicBatch:
        text = await self._request("GET", f"{self.base}/v1/messages/batches/{batch_id}")
        return self._batch(json.loads(text))

    async def results(self, batch: AnthropicBatch) -> list[tuple[str, dict[str, Any] | str]]:
        """(custom_id, answer or error) per line of an ended batch's results."""
        url = batch.results_url or f"{self.base}/v1/messages/batches/{batch.id}/results"
        out = []
        for line in (await self._request("GET", url)).splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                out.append((str(entry["custom_id"]), result_answer(entry.get("result") or {})))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line that names no request of ours
        return out
