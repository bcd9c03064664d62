import asyncio

import httpx
import litellm
import pytest

from xcoder_assets.llm.gateway import LLMConfigError, LLMGateway, LLMRequest, check_role_settings, classify_error
from xcoder_assets.llm.settings import OFFLINE_MODEL, RECIPE_PARAMS, RoleSettings, role_settings
from xcoder_assets.simulator.provider import register_offline_provider
from xcoder_assets.simulator.registry import answer


def _response(status, headers=None):
    return httpx.Response(status, headers=headers or {}, request=httpx.Request("POST", "http://x"))


def test_classify_error():
    rate = litellm.RateLimitError(
        "slow down", llm_provider="openai", model="m", response=_response(429, {"retry-after": "3"})
    )
    assert classify_error(rate) == (True, "rate_limited: litellm.RateLimitError: slow down", 3.0)
    auth = litellm.AuthenticationError("bad key", llm_provider="openai", model="m")
    assert classify_error(auth)[0] is False
    assert classify_error(asyncio.TimeoutError())[0] is True
    server = litellm.InternalServerError("boom", llm_provider="openai", model="m")
    retryable, reason, _ = classify_error(server)
    assert retryable and reason.startswith("http_500")


def _llm_from_env(monkeypatch, env: dict[str, str]):
    """The llm resource as the definitions build it from the environment (defs/resources.build_resources)."""
    from xcoder_assets.defs.resources import build_resources

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return build_resources()["llm"].process_config_and_initialize()


def test_role_settings_precedence_from_the_environment(monkeypatch):
    env = {"XCODER_MODEL": "openai/a", "XCODER_MODEL_SOLVE": "openai/b", "XCODER_API_BASE": "http://h/v1"}
    llm = _llm_from_env(monkeypatch, env)
    assert llm.settings("extract").model == "openai/a"
    solve = llm.settings("solve")
    assert solve.model == "openai/b" and solve.api_base == "http://h/v1" and solve.params == RECIPE_PARAMS["solve"]
    monkeypatch.delenv("XCODER_MODEL"), monkeypatch.delenv("XCODER_MODEL_SOLVE")
    assert _llm_from_env(monkeypatch, {}).settings("compose").model == OFFLINE_MODEL
    assert RECIPE_PARAMS["compose"].as_dict() == {"temperature": 0.7, "top_p": 0.8, "max_tokens": 32768, "top_k": 20}
    with pytest.raises(ValueError, match="unknown LLM role 'judge'"):
        role_settings("judge")


def test_config_errors_name_role_model_and_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMConfigError, match=r"role 'extract': unknown model 'definitely-not-a-model'"):
        check_role_settings(RoleSettings("extract", "definitely-not-a-model", RECIPE_PARAMS["extract"]))
    with pytest.raises(LLMConfigError, match=r"role 'solve': model 'openai/gpt-4o' .* needs OPENAI_API_KEY"):
        check_role_settings(RoleSettings("solve", "openai/gpt-4o", RECIPE_PARAMS["solve"]))
    check_role_settings(RoleSettings("solve", "openai/gpt-4o", RECIPE_PARAMS["solve"], api_key="sk-x"))
    check_role_settings(RoleSettings("solve", "openai/local", RECIPE_PARAMS["solve"], api_base="http://127.0.0.1:1/v1"))


def test_offline_provider_is_a_litellm_provider():
    from xcoder_assets.recipe.prompts import load_template

    register_offline_provider()
    template = load_template("extract_features")
    messages = template.render(question="Sum two numbers a and b.", code="print(sum(map(int, input().split())))")
    response = litellm.completion(model=OFFLINE_MODEL, messages=messages, metadata={"prompt_template": template.id})
    assert (response.choices[0].message.content, response.choices[0].finish_reason) == answer(template.id, messages)
    assert response.model == OFFLINE_MODEL and response.usage.prompt_tokens >= 1
    # without the template's id (metadata or header) it does not guess from the prose: a 400, never retried
    with pytest.raises(litellm.BadRequestError, match="needs the template id"):
        litellm.completion(model=OFFLINE_MODEL, messages=messages)


