"""The gateway and the cache's claims (llm/cache.py Claims), over real HTTP against a fake server this test
starts: a request another process is sending (a second ResponseCache on the same file, under another
owner, stands in for it) is waited for and taken from the cache, not sent; one it gives back unanswered
is sent here. Two real processes racing, on SQLite and Postgres: store/test_shared_caches.py."""

import json
import threading
import time
import urllib.request

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
from xcoder_assets.llm.settings import GenerationParams, RoleSettings
from xcoder_assets.simulator import fake_server
from xcoder_assets.store.ids import content_hash


def _gateway(url: str, cache: ResponseCache) -> LLMGateway:
    settings = RoleSettings(
        "extract",
        "openai/fake-model",
        GenerationParams(temperature=0.7, top_p=0.95, max_tokens=64),
        api_base=url,
        api_key="k",
    )
    return LLMGateway({"extract": settings}, cache, GatewayConfig(max_in_flight=4, max_retries=1, request_timeout_s=10))


def _requests(n: int) -> list[LLMRequest]:
    return [LLMRequest.of("extract", [{"role": "user", "content": f"claims prompt {i}"}], "test@v1") for i in range(n)]


def test_requests_another_process_holds_are_waited_for_and_unanswered_ones_sent_here(tmp_path):
    path = tmp_path / "llm.sqlite"
    other, here = ResponseCache(path, owner="another process"), ResponseCache(path)
    with fake_server.running() as url:
        gateway = _gateway(url, here)
        requests = _requests(4)
        keys = [content_hash(gateway.request_body(r), 32) for r in requests]
        assert other.claims(keys[:3]).mine == set(keys[:3])  # the other process is sending the first three

        def other_finishes() -> None:
            time.sleep(0.5)
            for key in keys[:2]:
                other.put(key, "fake-model", "test@v1", {}, {"content": f"answer from elsewhere {key[:4]}"})
            other.store.release("llm", [keys[2]])  # the third failed there: given back unanswered

        thread = threading.Thread(target=other_finishes)
        thread.start()
        results = gateway.complete(requests)
        thread.join()
        with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
            stats = json.loads(response.read())
    assert [r.ok for r in results] == [True] * 4
    assert [r.content for r in results[:2]] == [f"answer from elsewhere {k[:4]}" for k in keys[:2]]
    assert [r.cache_hit for r in results] == [True, True, False, False]
    assert stats["requests"] == 2  # only the given-back one and the one nobody held reached the server
    assert len(here.get_many(keys)) == 4
    other.close()
    here.close()
