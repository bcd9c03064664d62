"""The OpenAI-compatible server over transformers generation, on the tiny random Qwen2 model."""

import json
import sys
import urllib.error
import urllib.request

import pytest

from xcoder_assets_tests.conftest import start_server

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from xcoder_assets.launched.tiny import build_model_dir

    return build_model_dir(tmp_path_factory.mktemp("serve") / "tiny-model", "tiny")


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_chat_completions_in_openai_shape(tiny_model):
    from xcoder_assets.launched.serve import start_server as serve

    with serve(tiny_model, name="tiny") as server:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/v1")
        body = {
            "model": "tiny",
            "messages": [{"role": "user", "content": "Add two numbers."}],
            "temperature": 0.7,
            "max_tokens": 8,
            "n": 2,
            "seed": 5,
        }
        status, answer = _post(server.url, body)
        assert status == 200, answer
        assert [c["index"] for c in answer["choices"]] == [0, 1]
        assert all(c["finish_reason"] in ("stop", "length") for c in answer["choices"])
        assert 0 < answer["usage"]["completion_tokens"] <= 16 and answer["usage"]["prompt_tokens"] > 0
        again = _post(server.url, body)[1]
        assert [c["message"]["content"] for c in again["choices"]] == [
            c["message"]["content"] for c in answer["choices"]
        ]
        status, error = _post(server.url, {"messages": []})
        assert status == 400 and "messages" in error["error"]["message"]
        with urllib.request.urlopen(server.url + "/models", timeout=10) as response:
            assert json.loads(response.read())["data"][0]["id"] == "tiny"


def test_litellm_talks_to_it_as_to_any_openai_endpoint(tiny_model):
    import litellm

    process, url = start_server(
        [sys.executable, "-m", "xcoder_assets.launched.serve", "--model", str(tiny_model), "--port", "0"],
        r"listening on (http://\S+)",
        timeout_s=120,
    )
    try:
        response = litellm.completion(
            model="openai/tiny-model",
            api_base=url,
            api_key="none",
            max_tokens=6,
            temperature=0.0,
            messages=[{"role": "user", "content": "hi"}],
        )
        assert response.choices[0].finish_reason in ("stop", "length")
        assert response.usage.completion_tokens <= 6
    finally:
        process.kill()
        process.wait()