def test_offline_provider_honours_max_tokens():
    from xcoder_assets.recipe.prompts import load_template

    template = load_template("extract_features")
    messages = template.render(question="Sum two numbers a and b.", code="print(sum(map(int, input().split())))")
    settings = RoleSettings("extract", OFFLINE_MODEL, RECIPE_PARAMS["extract"].__class__(0.7, 0.95, max_tokens=20))
    (result,) = LLMGateway({"extract": settings}).complete([LLMRequest.of("extract", messages, template.id)])
    assert result.truncated and result.finish_reason == "length" and result.completion_tokens <= 20


def test_the_gateway_needs_the_offline_simulator_registered_by_whoever_builds_it(monkeypatch):
    """The gateway knows no simulator: an offline role whose provider nobody registered is one clear error."""
    import litellm

    from xcoder_assets.llm.gateway import LLMConfigError, check_role_settings
    from xcoder_assets.llm.settings import role_settings

    offline = role_settings("extract")
    assert offline.is_offline
    check_role_settings(offline)  # the test session registered it (conftest), as the resources do
    monkeypatch.setattr(litellm, "custom_provider_map", [])
    with pytest.raises(LLMConfigError, match="not registered with litellm: call .*register_offline_provider"):
        check_role_settings(offline)


def test_a_collection_is_due_once_every_batch_of_its_asset_and_partition_is_done():
    from xcoder_assets.llm.batches import Collection, plan_collections

    def rec(batch_id, asset, run_id):
        return {"batch_id": batch_id, "provider_batch_id": f"p-{batch_id}", "asset": asset, "run_id": run_id}

    records = [
        rec("b2", "candidate_solutions", "run-1"),
        rec("b1", "candidate_solutions", "run-1"),
        rec("b3", "test_inputs", "run-2"),
        rec("b4", "features", None),
        rec("b5", "gone_asset", "run-1"),
        rec("b6", "problems", "run-elsewhere"),
    ]
    runs = {"run-1": "night-1", "run-2": "night-2"}
    kinds = {"candidate_solutions": True, "test_inputs": True, "features": False, "problems": True}
    statuses = {"b1": "completed", "b2": "expired", "b3": "in_progress", "b4": "failed", "b6": "completed"}
    plan = plan_collections(records, statuses, runs.get, kinds.get)
    assert plan.due == [
        Collection("candidate_solutions", "night-1", ("b1", "b2")),
        Collection("features", None, ("b4",)),
    ]
    assert plan.waiting == [
        "batch b5: asset 'gone_asset' is not in this code location",
        "batch b6: run run-elsewhere that submitted it is not in this instance; materialize problems for its batch "
        "to collect it",
        "test_inputs [night-2] waits for p-b3 in_progress",
    ]
    statuses["b2"] = "in_progress"  # one batch of the pair still running: nothing for that pair yet
    plan = plan_collections(records, statuses, runs.get, kinds.get)
    assert [c.asset for c in plan.due] == ["features"]
    assert "candidate_solutions [night-1] waits for p-b2 in_progress" in plan.waiting


def test_a_batch_role_on_a_provider_without_a_batch_api_is_one_error_before_any_call():
    no_batches = RoleSettings("solve", "deepseek/deepseek-chat", RECIPE_PARAMS["solve"], api_key="k", batch=True)
    with pytest.raises(
        LLMConfigError,
        match=r"role 'solve': model 'deepseek/deepseek-chat' \(provider deepseek\) has "
        r"no batch API the gateway can use .*unset XCODER_BATCH_SOLVE",
    ):
        check_role_settings(no_batches)
    for model in ("openai/gpt-5-mini", "anthropic/claude-sonnet-4-5", "hosted_vllm/qwen"):
        check_role_settings(RoleSettings("solve", model, RECIPE_PARAMS["solve"], api_key="k", batch=True))
