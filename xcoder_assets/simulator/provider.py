"""The offline provider: the simulator plugged into litellm as a custom provider.

Model name: `xcoder-offline/synthsmith-sim-1`. It is the embedded default when no model is
configured, so the whole pipeline runs with no network and no key, through exactly the same
gateway code as a real model. The same prompt (template, values, seed) always gets the same
answer, and the output carries the model name wherever it is stored.
"""

from __future__ import annotations

import time

import litellm
from litellm import CustomLLM, ModelResponse
from litellm.llms.custom_llm import CustomLLMError

from xcoder_assets.llm.settings import OFFLINE_MODEL
from xcoder_assets.simulator.registry import SimulatorError, answer, template_of

PROVIDER = "xcoder-offline"


def respond(model: str, messages: list, optional_params: dict, template_id: str | None) -> ModelResponse:
    """One completion as litellm returns it."""
    started = time.monotonic()
    seed = optional_params.get("seed")
    if seed is None:
        seed = (optional_params.get("extra_body") or {}).get("seed")
    try:
        content, finish_reason = answer(template_id, messages, seed, optional_params.get("max_tokens"))
    except SimulatorError as exc:
        raise CustomLLMError(status_code=400, message=str(exc)) from None  # litellm: BadRequestError, not retried
    prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
    response = ModelResponse(
        model=f"{PROVIDER}/{model.split('/', 1)[-1]}",
        choices=[{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        usage={
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(content) // 4,
            "total_tokens": prompt_chars // 4 + len(content) // 4,
        },
    )
    response._hidden_params["response_cost"] = 0.0
    response._hidden_params["offline_latency_s"] = time.monotonic() - started
    return response


class OfflineSynthSmithLLM(CustomLLM):
    """litellm custom provider serving `xcoder-offline/<name>`."""

    @staticmethod
    def _template(kwargs: dict) -> str | None:
        return template_of(kwargs.get("headers"), (kwargs.get("litellm_params") or {}).get("metadata"))

    def completion(self, model, messages, *args, **kwargs) -> ModelResponse:
        return respond(model, messages, kwargs.get("optional_params") or {}, self._template(kwargs))

    async def acompletion(self, model, messages, *args, **kwargs) -> ModelResponse:
        return respond(model, messages, kwargs.get("optional_params") or {}, self._template(kwargs))


_registered = False


def register_offline_provider() -> str:
    """Plug the offline provider into litellm (idempotent); returns the default offline model name."""
    global _registered
    if not _registered:
        entries = [e for e in (litellm.custom_provider_map or []) if e.get("provider") != PROVIDER]
        litellm.custom_provider_map = entries + [{"provider": PROVIDER, "custom_handler": OfflineSynthSmithLLM()}]
        from litellm.utils import custom_llm_setup

        custom_llm_setup()
        _registered = True
    return OFFLINE_MODEL
