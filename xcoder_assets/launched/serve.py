"""A small OpenAI-compatible chat server over transformers generation, for scoring a trained checkpoint
where vLLM is not installed (benchmark_scores talks to it as to any endpoint: `openai/<model>` + api_base).

    python -m xcoder_assets.launched.serve --model CHECKPOINT [--host 127.0.0.1] [--port 0]
    -> prints "listening on http://127.0.0.1:PORT/v1"

From Python: `server = start_server(path)`; `server.url`; `server.close()`. Endpoints: GET /v1/models,
POST /v1/chat/completions (messages, temperature, top_p, max_tokens, n, seed, stop). Requests are answered
one at a time (one model, one device); a seed makes an answer reproducible.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_NEW_TOKENS = 32768


class RequestError(ValueError):
    """A request the server cannot answer: 400 with the message."""


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (end of turn or a stop string) or "length" (max_tokens reached)
    prompt_tokens: int
    completion_tokens: int


class ChatModel:
    """A causal LM and its chat template; generate() is serialised (one device, one request at a time)."""

    def __init__(self, path: str | Path, name: str | None = None, device: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.name = name or Path(path).name
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(self.device).eval()
        self.lock = threading.Lock()

    def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 512,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> Completion:
        torch = self.torch
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"].to(self.device)
        limit = max(1, min(int(max_tokens), MAX_NEW_TOKENS))
        sample = temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": limit,
            "do_sample": sample,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            "eos_token_id": self.tokenizer.eos_token_id,
        }
        if sample:
            kwargs.update(temperature=float(temperature), top_p=float(top_p))
        with self.lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(int(seed))
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)[0][ids.shape[1] :]
        tokens = out.tolist()
        ended = bool(tokens) and tokens[-1] == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        finish = "stop" if ended else ("length" if len(tokens) >= limit else "stop")
        for marker in stop or []:
            if marker and marker in text:
                text, finish = text[: text.index(marker)], "stop"
        return Completion(text, finish, int(ids.shape[1]), len(tokens))


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise RequestError(f"{name} must be a number, got {value!r}")
    return float(value)


def chat_completion(model: ChatModel, body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and "content" in m for m in messages)
    ):
        raise RequestError("messages must be a non-empty list of {role, content}")
    n = int(_number(body, "n", 1))
    if not 1 <= n <= 64:
        raise RequestError(f"n must be between 1 and 64, got {n}")
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else list(stop or [])
    max_tokens = int(_number(body, "max_tokens", body.get("max_completion_tokens") or 512))
    seed = body.get("seed")
    choices, prompt_tokens, completion_tokens = [], 0, 0
    for i in range(n):
        done = model.generate(
            [{"role": m.get("role", "user"), "content": str(m["content"])} for m in messages],
            temperature=_number(body, "temperature", 1.0),
            top_p=_number(body, "top_p", 1.0),
            max_tokens=max_tokens,
            seed=None if seed is None else int(seed) + i,
            stop=stop,
        )
        choices.append(
            {"index": i, "message": {"role": "assistant", "content": done.text}, "finish_reason": done.finish_reason}
        )
        prompt_tokens, completion_tokens = done.prompt_tokens, completion_tokens + done.completion_tokens
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or model.name,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _handler(model: ChatModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the caller's log is the record
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(
                status,
                {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error" if status == 400 else "server_error",
                        "code": status,
                    }
                },
            )

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(
                    200, {"object": "list", "data": [{"id": model.name, "object": "model", "owned_by": "xcoder"}]}
                )
            elif self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object")
                self._send(200, chat_completion(model, body))
            except (RequestError, json.JSONDecodeError, ValueError) as exc:
                self._error(400, str(exc))
            except Exception as exc:  # a generation failure answers 500 rather than dropping the connection
                self._error(500, f"{type(exc).__name__}: {exc}")

    return Handler


class ChatServer:
    """A running server: .url (ends in /v1), .close()."""

    def __init__(self, model: ChatModel, host: str = "127.0.0.1", port: int = 0):
        self.model = model
        self.httpd = ThreadingHTTPServer((host, port), _handler(model))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="xcoder-serve", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    def __enter__(self) -> "ChatServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def start_server(
    model_path: str | Path, *, name: str | None = None, host: str = "127.0.0.1", port: int = 0
) -> ChatServer:
    """Load the checkpoint and serve it (port 0: a free port, so several servers can run at once)."""
    return ChatServer(ChatModel(model_path, name=name), host, port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model folder (e.g. trained_model's checkpoint_path)")
    parser.add_argument("--name", help="the model name the server answers to (default: the folder's name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args(argv)
    if not (Path(args.model) / "config.json").is_file():
        print(f"error: {args.model} is not a model folder (no config.json)", file=sys.stderr)
        return 2
    server = start_server(args.model, name=args.name, host=args.host, port=args.port)
    print(f"listening on {server.url} (model {server.model.name})", flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
